"""The pod security rules every workload we ship must keep, as one pure check.

Restricted Pod Security Standard, plus a read-only root filesystem: a pod runs as
non-root, drops every capability and adds none, never escalates privileges, runs under
the RuntimeDefault seccomp profile, shares no host namespace and mounts no host path.
Each problem names the object, the container and the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Manifest = Mapping[str, Any]

#: Kinds that carry a pod template, and where it sits.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
#: The variable that switches a worker's test-only routes on (governor's injection).
TEST_MODE_VARIABLE = "TS_TEST_MODE"
#: Routes only a test may call; no probe or command of a shipped pod names them.
TEST_ROUTE_PREFIX = "/test/"


def pod_of(manifest: Manifest) -> Manifest | None:
    """The pod spec of a workload (CronJob included), a Pod's spec, or None."""
    kind = manifest.get("kind")
    if kind == "Pod":
        spec: Manifest = manifest["spec"]
        return spec
    if kind == "CronJob":
        pod: Manifest = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return pod
    if kind in WORKLOAD_KINDS:
        pod = manifest["spec"]["template"]["spec"]
        return pod
    return None


def _containers(pod: Manifest) -> Iterator[Manifest]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(field) or []


def _seccomp(container: Manifest, pod: Manifest) -> str | None:
    own = (container.get("securityContext") or {}).get("seccompProfile")
    profile = own or (pod.get("securityContext") or {}).get("seccompProfile") or {}
    kind = profile.get("type")
    return None if kind is None else str(kind)


def container_problems(container: Manifest, pod: Manifest) -> list[str]:
    """What ``container`` of ``pod`` breaks, one sentence per rule."""
    sc = container.get("securityContext") or {}
    pod_sc = pod.get("securityContext") or {}
    problems = []
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if non_root is not True:
        problems.append("securityContext.runAsNonRoot: must be true (container or pod)")
    if uid == 0:
        problems.append("securityContext.runAsUser: 0 is root")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("securityContext.readOnlyRootFilesystem: must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("securityContext.allowPrivilegeEscalation: must be false")
    if sc.get("privileged"):
        problems.append("securityContext.privileged: must not be true")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append("securityContext.capabilities.drop: must hold ALL")
    if caps.get("add"):
        problems.append(f"securityContext.capabilities.add: {caps['add']} added")
    if _seccomp(container, pod) != "RuntimeDefault":
        problems.append("seccompProfile.type: must be RuntimeDefault (container or pod)")
    return problems


def test_only_problems(container: Manifest) -> list[str]:
    """Test mode switched on, or a test-only route named, in a shipped container."""
    problems = []
    for entry in container.get("env") or []:
        if entry.get("name") == TEST_MODE_VARIABLE:
            problems.append(f"env {TEST_MODE_VARIABLE}: test mode in a shipped manifest")
    words: list[str] = [*container.get("command", []), *container.get("args", [])]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        path = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
        if path:
            words.append(str(path))
    problems += [f"{word!r}: names a test-only route" for word in words
                 if TEST_ROUTE_PREFIX in str(word)]  # fmt: skip
    return problems


def pod_problems(pod: Manifest) -> list[str]:
    problems = []
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{flag}: must not be true")
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            problems.append(f"volumes[{volume.get('name')}].hostPath: no host paths")
    return problems


def problems(manifests: Sequence[Manifest]) -> list[str]:
    """Every problem of every pod-bearing manifest, as ``Kind/name container: problem``."""
    out = []
    for manifest in manifests:
        pod = pod_of(manifest)
        if pod is None:
            continue
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        out += [f"{where}: {p}" for p in pod_problems(pod)]
        for container in _containers(pod):
            found = container_problems(container, pod) + test_only_problems(container)
            out += [f"{where} container {container['name']}: {p}" for p in found]
    return out


def pod_count(manifests: Sequence[Manifest]) -> int:
    return sum(1 for m in manifests if pod_of(m) is not None)
