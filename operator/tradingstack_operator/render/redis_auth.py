"""The Secrets the operator generates for Redis: created once, never rewritten.

A rewritten password would lock every client out, so the reconciler creates each of
these when it is missing and otherwise leaves it alone; they go with the stack through
their owner reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import TradingStackSpec
from . import names
from .redis_scripts import USERS


@dataclass(frozen=True)
class GeneratedSecret:
    """A Secret of random passwords, one per key."""

    name: str
    keys: tuple[str, ...]
    component: str


def generated_secrets(stack: str, spec: TradingStackSpec) -> list[GeneratedSecret]:
    """The admin password (unless ``spec.redis.auth`` names a Secret) and the users' ones."""
    out = [GeneratedSecret(names.redis_users(stack), USERS, "redis-users")]
    if spec.redis.auth.existing_secret is None:
        admin = GeneratedSecret(names.redis_auth(stack), (spec.redis.auth.key,), "redis-auth")
        out.insert(0, admin)
    return out
