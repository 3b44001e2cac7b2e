"""Password rotation of a running stack's Redis, without a window of refused logins.

Redis reads passwords at start and the workers read theirs at start, so a changed Secret
reaches them at different times. During the rollover every server and sentinel accepts
both passwords of each user (an ACL user may hold several), as the one-Secret-per-user
ACL allows and ``requirepass`` never did:

1. *begin*: every server and sentinel accepts the new password beside the old ones
   (``ACL SETUSER user #sha256``); a node that restarted meanwhile (its ACL built from
   the new Secret only) gets the old ones back from its peers, so a worker still on the
   old password is not refused by whichever pod is master;
2. *switch*: once every node accepts the new passwords, replicas authenticate with the
   new replication password (``CONFIG SET masterauth``) and sentinels with the new
   sentinel password (``SENTINEL SET auth-pass``, ``SENTINEL CONFIG SET sentinel-pass``);
   the workers' Deployments roll (:func:`secret_checksum` in their pod annotations);
3. *finish*: once every worker runs with the new password, the old ones are removed
   (``ACL SETUSER user !sha256``).

Everything here is pure: :func:`plan` takes what each node holds and returns commands.
The shell that asks and sends is ``tradingstack_operator.rotation``. Bitnami's chart rolls
every pod on a Secret change (``checksum/secret``), which restarts Redis and fails over;
here only the workers roll, Redis takes the change live.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..render import names
from .status import component

#: The admin, as Redis names it.
ADMIN = "default"
#: The user replicas authenticate to their master as (redis_sh/redis.sh).
REPLICATION = "replication"
#: The user sentinels authenticate to servers and to each other as.
SENTINEL = "sentinel"
#: Users rolled over live. The exporter is not: it reads its password from its container's
#: environment, which changes only with its pod, and only ever logs in to its own pod's
#: server, which builds its ACL from the same Secret when that pod starts.
LIVE_USERS = (ADMIN, REPLICATION, SENTINEL, "worker")
#: The worker and bot pod annotation that rolls them onto a new ``worker`` password.
CREDENTIALS = "tradingstack.io/redis-credentials"
Manifest = dict[str, Any]


def password_hash(password: str) -> str:
    """The ACL form of a password: its sha256 in hex (``#`` + this adds it)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def secret_checksum(passwords: Mapping[str, str]) -> str:
    """A pod annotation's value that changes whenever one of ``passwords`` does."""
    text = "\n".join(f"{user}={password_hash(pw)}" for user, pw in sorted(passwords.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class NodeAuth:
    """What one server or sentinel holds: each user's accepted password hashes, and the
    password it logs in with itself (a server's ``masterauth``, a sentinel's
    ``sentinel-pass``)."""

    host: str
    sentinel: bool
    accepted: Mapping[str, frozenset[str]]
    logs_in_with: str | None


@dataclass(frozen=True)
class Command:
    host: str
    sentinel: bool
    args: tuple[str, ...]

    def __str__(self) -> str:
        # Never a password in a log line: the command and its user only.
        return f"{self.host}{':sentinel' if self.sentinel else ''} {' '.join(self.args[:3])}"


@dataclass(frozen=True)
class Plan:
    """The commands of one pass, and where the rollover stands."""

    commands: tuple[Command, ...]
    #: Every node accepts every new password and logs in with it.
    switched: bool
    #: Nothing but the new passwords is accepted anywhere: the rollover is over.
    done: bool


def _login(node: NodeAuth, passwords: Mapping[str, str]) -> tuple[tuple[str, ...], ...]:
    """The commands that make ``node`` log in with its new password, when it does not."""
    if node.sentinel:
        new = passwords[SENTINEL]
        if node.logs_in_with == new:
            return ()
        return (
            ("SENTINEL", "SET", names.MASTER_NAME, "auth-pass", new),
            ("SENTINEL", "CONFIG", "SET", "sentinel-pass", new),
        )
    new = passwords[REPLICATION]
    return () if node.logs_in_with == new else (("CONFIG", "SET", "masterauth", new),)


def plan(nodes: Sequence[NodeAuth], passwords: Mapping[str, str], *, workers_rolled: bool) -> Plan:
    """The next commands of the rollover to ``passwords`` (user -> new password).

    ``nodes`` are the servers and sentinels that answered; a node that did not answer is
    left out, and the caller must not finish while one is missing (its old passwords
    would come back with it). ``workers_rolled``: every worker pod runs with the new
    passwords, so the old ones may go.
    """
    wanted = {user: password_hash(pw) for user, pw in passwords.items()}
    # Before the finish, every node accepts what any node accepts (a restarted node has
    # only the new passwords; the old ones come back from its peers).
    union: dict[str, set[str]] = {}
    for node in nodes:
        for user, hashes in node.accepted.items():
            union.setdefault(user, set()).update(hashes)
    accepts_new = all(
        wanted[user] in hashes
        for node in nodes
        for user, hashes in node.accepted.items()
        if user in wanted
    )
    logs_in = all(not _login(node, passwords) for node in nodes)
    finishing = accepts_new and logs_in and workers_rolled
    commands: list[Command] = []
    for node in nodes:
        for user, hashes in sorted(node.accepted.items()):
            if user not in wanted:
                continue
            keep = {wanted[user]} if finishing else union[user] | {wanted[user]}
            rules = [f"#{h}" for h in sorted(keep - hashes)]
            rules += [f"!{h}" for h in sorted(hashes - keep)]
            if rules:
                commands.append(Command(node.host, node.sentinel, ("ACL", "SETUSER", user, *rules)))
        if accepts_new:
            commands += [Command(node.host, node.sentinel, a) for a in _login(node, passwords)]
    done = logs_in and all(
        hashes == {wanted[user]}
        for node in nodes
        for user, hashes in node.accepted.items()
        if user in wanted
    )
    # Nobody answered: nothing is known to take the new passwords.
    switched = bool(nodes) and accepts_new and logs_in
    return Plan(tuple(commands), switched=switched, done=bool(nodes) and done)


def _users_pods(manifest: Manifest, users_secret: str) -> Manifest | None:
    """The pod template of a Deployment whose pods mount ``users_secret``, else None."""
    if manifest.get("kind") != "Deployment":
        return None
    template: Manifest = manifest["spec"]["template"]
    volumes = template["spec"].get("volumes") or []
    if any((v.get("secret") or {}).get("secretName") == users_secret for v in volumes):
        return template
    return None


def stamped(children: Sequence[Manifest], users_secret: str) -> str | None:
    """The credentials checksum the running workers' Deployments carry (the most common
    one; None when none carries one, as for a new stack)."""
    found = Counter(
        (t.get("metadata") or {}).get("annotations", {}).get(CREDENTIALS)
        for m in children
        if (t := _users_pods(m, users_secret)) is not None
    )
    found.pop(None, None)
    return found.most_common(1)[0][0] if found else None


def stamp(desired: Sequence[Manifest], users_secret: str, checksum: str | None) -> list[Manifest]:
    """``desired`` with ``checksum`` on every worker and bot pod template (copies; a None
    checksum stamps nothing). Changing it rolls those Deployments."""
    out = []
    for manifest in desired:
        if checksum is None or _users_pods(manifest, users_secret) is None:
            out.append(manifest)
            continue
        copied = copy.deepcopy(manifest)
        template = copied["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("annotations", {})[CREDENTIALS] = checksum
        out.append(copied)
    return out


def workers_rolled(children: Sequence[Manifest], users_secret: str, checksum: str) -> bool:
    """Every worker and bot Deployment carries ``checksum`` and has no pod of an older
    template left (its controller saw the change, every replica is updated)."""
    for manifest in children:
        template = _users_pods(manifest, users_secret)
        if template is None:
            continue
        if (template.get("metadata") or {}).get("annotations", {}).get(CREDENTIALS) != checksum:
            return False
        if component(manifest).progressing:
            return False
    return True


def to_stamp(observed: str | None, current: str, switched: bool) -> str:
    """The checksum the workers get: the new one once Redis takes the new passwords (a
    worker rolled earlier would be refused), else the one they already run with."""
    return current if switched or observed is None else observed
