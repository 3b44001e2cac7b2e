"""Search outputs for a planted secret: every place it turns up, named."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import redis


def planted(label: str) -> str:
    """A secret no output could hold by chance, with a label saying where it was planted."""
    return f"planted-{label}-{secrets.token_hex(12)}"


def forms(secret: str) -> list[str]:
    """The secret as an output could carry it: plain, or base64 (a Secret's ``data``)."""
    return [secret, base64.b64encode(secret.encode()).decode()]


def found_in(outputs: Mapping[str, str], secret_values: Iterable[str]) -> list[str]:
    """``where: secret`` for every output holding any form of any of ``secret_values``."""
    hits = []
    for secret in secret_values:
        for where, text in outputs.items():
            if any(form in text for form in forms(secret)):
                hits.append(f"{where}: {secret}")
    return hits


def redis_dump(client: redis.Redis) -> dict[str, str]:
    """Every key's name and value, as text: strings, hashes, sets, sorted sets, streams."""
    out: dict[str, str] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        else:
            value = kind
        out[f"redis key {key}"] = f"{key} {value}"
    return out
