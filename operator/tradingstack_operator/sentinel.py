"""Ask the stack's sentinels which Redis pod is master. Sentinel decides; we only report."""

from __future__ import annotations

import base64
import logging

import redis
from redis.sentinel import Sentinel

from .kube import Kube
from .render import names
from .render.stack import Options
from .resources import resource_of
from .spec import TradingStackSpec

log = logging.getLogger(__name__)

#: A status probe must not hold up reconciliation when sentinels are unreachable.
PROBE_TIMEOUT = 0.5


def stack_password(kube: Kube, stack: str, namespace: str, spec: TradingStackSpec) -> str | None:
    secret_name = spec.redis.auth.existing_secret or names.redis_auth(stack)
    secret = kube.get(resource_of({"apiVersion": "v1", "kind": "Secret"}), namespace, secret_name)
    encoded = ((secret or {}).get("data") or {}).get(spec.redis.auth.key)
    return base64.b64decode(encoded).decode() if encoded else None


def sentinel_master(
    kube: Kube, stack: str, namespace: str, spec: TradingStackSpec, options: Options | None = None
) -> str | None:
    """``host:port`` of the master as the sentinels report it, or None when none answers."""
    domain = (options or Options()).cluster_domain
    hosts = [
        (names.redis_pod_host(stack, namespace, i, domain), names.SENTINEL_PORT)
        for i in range(spec.redis.replicas)
    ]
    password = stack_password(kube, stack, namespace, spec)
    sentinel = Sentinel(
        hosts,
        sentinel_kwargs={
            "password": password,
            "socket_timeout": PROBE_TIMEOUT,
            "socket_connect_timeout": PROBE_TIMEOUT,
        },
    )
    try:
        host, port = sentinel.discover_master(names.MASTER_NAME)
    except redis.RedisError as exc:
        log.info("no master from sentinel", extra={"stack": stack, "error": str(exc)})
        return None
    return f"{host}:{port}"
