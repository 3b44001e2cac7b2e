"""Find a stack by name, started by ``tradingstack up`` or running in a cluster.

Looked for in this order:

1. ``--data-dir DIR``, or ``.tradingstack/NAME`` when it holds a ``stack.json``: a stack
   ``up`` runs on this machine (its loopback sentinels and password file are there); one
   that no ``up`` holds any more is reported as not running, without asking its Redis.
2. The cluster of the kubeconfig (``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``, or
   the pod's service account): the TradingStack ``NAME`` in ``--namespace`` (default: the
   context's namespace). Its Redis password comes from the stack's Secret; its sentinels
   are its Redis pods' stable hostnames, reachable where cluster DNS resolves (``kubectl
   exec`` into a pod of the namespace); ``--sentinel HOST:PORT`` replaces their
   addresses, and the master is reached at the address they announce (its hostname).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render.stack import Options, Stack, stack_from_manifest
from tradingstack_operator.spec import SpecError

from ..keys import Keys
from ..password import PasswordError, password_from_bytes, read_password
from ..runtime.sentinel import AgreeingSentinel
from ..up.registry import LocalStack, default_data_dir, held

#: Seconds per Redis connection attempt and command: a person is waiting.
TIMEOUT = 2.0


class NotFound(Exception):
    """No stack of that name where we looked; the message says where that was."""


class NotRunning(NotFound):
    """The stack's data dir is there, but no ``tradingstack up`` runs it."""


@dataclass
class StackRef:
    """A stack found by name, and how to reach its Redis."""

    stack: Stack
    where: str  # "up" or "cluster"
    sentinels: tuple[tuple[str, int], ...] = ()
    url: str | None = None
    master_name: str = "mymaster"
    password: str | None = None
    data_dir: Path | None = None
    #: The cluster's API client (kubernetes.client.ApiClient), for the cluster only.
    api: Any = None
    #: The TradingStack object as the API server holds it (cluster only).
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.stack.name

    @property
    def keys(self) -> Keys:
        return Keys(self.stack.spec.key_prefix)

    @property
    def replicas(self) -> int:
        """Replicas a kill-switch write waits for: one with Sentinel, none without."""
        return 1 if self.sentinels else 0

    def redis(self) -> redis.Redis:
        common: dict[str, Any] = {
            "password": self.password,
            "socket_timeout": TIMEOUT,
            "socket_connect_timeout": TIMEOUT,
            "decode_responses": True,
        }
        if self.sentinels:
            # Only a master enough sentinels agree on (a lone one's view may be old); one
            # sentinel given on the command line (--sentinel) is taken at its word.
            quorum = min(self.stack.spec.redis.sentinel.quorum, len(self.sentinels))
            sentinel = AgreeingSentinel(
                list(self.sentinels),
                quorum,
                sentinel_kwargs={key: common[key] for key in
                                 ("password", "socket_timeout", "socket_connect_timeout")},
            )  # fmt: skip
            client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
                self.master_name, **common
            )
            return client
        return redis.Redis.from_url(self.url or "redis://127.0.0.1:6379/0", **common)

    def describe(self) -> str:
        where = (
            f"up ({self.data_dir})" if self.where == "up" else f"namespace {self.stack.namespace}"
        )
        target = ", ".join(f"{h}:{p}" for h, p in self.sentinels) or str(self.url)
        return f"stack {self.name} in {where}, Redis via {target}"


def _local(name: str, data_dir: Path) -> StackRef:
    try:
        local = LocalStack.load(data_dir)
    except OSError:
        raise NotFound(
            f"{data_dir} holds no stack.json (is `tradingstack up` running there?)"
        ) from None
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    if local.name != name:
        raise NotFound(f"{data_dir} holds stack {local.name!r}, not {name!r}")
    if not held(data_dir):
        # Its Redis stopped with it: asking the sentinels would only time out.
        raise NotRunning(
            f"stack {name!r} is not running: no `tradingstack up` holds {data_dir}"
            f" (start it with `tradingstack up {local.manifest}`)"
        )
    try:
        stack = stack_from_manifest(load_manifest(local.manifest))
        password = read_password(Path(local.password_file))
    except (OSError, SpecError, AttributeError, PasswordError) as exc:
        raise NotFound(f"{data_dir}: cannot read the stack's manifest or password: {exc}") from None
    return StackRef(
        stack=stack, where="up", sentinels=local.sentinels, url=local.url,
        master_name=local.master_name, password=password, data_dir=data_dir,
    )  # fmt: skip


def _api_client(kubeconfig: str | None, context: str | None) -> tuple[Any, str]:
    """An ApiClient and the namespace of the kubeconfig's context (or the pod's)."""
    import kubernetes  # noqa: PLC0415 - only for a cluster

    try:
        _, active = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
        if context is not None:
            contexts, _ = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
            active = next((c for c in contexts if c["name"] == context), active)
        namespace = str((active or {}).get("context", {}).get("namespace") or "default")
        client = kubernetes.config.new_client_from_config(config_file=kubeconfig, context=context)
        return client, namespace
    except (kubernetes.config.ConfigException, OSError, TypeError) as kube_error:
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            raise NotFound(f"no kubeconfig to ask a cluster ({kube_error})") from None
        namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        return kubernetes.client.ApiClient(), namespace_file.read_text().strip()


def _cluster(name: str, namespace: str | None, kubeconfig: str | None, context: str | None,
             sentinels: Sequence[tuple[str, int]]) -> StackRef:  # fmt: skip
    from tradingstack_operator.kube import STACKS, ApiError, Kube  # noqa: PLC0415
    from tradingstack_operator.render import names  # noqa: PLC0415
    from tradingstack_operator.resources import resource_of  # noqa: PLC0415

    api, default_namespace = _api_client(kubeconfig, context)
    ns = namespace or default_namespace
    kube = Kube(api, timeout=10)
    try:
        body = kube.get(STACKS, ns, name)
    except ApiError as exc:
        raise NotFound(f"TradingStack {ns}/{name}: {exc}") from None
    except Exception as exc:  # urllib3 and socket errors: the API server is unreachable
        raise NotFound(f"TradingStack {ns}/{name}: API server unreachable ({exc})") from None
    if body is None:
        raise NotFound(f"no TradingStack {name!r} in namespace {ns!r}")
    body = {"apiVersion": STACKS.api_version, "kind": STACKS.kind} | body
    try:
        stack = stack_from_manifest(body, namespace=ns)
    except SpecError as exc:
        raise NotFound(f"TradingStack {ns}/{name} has an invalid spec: {exc}") from None
    spec = stack.spec
    secret_name = spec.redis.auth.existing_secret or names.redis_auth(name)
    try:
        secret = kube.get(resource_of({"apiVersion": "v1", "kind": "Secret"}), ns, secret_name)
    except ApiError as exc:
        raise NotFound(f"Secret {ns}/{secret_name} (the Redis password): {exc}") from None
    encoded = ((secret or {}).get("data") or {}).get(spec.redis.auth.key)
    try:
        password = password_from_bytes(base64.b64decode(encoded)) if encoded else None
    except (PasswordError, ValueError) as exc:
        raise NotFound(f"Secret {ns}/{secret_name} key {spec.redis.auth.key} {exc}") from None
    found = tuple(sentinels)
    url = None
    if not found and spec.redis.sentinel_enabled:
        domain = Options().cluster_domain
        found = tuple(
            (host, names.SENTINEL_PORT)
            for host in names.redis_pod_hosts(name, ns, spec.redis.replicas, domain)
        )
    elif not found:
        host = names.redis_service_host(name, ns, Options().cluster_domain)
        url = f"redis://{host}:{names.REDIS_PORT}/0"
    return StackRef(stack=stack, where="cluster", sentinels=found, url=url,
                    master_name=names.MASTER_NAME, password=password, api=api,
                    body=body)  # fmt: skip


def locate(
    name: str,
    *,
    data_dir: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    sentinels: Sequence[tuple[str, int]] = (),
) -> StackRef:
    """The stack ``name`` (see the module docstring for where it is looked for)."""
    if data_dir is not None:
        return _local(name, Path(data_dir))
    local_dir = default_data_dir(name)
    if (local_dir / "stack.json").exists():
        try:
            return _local(name, local_dir)
        except NotRunning:
            if namespace is None and kubeconfig is None:
                raise
    try:
        return _cluster(name, namespace, kubeconfig, context, sentinels)
    except NotFound as exc:
        raise NotFound(
            f"no stack {name!r}: not in {local_dir} (tradingstack up) and not in the cluster: {exc}"
        ) from None


def parse_sentinel(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of a sentinel; ValueError saying what is wrong."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (a port in 1..65535)")
    return host, int(port)
