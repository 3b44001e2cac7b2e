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

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import names

#: The admin, as Redis names it.
ADMIN = "default"
#: The user replicas authenticate to their master as (redis_sh/redis.sh).
REPLICATION = "replication"
#: The user sentinels authenticate to servers and to each other as.
SENTINEL = "sentinel"


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
    return Plan(tuple(commands), switched=accepts_new and logs_in, done=done)
