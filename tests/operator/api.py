"""A thin async HTTP helper for tests that talk to the emulator directly (not through kopf)."""

from __future__ import annotations

import json
from typing import Any

from tests.operator.emulator import APPLY, Emulator

MERGE = "application/merge-patch+json"


def path(
    resource: str, namespace: str | None = None, name: str | None = None, sub: str | None = None
) -> str:
    """URL path of a resource given as "v1/configmaps" or "apps/v1/deployments"."""
    parts = resource.split("/")
    root = f"/api/{parts[0]}" if len(parts) == 2 else f"/apis/{parts[0]}/{parts[1]}"
    where = f"/namespaces/{namespace}" if namespace else ""
    tail = "".join(f"/{p}" for p in (name, sub) if p)
    return f"{root}{where}/{parts[-1]}{tail}"


async def call(
    emulator: Emulator,
    method: str,
    url: str,
    body: Any = None,
    content_type: str = "application/json",
    **params: str,
) -> tuple[int, dict[str, Any]]:
    """One request; returns (HTTP status, decoded JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if data is not None else {}
    async with emulator.request(method, url, data=data, headers=headers, params=params) as response:
        return response.status, await response.json()


async def apply(
    emulator: Emulator, url: str, body: dict[str, Any], manager: str, force: bool = False
) -> tuple[int, dict[str, Any]]:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return await call(emulator, "PATCH", url, body, APPLY, **params)


async def merge(
    emulator: Emulator, url: str, patch: dict[str, Any], **params: str
) -> tuple[int, dict[str, Any]]:
    return await call(emulator, "PATCH", url, patch, MERGE, **params)
