"""The rendered Redis StatefulSet run as pods on a pod network (podnet.py + kubelet.py).

What the operator would apply is rendered from a real TradingStack; its Secrets are
generated as the reconciler generates them (``generated_secrets``). The StatefulSet
controller's part is here: create every pod at once (``Parallel``), recreate a deleted
pod with the same name and claim (or a new empty claim), and roll pods in reverse
ordinal, each ready for ``minReadySeconds`` before the next. The test process reaches
pods by address through the bridge; clients inside the network use FQDNs.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness.certs import tls_secret
from tests.harness.kubelet import Image, Manifest, Pod
from tests.harness.podnet import PodNetwork
from tests.harness.tools import tool
from tradingstack_operator.render import Stack, names, render
from tradingstack_operator.render.redis_auth import generated_secrets
from tradingstack_operator.render.stack import DEFAULT_EXPORTER_IMAGE

log = logging.getLogger(__name__)

#: Containers whose program is on this machine: redis-server and redis-sentinel from the
#: system, the exporter's from scripts/tools.sh (the same version as its rendered image).
RUNNABLE = ("redis", "sentinel", "metrics")
#: How long a new pod's name takes to resolve (endpoints controller, DNS), in seconds.
DNS_DELAY = 1.0


@cache
def exporter_image() -> Image:
    """DEFAULT_EXPORTER_IMAGE on this machine: the redis_exporter scripts/tools.sh built, at
    the image's ENTRYPOINT /redis_exporter (its Dockerfile). The test fails unless the
    program is the tag's version: what the pod tier runs is what the renderer names."""
    program = tool("redis_exporter")
    tag = DEFAULT_EXPORTER_IMAGE.rpartition(":")[2]
    said = subprocess.run([program, "-version"], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    version = (said.stdout + said.stderr).strip()
    if f"Redis Metrics Exporter {tag} " not in version:
        pytest.fail(f"{program} is not {tag}, the tag of {DEFAULT_EXPORTER_IMAGE}: make the "
                    "require line of scripts/redis-exporter/go.mod that version, then run "
                    f"bash scripts/tools.sh (it says: {version[-300:]})")  # fmt: skip
    return Image("/redis_exporter", Path(program))


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """The first truthy value of ``condition()``; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Secrets:
    """The Secrets the pods mount: name -> key -> value."""

    data: dict[str, dict[str, str]]

    @classmethod
    def generate(cls, stack: Stack) -> Secrets:
        return cls({
            generated.name: {key: secrets.token_urlsafe(32) for key in generated.keys}
            for generated in generated_secrets(stack.name, stack.spec)
        })  # fmt: skip

    def value(self, name: str, key: str) -> str:
        return self.data[name][key]


class RedisSet:
    """The Redis pods of one stack: create, kill, restart, delete, roll, cut off, heal."""

    def __init__(self, stack: Stack, net: PodNetwork, workdir: Path) -> None:
        self.stack = stack
        self.net = net
        self.workdir = workdir
        manifests = render(stack)
        self.sts = next(m for m in manifests if m["kind"] == "StatefulSet")
        self.config_maps = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ConfigMap"}
        self.secrets = Secrets.generate(stack)
        tls = stack.spec.redis.tls
        if tls.enabled and tls.secret_name is not None:
            headless = names.redis_headless(stack.name)
            domain = f"{headless}.{stack.namespace}.svc.{stack.options.cluster_domain}"
            self.secrets.data[tls.secret_name] = tls_secret(workdir / "tls", [f"*.{domain}"])
        self.replicas = int(self.sts["spec"]["replicas"])
        # An exporter image the spec names instead has no program here: its container is
        # left out.
        self.images = {DEFAULT_EXPORTER_IMAGE: exporter_image()}
        self.runnable = [
            c["name"] for c in self.sts["spec"]["template"]["spec"]["containers"]
            if c["name"] in RUNNABLE and ("command" in c or c["image"] in self.images)
        ]  # fmt: skip
        self.pods: dict[int, Pod] = {}
        self.gone: list[Pod] = []  # deleted pods, for their events
        self.admin_password = self.secrets.value(
            names.redis_auth(stack.name), stack.spec.redis.auth.key
        )

    # --- names --------------------------------------------------------------------------

    def pod_name(self, ordinal: int) -> str:
        return f"{names.redis(self.stack.name)}-{ordinal}"

    def fqdn(self, ordinal: int) -> str:
        return names.redis_pod_host(
            self.stack.name, self.stack.namespace, ordinal, self.stack.options.cluster_domain
        )

    def ordinal_of(self, host: str | None) -> int | None:
        for ordinal in range(self.replicas):
            if host == self.fqdn(ordinal):
                return ordinal
        return None

    def address(self, ordinal: int) -> str:
        return self.net.hosts[f"r{ordinal}"].address

    def exporter_url(self, ordinal: int) -> str:
        """Where Prometheus scrapes the pod's exporter (the PodMonitor's ``metrics`` port)."""
        return f"http://{self.address(ordinal)}:{names.REDIS_METRICS_PORT}/metrics"

    # --- volumes ------------------------------------------------------------------------

    def claim(self, ordinal: int) -> Path:
        """The pod's PersistentVolumeClaim: a directory that outlives the pod."""
        return self.workdir / "claims" / f"data-{self.pod_name(ordinal)}"

    def _volumes(self, ordinal: int, folder: Path) -> dict[str, Path]:
        pod = self.sts["spec"]["template"]["spec"]
        group = int(pod["securityContext"]["fsGroup"])
        out: dict[str, Path] = {}
        for volume in pod["volumes"]:
            path = folder / "volumes" / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                source = volume["configMap"]
                data = self.config_maps[source["name"]]["data"]
                for key, text in data.items():
                    (path / key).write_text(text, encoding="utf-8")
                    os.chmod(path / key, source.get("defaultMode", 0o644))
            elif "secret" in volume:
                self._write_secret(path, volume["secret"], group)
            elif "emptyDir" in volume:
                os.chmod(path, 0o777)
            out[volume["name"]] = path
        for template in self.sts["spec"]["volumeClaimTemplates"]:
            claim = self.claim(ordinal)
            claim.mkdir(parents=True, exist_ok=True)
            os.chown(claim, group, group)
            os.chmod(claim, 0o770)
            out[template["metadata"]["name"]] = claim
        return out

    def _write_secret(self, path: Path, source: Manifest, group: int) -> None:
        """A Secret volume's files, each replaced at once (the kubelet swaps a symlink)."""
        data = self.secrets.data.get(source["secretName"], {})
        for item in source.get("items", [{"key": k, "path": k} for k in data]):
            target = path / item["path"]
            fresh = target.with_name(f".{target.name}.new")
            fresh.write_text(data[item["key"]], encoding="utf-8")
            os.chown(fresh, 0, group)
            os.chmod(fresh, source.get("defaultMode", 0o644))
            fresh.replace(target)

    def update_secret(self, name: str, values: dict[str, str]) -> None:
        """A person changes Secret ``name``; the kubelet then rewrites it in every running
        pod that mounts it (new and restarted pods read the new values from the start)."""
        self.secrets.data[name] = dict(values)
        pod_spec = self.sts["spec"]["template"]["spec"]
        group = int(pod_spec["securityContext"]["fsGroup"])
        for pod in self.pods.values():
            for volume in pod_spec["volumes"]:
                if volume.get("secret", {}).get("secretName") == name:
                    self._write_secret(pod.volumes[volume["name"]], volume["secret"], group)

    def _env(self, ordinal: int) -> Callable[[Manifest], dict[str, str]]:
        def resolve(container: Manifest) -> dict[str, str]:
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOSTNAME": self.pod_name(ordinal)}
            for entry in container.get("env", []):
                source = entry.get("valueFrom")
                if source is None:
                    env[entry["name"]] = entry["value"]
                elif "fieldRef" in source:
                    field = source["fieldRef"]["fieldPath"]
                    env[entry["name"]] = {
                        "metadata.name": self.pod_name(ordinal),
                        "metadata.namespace": self.stack.namespace,
                    }[field]
                elif "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    env[entry["name"]] = self.secrets.value(ref["name"], ref["key"])
            return env

        return resolve

    # --- the StatefulSet controller -----------------------------------------------------

    def create(self, ordinal: int) -> Pod:
        """A new pod for ``ordinal``: a new address and emptyDirs, the claim as it is."""
        folder = self.workdir / "pods" / f"{self.pod_name(ordinal)}-{time.monotonic_ns()}"
        self.net.add(f"r{ordinal}", self.fqdn(ordinal), dns_delay=DNS_DELAY)
        pod = Pod(
            self.pod_name(ordinal),
            self.sts["spec"]["template"]["spec"],
            net=self.net,
            host=f"r{ordinal}",
            workdir=folder,
            volumes=self._volumes(ordinal, folder),
            env=self._env(ordinal),
            only=self.runnable,
            images=self.images,
        )
        self.pods[ordinal] = pod
        return pod.start()

    def start(self) -> RedisSet:
        for ordinal in range(self.replicas):
            self.create(ordinal)
        return self

    def kill(self, ordinal: int) -> None:
        """kill -9 of the pod's processes (a node crash); the pod stays until restarted."""
        self.pods[ordinal].kill()

    def restart(self, ordinal: int) -> None:
        """What the kubelet does for a pod whose processes died: same name, volumes, IP."""
        self.pods[ordinal].start()

    def delete(self, ordinal: int, *, graceful: bool = True, keep_claim: bool = True) -> float:
        """The pod goes (preStop, SIGTERM, SIGKILL; or at once); seconds it took."""
        pod = self.pods.pop(ordinal)
        self.gone.append(pod)
        took = 0.0
        if graceful:
            took = pod.terminate()
        else:
            pod.kill()
        self.net.remove(f"r{ordinal}")
        if not keep_claim:
            shutil.rmtree(self.claim(ordinal))
        return took

    def cut(self, ordinal: int) -> None:
        self.net.cut(f"r{ordinal}")

    def heal(self, ordinal: int) -> None:
        self.net.heal(f"r{ordinal}")

    def roll(self, *, timeout: float = 180.0, on_pod: Callable[[int], None] | None = None) -> None:
        """A rolling update: highest ordinal first, each ready for minReadySeconds."""
        settle = float(self.sts["spec"].get("minReadySeconds", 0))
        for ordinal in reversed(range(self.replicas)):
            self.delete(ordinal)
            pod = self.create(ordinal)
            wait_until(lambda: pod.ready, timeout, f"{pod.name} ready after the roll")  # noqa: B023
            ready_since = time.monotonic()
            while time.monotonic() - ready_since < settle:
                if not pod.ready:
                    ready_since = time.monotonic()
                time.sleep(0.2)
            if on_pod is not None:
                on_pod(ordinal)

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(lambda: len(self.pods) == self.replicas
                   and all(p.ready for p in self.pods.values()),
                   timeout, "every Redis pod ready")  # fmt: skip

    def close(self) -> None:
        for pod in self.pods.values():
            pod.kill()
        self.pods.clear()

    # --- looking at the pods from outside -----------------------------------------------

    @property
    def tls_ca(self) -> Path | None:
        """The CA file clients verify the pods with (TLS stacks only)."""
        tls = self.stack.spec.redis.tls
        return self.workdir / "tls" / "ca.crt" if tls.enabled else None

    def client(
        self, ordinal: int, port: int = names.REDIS_PORT, timeout: float = 1.0
    ) -> redis.Redis:
        """The admin's connection to a pod's server or sentinel, through the bridge."""
        tls: dict[str, Any] = {}
        if self.tls_ca is not None:
            # Reached by address from the test process: the certificate names hosts only.
            tls = {"ssl": True, "ssl_ca_certs": str(self.tls_ca), "ssl_check_hostname": False}
        return redis.Redis(host=self.address(ordinal), port=port, password=self.admin_password,
                           socket_timeout=timeout, socket_connect_timeout=timeout,
                           decode_responses=True, **tls)  # fmt: skip

    def role(self, ordinal: int) -> tuple[str, int | None] | None:
        """("master", None) or ("slave", ordinal followed); None when it does not answer."""
        if ordinal not in self.pods:
            return None
        try:
            reply = self.client(ordinal).execute_command("ROLE")
        except redis.RedisError:
            return None
        if reply[0] == "master":
            return "master", None
        return str(reply[0]), self.ordinal_of(str(reply[1]))

    def roles(self) -> dict[int, tuple[str, int | None] | None]:
        return {i: self.role(i) for i in range(self.replicas)}

    def masters(self) -> list[int]:
        return [i for i, r in self.roles().items() if r is not None and r[0] == "master"]

    def sentinel_views(self) -> dict[int, int | None]:
        """The master each answering sentinel names (None: no answer or an unknown host)."""
        views: dict[int, int | None] = {}
        for ordinal in list(self.pods):
            try:
                answer = self.client(ordinal, names.SENTINEL_PORT).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", names.MASTER_NAME
                )
            except redis.RedisError:
                continue
            views[ordinal] = self.ordinal_of(str(answer[0])) if answer else None
        return views

    def config_epoch(self, ordinal: int) -> int:
        state = self.client(ordinal, names.SENTINEL_PORT).sentinel_master(names.MASTER_NAME)
        assert isinstance(state, dict)
        return int(state["config-epoch"])

    def sentinel_set(self, ordinals: list[int], option: str, value: str) -> None:
        """SENTINEL SET on the sentinels of ``ordinals`` (the admin's change at runtime)."""
        for ordinal in ordinals:
            self.client(ordinal, names.SENTINEL_PORT).execute_command(
                "SENTINEL", "SET", names.MASTER_NAME, option, value
            )

    def settled_master(self) -> int | None:
        """The master when the set is whole and agrees: every sentinel names it, it is the
        one pod reporting master, every other pod follows it with its link up."""
        views = self.sentinel_views()
        named = set(views.values())
        if len(views) != self.replicas or len(named) != 1:
            return None
        (master,) = named
        if master is None or self.masters() != [master]:
            return None
        for ordinal in range(self.replicas):
            if ordinal == master:
                continue
            info = self.client(ordinal).info("replication")
            if info.get("master_link_status") != "up" or info.get("master_sync_in_progress"):
                return None
            if self.ordinal_of(info.get("master_host")) != master:
                return None
        return master

    def wait_settled(self, timeout: float = 120.0) -> int:
        master: int = (
            wait_until(
                lambda: (m := self.settled_master()) is not None and m + 1,
                timeout,
                "one master that every pod and sentinel agrees on",
            )
            - 1
        )
        return master

    def local_cli(self, ordinal: int, *command: str, port: int = names.REDIS_PORT) -> str:
        """redis-cli from inside the pod's own namespace (reachable while it is cut off)."""
        result = subprocess.run(
            [*self.net.exec_prefix(f"r{ordinal}"), "redis-cli", "--no-auth-warning", "--raw",
             *(["--tls", "--insecure"] if self.tls_ca is not None else []),
             "-h", self.address(ordinal), "-p", str(port), *command],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "REDISCLI_AUTH": self.admin_password},
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return result.stdout

    def iter_logs(self) -> Iterator[tuple[str, str]]:
        """(file, tail) of every container log, for a failing test's report."""
        for path in sorted((self.workdir / "pods").glob("*/logs/*.log")):
            yield str(path.relative_to(self.workdir)), path.read_text(errors="replace")[-3000:]

    def secret_file(self, folder: Path, name: str, key: str) -> Path:
        """A Secret key written as a file, as a worker pod would mount it."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}-{key}"
        path.write_text(self.secrets.value(name, key), encoding="utf-8")
        path.chmod(0o600)
        return path
