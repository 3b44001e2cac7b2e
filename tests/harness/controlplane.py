"""A real Kubernetes control plane on loopback, for the control-plane test tier.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from the
Go module proxy by ``scripts/control-plane.sh`` (which the test command runs first). The
API server authorizes with RBAC, authenticates static tokens (one admin in
system:masters) and ServiceAccount tokens, and writes an audit log of every request a
ServiceAccount makes (the operator runs as one) and of every write. kwok runs three fake
nodes: pods become Running and Ready, nothing runs in them. A small provisioner here
creates a PersistentVolume for every claim of the default StorageClass, so the Redis
StatefulSet schedules. Every process is started here and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.harness.redis_procs import free_port

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("TS_CONTROLPLANE_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "tradingstack"
    / "controlplane"
)
#: Generous: the API server's first start compiles its OpenAPI under a loaded machine.
START_TIMEOUT = 180.0
ADMIN = "admin"
PROVISIONER = "tradingstack.io/test-hostpath"
STORAGE_CLASS = "standard"
FAKE_NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
NODES = 3


class ControlPlaneMissing(RuntimeError):
    """The binaries are not built: run scripts/control-plane.sh (the test command does)."""


def binaries() -> dict[str, str]:
    """Paths written by scripts/control-plane.sh to its cache's env file."""
    env_file = CACHE / "env"
    if not env_file.exists():
        raise ControlPlaneMissing(
            f"{env_file} is missing: run `bash scripts/control-plane.sh` to build the control "
            "plane (the test command does this before pytest)"
        )
    found = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return found


def wait_for(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    last: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and what
    ``last`` reports then, e.g. which parts are still missing)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:  # a server still starting answers errors
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    detail = f"; still: {last()}" if last is not None else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last error: {last_error}){detail}")


@dataclass
class Process:
    """One control-plane process, its output in a log file, stopped by PID."""

    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(grace)


def kubeconfig(path: Path, server: str, token: str, ca: Path, namespace: str = "default") -> Path:
    """A kubeconfig with a bearer token, trusting the API server's self-signed certificate."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [
            {
                "name": "local",
                "context": {"cluster": "local", "user": "user", "namespace": namespace},
            }
        ],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        # Every request of a ServiceAccount (the operator under test runs as one).
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        # Every write, whoever makes it.
        {
            "level": "Metadata",
            "verbs": ["create", "update", "patch", "delete", "deletecollection"],
        },
        {"level": "None"},
    ],
}


@dataclass
class ControlPlane:
    """A running control plane; ``full=False`` runs only etcd and the API server."""

    root: Path
    version: str = "current"  # or "oldest": kube-apiserver 1.34, for CRD acceptance
    full: bool = True
    #: Where the API server listens and what it advertises (its self-signed serving
    #: certificate names it): loopback, or a test network's own address, such as a pod
    #: network's gateway for clients inside its namespaces.
    address: str = "127.0.0.1"
    processes: list[Process] = field(default_factory=list)
    server: str = ""
    admin_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    @property
    def ca(self) -> Path:
        """The API server's serving certificate chain (self-signed, with its CA)."""
        return self.root / "certs" / "apiserver.crt"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    # -- start and stop ---------------------------------------------------------------

    def start(self) -> ControlPlane:
        bins = binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_etcd(bins)
            self._start_apiserver(bins)
            if self.full:
                self._start_controllers(bins)
                self._make_nodes()
                self._make_storage()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def _spawn(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.root / f"{name}.log").start()
        self.processes.append(process)
        return process

    def _start_etcd(self, bins: dict[str, str]) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        etcd = self._spawn(
            "etcd",
            [
                bins["TS_CP_ETCD"],
                "--data-dir",
                str(self.root / "etcd"),
                "--listen-client-urls",
                self.etcd_url,
                "--advertise-client-urls",
                self.etcd_url,
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer}",
                "--initial-cluster",
                f"default=http://127.0.0.1:{peer}",
                "--listen-metrics-urls",
                f"http://127.0.0.1:{free_port()}",
                "--unsafe-no-fsync",  # a test cluster: durability across power loss is not tested
            ],
        )

        def healthy() -> bool:
            etcd.check_alive()
            with socket.create_connection(("127.0.0.1", client), timeout=1):
                return True

        wait_for(healthy, START_TIMEOUT, "etcd accepting connections")

    def _start_apiserver(self, bins: dict[str, str]) -> None:
        key = self.root / "sa.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
        tokens = self.root / "tokens.csv"
        tokens.write_text(f'{self.admin_token},{ADMIN},{ADMIN},"system:masters"\n')
        policy = self.root / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        port = free_port()
        self.server = f"https://{self.address}:{port}"
        binary = bins[
            "TS_CP_KUBE_APISERVER" if self.version == "current" else "TS_CP_KUBE_APISERVER_OLDEST"
        ]
        apiserver = self._spawn(
            "kube-apiserver",
            [
                binary,
                "--etcd-servers",
                self.etcd_url,
                "--secure-port",
                str(port),
                "--bind-address",
                self.address,
                "--advertise-address",
                self.address,
                # Without it the server refuses a loopback advertise address.
                "--endpoint-reconciler-type",
                "none",
                "--service-cluster-ip-range",
                "10.0.0.0/16",  # room for the benchmark's 200 stacks' Services
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file",
                str(key),
                "--service-account-signing-key-file",
                str(key),
                "--cert-dir",
                str(self.root / "certs"),
                "--authorization-mode",
                "RBAC",
                "--token-auth-file",
                str(tokens),
                "--audit-policy-file",
                str(policy),
                "--audit-log-path",
                str(self.audit_log),
                "--audit-log-maxsize",
                "0",
            ],
        )

        def certificate() -> bool:
            apiserver.check_alive()
            return self.ca.exists()

        # The server writes its self-signed certificate (and the CA that signed it) first.
        wait_for(certificate, START_TIMEOUT, "kube-apiserver's serving certificate")
        kubeconfig(self.admin_kubeconfig, self.server, self.admin_token, self.ca)

        def ready() -> bool:
            apiserver.check_alive()
            self.rest("GET", "/readyz", content_type="text/plain")
            return True

        wait_for(ready, START_TIMEOUT, "kube-apiserver /readyz")

    def _start_controllers(self, bins: dict[str, str]) -> None:
        admin = str(self.admin_kubeconfig)
        self._spawn(
            "kube-controller-manager",
            [
                bins["TS_CP_KUBE_CONTROLLER_MANAGER"],
                "--kubeconfig",
                admin,
                "--authentication-kubeconfig",
                admin,
                "--authorization-kubeconfig",
                admin,
                "--service-account-private-key-file",
                str(self.root / "sa.key"),
                "--root-ca-file",
                str(self.root / "certs" / "apiserver.crt"),
                "--leader-elect=false",
                "--controllers=*",
                # A loaded test machine can delay kwok's node heartbeats past the default 50 s.
                "--node-monitor-grace-period=180s",
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(free_port()),
            ],
        )
        scheduler_config = self.root / "scheduler.yaml"
        scheduler_config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubescheduler.config.k8s.io/v1",
                    "kind": "KubeSchedulerConfiguration",
                    "clientConnection": {"kubeconfig": admin},
                    "leaderElection": {"leaderElect": False},
                }
            )
        )
        self._spawn(
            "kube-scheduler",
            [
                bins["TS_CP_KUBE_SCHEDULER"],
                "--config",
                str(scheduler_config),
                "--authentication-kubeconfig",
                admin,
                "--authorization-kubeconfig",
                admin,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(free_port()),
            ],
        )
        selector = ",".join(f"{k}={v}" for k, v in FAKE_NODE_ANNOTATION.items())
        self._spawn(
            "kwok",
            [
                bins["TS_CP_KWOK"],
                "--kubeconfig",
                admin,
                "--config",
                bins["TS_CP_KWOK_STAGES"],
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={selector}",
                # Renew each node's Lease as a kubelet does: the heartbeat the node lifecycle
                # controller reads.
                "--node-lease-duration-seconds=40",
                "--server-address",
                f"127.0.0.1:{free_port()}",
            ],
        )

    # -- cluster contents -------------------------------------------------------------

    def _make_nodes(self) -> None:
        for i in range(NODES):
            name = f"kwok-node-{i}"
            capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
            self.rest(
                "POST",
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": FAKE_NODE_ANNOTATION,
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "type": "kwok",
                            "topology.kubernetes.io/zone": f"zone-{i}",
                        },
                    },
                    "status": {"capacity": capacity, "allocatable": capacity},
                },
            )

        def nodes_ready() -> bool:
            for process in self.processes:
                process.check_alive()
            nodes = self.rest("GET", "/api/v1/nodes")["items"]
            return len(nodes) == NODES and all(condition(n, "Ready") for n in nodes)

        wait_for(nodes_ready, START_TIMEOUT, "kwok marking the fake nodes Ready")

    def _make_storage(self) -> None:
        self.rest(
            "POST",
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": PROVISIONER,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
            },
        )
        thread = threading.Thread(target=self._provision, name="provisioner", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _provision(self) -> None:
        """A dynamic provisioner for the default class: a hostPath volume per pending claim,
        pre-bound to it; a released volume is deleted (nothing is ever written to it)."""
        while not self._stop.wait(0.2):
            with suppress(ApiException, OSError):
                for claim in self.rest("GET", "/api/v1/persistentvolumeclaims")["items"]:
                    status, spec = claim.get("status") or {}, claim["spec"]
                    if status.get("phase") == "Pending" and not spec.get("volumeName"):
                        self._volume_for(claim)
                for volume in self.rest("GET", "/api/v1/persistentvolumes")["items"]:
                    if (volume.get("status") or {}).get("phase") == "Released":
                        self.rest(
                            "DELETE", f"/api/v1/persistentvolumes/{volume['metadata']['name']}"
                        )

    def _volume_for(self, claim: dict[str, Any]) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        if (spec.get("storageClassName") or STORAGE_CLASS) != STORAGE_CLASS:
            return
        with suppress(ApiException):  # 409: created on an earlier pass
            self.rest(
                "POST",
                "/api/v1/persistentvolumes",
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {
                        "name": f"pvc-{meta['uid']}",
                        "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                    },
                    "spec": {
                        "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                        "accessModes": spec["accessModes"],
                        "persistentVolumeReclaimPolicy": "Delete",
                        "storageClassName": STORAGE_CLASS,
                        "hostPath": {"path": f"/tmp/tradingstack-test-pv/{meta['uid']}"},
                        "claimRef": {
                            "namespace": meta["namespace"],
                            "name": meta["name"],
                            "uid": meta["uid"],
                        },
                    },
                },
            )

    # -- clients ------------------------------------------------------------------------

    def client(self, config: Path | None = None) -> ApiClient:
        """An ApiClient from a kubeconfig (the admin's by default); close it after use."""
        client: ApiClient = kubernetes.config.new_client_from_config(
            config_file=str(config or self.admin_kubeconfig)
        )
        return client

    @property
    def api(self) -> ApiClient:
        """The admin's ApiClient, shared by the fixture's own calls."""
        if not hasattr(self, "_api"):
            self._api = self.client()
        return self._api

    def rest(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        api: ApiClient | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request as the admin (or through ``api``); the JSON answer. Raises
        ApiException on a non-2xx answer, with the server's status and message."""
        api = api or self.api
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, body, _ = api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, header_params=headers, body=body, _request_timeout=30)
        data = response.read() or b""
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=data.decode(errors="replace"))
        if not data or not data.startswith(b"{"):
            return data.decode(errors="replace")  # /readyz and friends answer plain text
        return json.loads(data)

    def create_namespace(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:8]}"
        self.rest("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        return name

    def apply_file(self, path: Path) -> list[dict[str, Any]]:
        """Create (or replace) every object of a YAML file as the admin."""
        objects = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for obj in objects:
            self.apply(obj)
        return objects

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> Any:
        """Server-side apply of one object as the admin (field manager ``test-admin``)."""
        dynamic = kubernetes.dynamic.DynamicClient(self.api)
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = namespace or obj["metadata"].get("namespace")
        return resource.server_side_apply(
            body=obj,
            name=obj["metadata"]["name"],
            namespace=namespace,
            field_manager="test-admin",
            force_conflicts=True,
        )

    def install_crds(self, paths: Sequence[Path]) -> list[str]:
        """Install CRD files and wait until each is Established; returns their names."""
        names = []
        for path in paths:
            for crd in self.apply_file(path):
                names.append(crd["metadata"]["name"])
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        for name in names:

            def established(name: str = name) -> bool:
                return condition(self.rest("GET", f"{base}/{name}"), "Established")

            wait_for(established, 60, f"CRD {name} Established")
        return names

    def _put(self, collection: str, body: dict[str, Any]) -> None:
        """Create ``body`` in ``collection``, or replace the one of its name (an operator
        started again in the same namespace, maybe with other rules)."""
        try:
            self.rest("POST", collection, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.rest("PUT", f"{collection}/{body['metadata']['name']}", body)

    def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        rules: list[dict[str, Any]],
        *,
        cluster_rules: list[dict[str, Any]] | None = None,
    ) -> Path:
        """A ServiceAccount bound to exactly ``rules`` in ``namespace`` (a Role) and
        ``cluster_rules`` (a ClusterRole, when given); a kubeconfig with its token."""
        subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        self._put(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
        self._put(
            f"{rbac}/namespaces/{namespace}/roles", {"metadata": {"name": name}, "rules": rules}
        )
        self._put(
            f"{rbac}/namespaces/{namespace}/rolebindings",
            {
                "metadata": {"name": name},
                "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            },
        )
        if cluster_rules is not None:
            cluster_name = f"{namespace}-{name}"
            self._put(
                f"{rbac}/clusterroles", {"metadata": {"name": cluster_name}, "rules": cluster_rules}
            )
            self._put(
                f"{rbac}/clusterrolebindings",
                {
                    "metadata": {"name": cluster_name},
                    "subjects": subject,
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": cluster_name,
                    },
                },
            )
        token = self.rest(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 24 * 3600},
            },
        )["status"]["token"]
        path = self.root / f"{namespace}-{name}.kubeconfig"
        return kubeconfig(path, self.server, token, self.ca, namespace)

    # -- the audit log ------------------------------------------------------------------

    def audit_mark(self) -> int:
        """A position in the audit log; :meth:`audit_events` reads from it."""
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit_events(self, since: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        """Completed requests logged after ``since``, optionally by one user."""
        return self.audit_follow(since, user)[0]

    def audit_follow(
        self, since: int = 0, user: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Completed requests logged after ``since`` (optionally by one user), and the mark
        to read on from: the end of the last whole line (one still being written waits)."""
        events = []
        with self.audit_log.open("rb") as log:
            log.seek(since)
            for line in log:
                if not line.endswith(b"\n"):
                    break
                since += len(line)
                event = json.loads(line)
                if event.get("stage") != "ResponseComplete":
                    continue
                if user is None or event["user"]["username"] == user:
                    events.append(event)
        return events, since

    def audit_barrier(self, timeout: float = 120.0) -> int:
        """Wait until every request completed before this call is in the audit log; the
        mark after them. The server writes a request's audit line after its answer, so a
        client can see an answer before its line: an admin request of our own, once
        logged, stands behind the requests that completed before it."""
        name = f"audit-barrier-{uuid.uuid4().hex[:12]}"
        mark = self.audit_mark()
        with suppress(ApiException):  # a 404; the policy logs every write, answered or not
            self.rest("DELETE", f"/api/v1/namespaces/default/configmaps/{name}")

        def logged() -> int | None:
            events, end = self.audit_follow(mark)
            refs = (e.get("objectRef") or {} for e in events)
            return end if any(r.get("name") == name for r in refs) else None

        found: int = wait_for(logged, timeout, "the audit barrier logged")
        return found

    def logs(self) -> Iterator[tuple[str, str]]:
        for process in self.processes:
            yield process.name, process.tail()


def condition(obj: dict[str, Any], kind: str) -> bool:
    """Whether ``obj`` has condition ``kind`` with status True."""
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def service_account_user(namespace: str, name: str) -> str:
    """The username the API server gives a ServiceAccount (in audit events and 403s)."""
    return f"system:serviceaccount:{namespace}:{name}"
