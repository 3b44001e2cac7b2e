"""The password rollover's plan (reconcile/rotation.py): both passwords accepted
until every worker rolled, logins switched only once every node accepts the new ones."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tradingstack_operator.reconcile.rotation import (
    CREDENTIALS,
    NodeAuth,
    Plan,
    password_hash,
    plan,
    secret_checksum,
    stamp,
    stamped,
    to_stamp,
    workers_rolled,
)
from tradingstack_operator.render import Stack, names, render
from tradingstack_operator.spec import parse_spec

OLD = {"default": "old-admin", "replication": "old-repl", "sentinel": "old-sent", "worker": "old-w"}
NEW = {"default": "new-admin", "replication": "new-repl", "sentinel": "new-sent", "worker": "new-w"}
SERVER_USERS = ("default", "replication", "sentinel", "worker")
SENTINEL_USERS = ("default", "sentinel", "worker")
USERS_SECRET = names.redis_users("paper")


def _node(host: str, sentinel: bool, accepted: Mapping[str, set[str]], login: str) -> NodeAuth:
    return NodeAuth(host, sentinel, {u: frozenset(h) for u, h in accepted.items()}, login)


def _fresh(host: str, sentinel: bool, passwords: Mapping[str, str]) -> NodeAuth:
    users = SENTINEL_USERS if sentinel else SERVER_USERS
    login = passwords["sentinel" if sentinel else "replication"]
    return _node(host, sentinel, {u: {password_hash(passwords[u])} for u in users}, login)


def _apply(nodes: list[NodeAuth], step: Plan) -> list[NodeAuth]:
    """What the nodes hold after the plan's commands (as Redis would apply them)."""
    out = []
    for node in nodes:
        accepted = {u: set(h) for u, h in node.accepted.items()}
        login = node.logs_in_with
        for command in (
            c for c in step.commands if (c.host, c.sentinel) == (node.host, node.sentinel)
        ):
            args = command.args
            if args[:2] == ("ACL", "SETUSER"):
                for rule in args[3:]:
                    (accepted[args[2]].add if rule[0] == "#" else accepted[args[2]].discard)(
                        rule[1:]
                    )
            elif args[:3] == ("CONFIG", "SET", "masterauth"):
                login = args[3]
            elif args[:4] == ("SENTINEL", "CONFIG", "SET", "sentinel-pass"):
                login = args[4]
        out.append(_node(node.host, node.sentinel, accepted, login or ""))
    return out


def _set(passwords: Mapping[str, str]) -> list[NodeAuth]:
    return [_fresh(f"r{i}", s, passwords) for i in range(3) for s in (False, True)]


def test_no_answer_is_no_switch() -> None:
    assert plan([], NEW, workers_rolled=True) == Plan((), switched=False, done=False)


def test_a_settled_set_needs_no_command() -> None:
    step = plan(_set(NEW), NEW, workers_rolled=True)
    assert step == Plan((), switched=True, done=True)


def test_the_rollover_accepts_both_until_the_workers_rolled_then_only_the_new() -> None:
    nodes = _set(OLD)
    first = plan(nodes, NEW, workers_rolled=False)
    # Begin: the new passwords are added, nobody logs in with them yet, nothing removed.
    assert first.commands
    assert not first.switched
    assert all(c.args[:2] == ("ACL", "SETUSER") for c in first.commands)
    assert not any(r.startswith("!") for c in first.commands for r in c.args[3:])
    nodes = _apply(nodes, first)
    second = plan(nodes, NEW, workers_rolled=False)
    logins = {c.args[:4] for c in second.commands}
    assert ("CONFIG", "SET", "masterauth", "new-repl") in logins
    assert ("SENTINEL", "CONFIG", "SET", "sentinel-pass") in logins
    nodes = _apply(nodes, second)
    waiting = plan(nodes, NEW, workers_rolled=False)
    assert waiting == Plan((), switched=True, done=False)  # both accepted until the roll
    for node in nodes:
        for user, hashes in node.accepted.items():
            assert hashes == {password_hash(OLD[user]), password_hash(NEW[user])}
    finish = plan(nodes, NEW, workers_rolled=True)
    assert all(r.startswith("!") for c in finish.commands for r in c.args[3:])
    nodes = _apply(nodes, finish)
    assert plan(nodes, NEW, workers_rolled=True) == Plan((), switched=True, done=True)
    for node in nodes:
        assert all(h == {password_hash(NEW[u])} for u, h in node.accepted.items())


def test_a_node_that_restarted_mid_rollover_gets_the_old_passwords_back_from_its_peers() -> None:
    nodes = _set(OLD)
    nodes = _apply(nodes, plan(nodes, NEW, workers_rolled=False))
    nodes[0] = _fresh("r0", False, NEW)  # restarted with the new Secret only
    step = plan(nodes, NEW, workers_rolled=False)
    readd = [c for c in step.commands if c.host == "r0" and not c.sentinel]
    assert {c.args[2] for c in readd} == set(SERVER_USERS)
    assert all(c.args[3:] == (f"#{password_hash(OLD[c.args[2]])}",) for c in readd)


def test_no_login_switches_while_a_node_lacks_the_new_password() -> None:
    nodes = _set(OLD)
    step = plan(nodes, NEW, workers_rolled=True)  # even with the workers rolled
    assert not any(c.args[0] in ("CONFIG", "SENTINEL") for c in step.commands)
    assert not any(r.startswith("!") for c in step.commands for r in c.args[3:])


def test_the_checksum_follows_every_password_and_never_shows_one() -> None:
    assert secret_checksum(NEW) == secret_checksum(dict(reversed(NEW.items())))
    assert secret_checksum(NEW) != secret_checksum(NEW | {"worker": "other"})
    assert all(p not in secret_checksum(NEW) for p in NEW.values())


def test_a_command_prints_without_its_password() -> None:
    nodes = _apply(_set(OLD), plan(_set(OLD), NEW, workers_rolled=False))
    for command in plan(nodes, NEW, workers_rolled=False).commands:
        assert all(p not in str(command) for p in NEW.values())


def _rendered() -> list[dict[str, Any]]:
    bot = {"name": "b1", "strategy": "breakout_momentum", "symbols": ["BTCUSDT"]}
    spec = parse_spec({"symbols": ["BTCUSDT"], "bots": [bot]})
    return render(Stack(name="paper", namespace="desk", spec=spec))


def _deployments(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == "Deployment"]


def _rolled_out(manifest: dict[str, Any], **status: int) -> dict[str, Any]:
    replicas = manifest["spec"].get("replicas", 1)
    done = {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas}
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["generation"] = 3
    manifest["status"] = done | status
    return manifest


def test_every_worker_and_bot_pod_carries_the_checksum_and_nothing_else_changes() -> None:
    rendered = _rendered()
    stamped_ones = stamp(rendered, USERS_SECRET, "abc")
    deployments = _deployments(stamped_ones)
    assert deployments  # workers and the bot
    for manifest in deployments:
        assert manifest["spec"]["template"]["metadata"]["annotations"][CREDENTIALS] == "abc"
    assert [m for m in stamped_ones if m["kind"] != "Deployment"] == [
        m for m in rendered if m["kind"] != "Deployment"
    ]
    assert all(CREDENTIALS not in str(m) for m in rendered)  # copies: the input is untouched
    assert stamp(rendered, USERS_SECRET, None) == rendered
    assert stamped(stamped_ones, USERS_SECRET) == "abc"
    assert stamped(rendered, USERS_SECRET) is None


def test_the_workers_count_as_rolled_only_when_every_pod_runs_the_new_template() -> None:
    deployments = [_rolled_out(m) for m in _deployments(stamp(_rendered(), USERS_SECRET, "new"))]
    assert workers_rolled(deployments, USERS_SECRET, "new")
    assert not workers_rolled(deployments, USERS_SECRET, "newer")
    surge = [_rolled_out(deployments[0], replicas=deployments[0]["spec"]["replicas"] + 1)]
    assert not workers_rolled(surge + deployments[1:], USERS_SECRET, "new")  # an old pod left
    behind = [_rolled_out(deployments[0], updatedReplicas=0)]
    assert not workers_rolled(behind + deployments[1:], USERS_SECRET, "new")
    unseen = [_rolled_out(deployments[0], observedGeneration=2)]
    assert not workers_rolled(unseen + deployments[1:], USERS_SECRET, "new")


def test_the_workers_move_to_the_new_checksum_only_once_redis_takes_it() -> None:
    assert to_stamp("old", "new", switched=False) == "old"
    assert to_stamp("old", "new", switched=True) == "new"
    assert to_stamp(None, "new", switched=False) == "new"  # a new stack starts on it
