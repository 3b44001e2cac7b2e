"""A pod from a rendered pod spec, run as the kubelet would run it, without containers.

Each container is its rendered ``command`` (or, for an image whose program is on this
machine, that program bound at the image's entrypoint path) run as a real process inside the pod's
network namespace (podnet.py) and, in a mount namespace of its own, chrooted into a
root that holds the host's /usr, /etc, /dev and /proc plus the pod's volumes at their
``mountPath``s; it runs as the pod's ``runAsUser``/``runAsGroup`` with the rendered
environment only. Volumes are directories: ConfigMap and Secret items written as files
with their modes, emptyDirs that live as long as the pod, and a claim that outlives it.

The kubelet part runs exec and httpGet probes (startup, then liveness and readiness) on their
periods, restarts a container that exits or fails liveness (with a back-off, shortened
from the kubelet's 10 s to 1 s doubling to 10 s), and on termination runs every preStop
hook at once, then SIGTERM, then SIGKILL when the grace period is over. Processes are
stopped by their process group id, never by name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.podnet import PodNetwork

log = logging.getLogger(__name__)
Manifest = dict[str, Any]

# Run as root inside the pod's network namespace: its own mount namespace (ip netns exec
# made one), the system read from the host, the volumes bound at their mount paths.
_LAUNCH = r"""
set -e
root=$1; uid=$2; gid=$3; shift 3
for d in usr etc dev proc; do mount --rbind "/$d" "$root/$d"; done
while [ "$1" != "--" ]; do
  mount --bind "$1" "$root$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
  shift 3
done
shift
exec chroot --userspec="$uid:$gid" --groups="$gid" "$root" "$@"
"""
SYSTEM_DIRS = ("usr", "etc", "dev", "proc")
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
BACKOFF_START, BACKOFF_MAX = 1.0, 10.0
#: HTTP straight to the pod network, never through a proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float) -> tuple[int, str]:
    """(status, body) of a GET to a pod; OSError (URLError included) when none answers."""
    with _DIRECT.open(url, timeout=timeout) as answer:
        return int(answer.status), answer.read().decode()


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal a process group we started (its id is the leader's PID)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@dataclass(frozen=True)
class Image:
    """An image whose program is on this machine: ``program`` bound at ``entrypoint``."""

    entrypoint: str
    program: Path


@dataclass(frozen=True)
class Probe:
    command: tuple[str, ...]  # exec, or () for httpGet
    http_get: tuple[int | str, str] | None  # (port or port name, path)
    period: float
    timeout: float
    failures: int

    @classmethod
    def of(cls, manifest: Manifest | None) -> Probe | None:
        if not manifest:
            return None
        http = manifest.get("httpGet")
        return cls(
            tuple(manifest["exec"]["command"]) if "exec" in manifest else (),
            (http["port"], http.get("path", "/")) if http else None,
            float(manifest.get("periodSeconds", 10)),
            float(manifest.get("timeoutSeconds", 1)),
            int(manifest.get("failureThreshold", 3)),
        )


@dataclass
class Container:
    """One container of a pod and its process; the pod's kubelet thread drives it."""

    pod: Pod
    spec: Manifest
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: bool = False  # the startup probe has passed
    ready: bool = False
    restarts: int = 0
    _failed: dict[str, int] = field(default_factory=dict)
    _due: dict[str, float] = field(default_factory=dict)
    _restart_at: float = 0.0
    _backoff: float = BACKOFF_START

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def argv(self, command: Sequence[str]) -> list[str]:
        return self.pod.argv(self.spec, self.env, command)

    def start(self) -> None:
        image = self.pod.images.get(self.spec.get("image", ""))
        entrypoint = self.spec.get("command") or ([image.entrypoint] if image else [])
        command = [*entrypoint, *self.spec.get("args", [])]
        log_file = open(self.pod.logs / f"{self.name}.log", "ab")  # noqa: SIM115
        with log_file:
            log_file.write(f"--- start {time.time():.3f}\n".encode())
            log_file.flush()
            self.proc = subprocess.Popen(
                self.argv(command),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = Probe.of(self.spec.get("startupProbe")) is None
        self.ready = False
        self._failed.clear()
        self._due.clear()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc.wait()
        self.ready = False

    def run_exec(self, command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """``kubectl exec``: the command in this container's namespaces, root and env."""
        proc = subprocess.Popen(
            self.argv(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            return subprocess.CompletedProcess(proc.args, -9, out.decode(), err.decode())
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

    def port(self, port: int | str) -> int:
        """A port number, or the number of the container port named ``port``."""
        if isinstance(port, int):
            return port
        return int(next(p["containerPort"] for p in self.spec["ports"] if p["name"] == port))

    def http_get(self, port: int | str, path: str, timeout: float) -> tuple[bool, str]:
        """The kubelet's httpGet: from the node to the pod's address; 2xx and 3xx pass."""
        url = f"http://{self.pod.address}:{self.port(port)}{path}"
        try:
            status, _ = http_get(url, timeout)
        except OSError as exc:  # URLError and HTTPError (4xx, 5xx) included
            return False, f"{url}: {exc}"
        return 200 <= status < 400, f"HTTP {status}"

    def _probe(self, kind: str, probe: Probe, now: float) -> bool | None:
        """Run ``probe`` when due; True/False as it answered, None when not due."""
        if now < self._due.get(kind, 0.0):
            return None
        self._due[kind] = now + probe.period
        if probe.http_get is not None:
            ok, said = self.http_get(*probe.http_get, timeout=probe.timeout)
        else:
            result = self.run_exec(probe.command, probe.timeout)
            ok, said = result.returncode == 0, result.stdout
        self._failed[kind] = 0 if ok else self._failed.get(kind, 0) + 1
        if not ok and self._failed[kind] >= probe.failures:
            self.pod.note(f"{self.name} {kind} probe failed: {said.strip()[:200]}")
        return ok

    def tick(self, now: float) -> None:
        """One kubelet step: restart when exited, else the probes that are due."""
        if not self.running():
            if self.proc is not None and self._restart_at == 0.0:
                self.ready = False
                self._restart_at = now + self._backoff
                self.pod.note(f"{self.name} exited with {self.proc.returncode}")
            if now >= self._restart_at:
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
                self._restart_at = 0.0
                self.restarts += 1
                self.start()
            return
        if not self.started:
            startup = Probe.of(self.spec.get("startupProbe"))
            assert startup is not None
            if self._probe("startup", startup, now):
                self.started = True
            elif self._failed.get("startup", 0) >= startup.failures:
                self.kill()
            return
        liveness = Probe.of(self.spec.get("livenessProbe"))
        alive = self._probe("liveness", liveness, now) if liveness else None
        if liveness and alive is False and self._failed["liveness"] >= liveness.failures:
            self.kill()
            return
        readiness = Probe.of(self.spec.get("readinessProbe"))
        if readiness is None:
            self.ready = True
        else:
            answer = self._probe("readiness", readiness, now)
            if answer:
                self.ready = True
            elif answer is False and self._failed["readiness"] >= readiness.failures:
                self.ready = False


class Pod:
    """A pod: its namespace on the pod network, its volumes, containers and kubelet."""

    def __init__(
        self,
        name: str,
        spec: Manifest,
        *,
        net: PodNetwork,
        host: str,
        workdir: Path,
        volumes: Mapping[str, Path],
        env: Callable[[Manifest], dict[str, str]],
        only: Sequence[str] | None = None,
        images: Mapping[str, Image] | None = None,
    ) -> None:
        """``volumes``: volume name -> directory; ``env`` resolves a container's env;
        ``only``: the containers to run (others, e.g. images we do not have, are left out);
        ``images``: image -> its program, for containers that run the image's entrypoint."""
        self.name = name
        self.spec = spec
        self.net = net
        self.host = host
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.root = workdir / "root"
        self.volumes = dict(volumes)
        self.images = dict(images or {})
        security = spec.get("securityContext", {})
        self.uid = int(security.get("runAsUser", 0))
        self.gid = int(security.get("runAsGroup", self.uid))
        self.containers = [
            Container(self, c, env(c))
            for c in spec["containers"]
            if only is None or c["name"] in only
        ]
        self.events: list[str] = []
        self._running = False
        self._thread: threading.Thread | None = None
        self._prepare()

    # --- filesystem -------------------------------------------------------------------

    def _prepare(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for folder in SYSTEM_DIRS:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        for link, target in MERGED_USR.items():
            if not (self.root / link).is_symlink():
                (self.root / link).symlink_to(target)
        for container in self.spec["containers"]:
            for mount in container.get("volumeMounts", []):
                (self.root / mount["mountPath"].lstrip("/")).mkdir(parents=True, exist_ok=True)
        for image in self.images.values():
            (self.root / image.entrypoint.lstrip("/")).touch()  # a file bind needs a file

    @property
    def address(self) -> str:
        """The pod's IP on the pod network."""
        return self.net.hosts[self.host].address

    def argv(
        self, container: Manifest, env: Mapping[str, str], command: Sequence[str]
    ) -> list[str]:
        binds: list[str] = []
        for mount in container.get("volumeMounts", []):
            source = self.volumes[mount["name"]]
            binds += [str(source), mount["mountPath"], "ro" if mount.get("readOnly") else "rw"]
        if (image := self.images.get(container.get("image", ""))) is not None:
            binds += [str(image.program), image.entrypoint, "ro"]
        return [
            *self.net.exec_prefix(self.host),
            "sh", "-c", _LAUNCH, "kubelet", str(self.root), str(self.uid), str(self.gid),
            *binds, "--",
            "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *command,
        ]  # fmt: skip

    # --- lifecycle --------------------------------------------------------------------

    def note(self, event: str) -> None:
        self.events.append(f"{time.monotonic():.1f} {event}")
        log.info("%s: %s", self.name, event)

    def start(self) -> Pod:
        """Start every container and the kubelet loop."""
        for container in self.containers:
            container.start()
        self._running = True
        self._thread = threading.Thread(target=self._kubelet, name=f"kubelet-{self.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self.note("started")
        return self

    def _kubelet(self) -> None:
        while self._running:
            now = time.monotonic()
            for container in self.containers:
                if not self._running:
                    break
                try:
                    container.tick(now)
                except Exception as exc:  # a harness fault must not stop the kubelet quietly
                    self.note(f"kubelet error on {container.name}: {exc!r}")
            time.sleep(0.2)

    def _stop_kubelet(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    @property
    def ready(self) -> bool:
        return bool(self.containers) and all(c.ready for c in self.containers)

    def container(self, name: str) -> Container:
        return next(c for c in self.containers if c.name == name)

    def kill(self) -> None:
        """kill -9 of every process of the pod; nothing restarts them until :meth:`start`."""
        self._stop_kubelet()
        for container in self.containers:
            container.kill()
        self.note("killed")

    def terminate(self, grace: float | None = None) -> float:
        """Graceful deletion: preStop hooks, SIGTERM, SIGKILL at the grace period's end.

        Returns the seconds it took.
        """
        self._stop_kubelet()
        began = time.monotonic()
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30) if grace is None
                      else grace)  # fmt: skip
        deadline = began + grace

        def stop(container: Container) -> None:
            hook = container.spec.get("lifecycle", {}).get("preStop", {}).get("exec")
            if hook and container.running():
                result = container.run_exec(hook["command"], max(deadline - time.monotonic(), 1))
                self.note(f"{container.name} preStop exit {result.returncode}: "
                          f"{(result.stderr or result.stdout).strip()[-300:]}")  # fmt: skip
            if container.proc is not None and container.running():
                container.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    container.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            container.kill()

        threads = [threading.Thread(target=stop, args=(c,)) for c in self.containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.note(f"terminated in {time.monotonic() - began:.1f} s")
        return time.monotonic() - began
