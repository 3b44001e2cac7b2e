"""The Redis StatefulSet: containers, timings, placement, storage, budget and scripts.

What the scripts do is shown by running them, in tests/pods/; here the rendering only.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.chart.promql import metric_names
from tests.unit.render_corpus import by_kind, children, env_of, named, one, pod_spec

from tradingstack_operator.render import Stack, redis_scripts, render
from tradingstack_operator.render.alerts import EXPORTER_METRICS, redis_alerts
from tradingstack_operator.render.pods import CONFIG_HASH
from tradingstack_operator.render.redis_pod import maxmemory_bytes, timings
from tradingstack_operator.render.redis_scripts import SCRIPTS, USERS
from tradingstack_operator.spec import parse_spec


def _containers(name: str) -> dict[str, dict[str, object]]:
    sts = by_kind(children(name), "StatefulSet")[0]
    return {c["name"]: c for c in pod_spec(sts)["containers"]}


def test_sentinel_and_exporter_run_beside_each_redis_with_the_spec_timings() -> None:
    sts = one(children("full"), "StatefulSet", "live-redis")
    assert sts["spec"]["replicas"] == 5
    assert sts["spec"]["serviceName"] == "live-redis-headless"
    redis, sentinel, metrics = pod_spec(sts)["containers"]
    assert (redis["name"], sentinel["name"], metrics["name"]) == ("redis", "sentinel", "metrics")
    assert redis["image"] == "registry.example/redis:7.2.7"
    assert metrics["image"] == "registry.example/redis_exporter:v1.67.0"
    environ = env_of(sentinel)
    assert environ["SENTINEL_QUORUM"] == "3"
    assert environ["SENTINEL_DOWN_AFTER_MILLISECONDS"] == "3000"
    assert environ["SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS"] == "20000"
    assert environ["SENTINEL_PARALLEL_SYNCS"] == "2"
    assert environ["REDIS_MIN_REPLICAS_MAX_LAG"] == "3"
    assert environ["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert redis["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop.sh"]
    assert sentinel["lifecycle"]["preStop"]["exec"]["command"] == [
        "sh", "/scripts/sentinel-prestop.sh"
    ]  # fmt: skip
    grace = pod_spec(sts)["terminationGracePeriodSeconds"]
    assert grace > int(environ["PRESTOP_WAIT_SECONDS"])


def test_startup_probes_cover_the_scripts_worst_case() -> None:
    """A container still waiting for a usable master is not killed by its probes."""
    stack = named("full")
    timing = timings(stack)
    # A new volume named master waits out a whole failover: twice down-after, the timeout.
    assert timing.start_wait >= 2 * 3 + 20
    for name, container in _containers("full").items():
        if name == "metrics":
            continue
        startup = container["startupProbe"]
        assert isinstance(startup, dict)
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        assert budget > int(env_of(container)["START_WAIT_SECONDS"]), name
        assert startup["exec"]["command"] == ["sh", "/scripts/probe.sh", name, "startup"]
    ready = _containers("full")["redis"]["readinessProbe"]
    assert isinstance(ready, dict)
    assert ready["exec"]["command"] == ["sh", "/scripts/probe.sh", "redis", "ready"]


def test_redis_is_guaranteed_qos_with_maxmemory_below_its_limit() -> None:
    for container in _containers("full").values():
        resources = container["resources"]
        assert isinstance(resources, dict)
        assert resources["requests"] == resources["limits"], container["name"]
        assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
    redis = _containers("full")["redis"]
    assert env_of(redis)["REDIS_MAXMEMORY"] == str(int(2 * 2**30 * 0.6))
    assert maxmemory_bytes(named("minimal")) == int(768 * 2**20 * 0.7)


def test_every_pod_starts_at_once_and_counts_only_after_settling() -> None:
    sts = one(children("minimal"), "StatefulSet", "minimal-redis")
    # Not OrderedReady: after a cold start pod 0 may be a replica waiting for its master.
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["minReadySeconds"] >= 10


def test_claims_are_labelled_and_sized_from_the_spec() -> None:
    sts = one(children("full"), "StatefulSet", "live-redis")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["labels"]["tradingstack.io/stack"] == "live"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"


def test_redis_pods_spread_over_nodes_by_default_and_zones_where_there_are() -> None:
    pod = pod_spec(one(children("minimal"), "StatefulSet", "minimal-redis"))
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    (zones,) = pod["topologySpreadConstraints"]
    assert zones["topologyKey"] == "topology.kubernetes.io/zone"
    assert zones["whenUnsatisfiable"] == "ScheduleAnyway"
    # Workers keep a preferred spread only: a required one against Redis would repel them.
    for deployment in by_kind(children("minimal"), "Deployment"):
        affinity = pod_spec(deployment)["affinity"]["podAntiAffinity"]
        assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity


def test_redis_has_placement_of_its_own() -> None:
    pod = pod_spec(one(children("full"), "StatefulSet", "live-redis"))
    assert pod["nodeSelector"] == {"pool": "redis"}
    assert "tolerations" not in pod  # spec.placement is for the others
    assert pod["priorityClassName"] == "trading-critical"
    anti = pod["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" in anti
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti


def test_each_component_has_its_own_redis_user() -> None:
    pod = pod_spec(one(children("minimal"), "StatefulSet", "minimal-redis"))
    volumes = {v["name"]: v for v in pod["volumes"]}
    users = volumes["redis-users"]["secret"]
    assert users["secretName"] == "minimal-redis-users"
    assert [i["key"] for i in users["items"]] == list(USERS)
    exporter = {c["name"]: c for c in pod["containers"]}["metrics"]
    environ = {e["name"]: e for e in exporter["env"]}
    assert environ["REDIS_USER"]["value"] == "exporter"
    assert environ["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "minimal-redis-users", "key": "exporter"
    }  # fmt: skip


def test_tls_mounts_the_certificate_and_clients_get_the_ca() -> None:
    manifests = children("full")
    pod = pod_spec(one(manifests, "StatefulSet", "live-redis"))
    tls = {v["name"]: v for v in pod["volumes"]}["redis-tls"]["secret"]
    assert tls["secretName"] == "desk-redis-tls"
    assert {i["key"] for i in tls["items"]} == {"tls.crt", "tls.key", "ca.crt"}
    for container in pod["containers"][:2]:  # redis and sentinel read the files they mount
        environ = env_of(container)
        assert environ["REDIS_TLS"] == "true"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert environ["REDIS_TLS_DIR"] == mounts["redis-tls"]
    for deployment in by_kind(manifests, "Deployment"):
        worker = pod_spec(deployment)
        ca = {v["name"]: v for v in worker["volumes"]}["redis-tls"]["secret"]
        assert [i["key"] for i in ca["items"]] == ["ca.crt"]
        environ = env_of(worker["containers"][0])
        assert environ["TS_REDIS_TLS_CA_FILE"].endswith("/ca.crt")


def test_services_budget_and_headless_discovery() -> None:
    manifests = children("minimal")
    headless = one(manifests, "Service", "minimal-redis-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    client = one(manifests, "Service", "minimal-redis")
    # With Sentinel, clients go through the sentinels, never straight to 6379.
    assert [p["port"] for p in client["spec"]["ports"]] == [26379]
    pdb = one(manifests, "PodDisruptionBudget", "minimal-redis")
    assert pdb["spec"]["maxUnavailable"] == 1
    sts = one(manifests, "StatefulSet", "minimal-redis")
    assert pdb["spec"]["selector"] == sts["spec"]["selector"]


def test_redis_pod_monitor_scrapes_the_exporters() -> None:
    monitor = one(children("minimal"), "PodMonitor", "minimal-redis")
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    spec = parse_spec({"symbols": ["BTCUSDT"], "redis": {"metrics": {"enabled": False}}})
    bare = render(Stack(name="bare", namespace="desk", spec=spec))
    assert not [m for m in by_kind(bare, "PodMonitor") if m["metadata"]["name"] == "bare-redis"]
    sts = by_kind(bare, "StatefulSet")[0]
    assert [c["name"] for c in pod_spec(sts)["containers"]] == ["redis", "sentinel"]


def test_single_redis_client_service_points_at_pod_zero() -> None:
    client = one(children("single-redis"), "Service", "dev-redis")
    assert client["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "dev-redis-0"
    assert [p["port"] for p in client["spec"]["ports"]] == [6379]


def test_scripts_announce_hostnames_and_stable_ids() -> None:
    sentinel, redis = SCRIPTS["sentinel.sh"], SCRIPTS["redis.sh"]
    assert "sentinel announce-hostnames yes" in sentinel
    assert "sentinel resolve-hostnames yes" in sentinel
    # resolve-hostnames must come before a monitor line naming a host.
    assert sentinel.index("resolve-hostnames") < sentinel.index("sentinel monitor")
    assert "sentinel myid $(sentinel_id" in sentinel
    assert "sha1sum | cut -c 1-40" in sentinel
    assert "replica-announce-ip $SELF" in redis
    assert "CLIENT PAUSE" in SCRIPTS["prestop.sh"]
    assert SCRIPTS["prestop.sh"].index("CLIENT PAUSE") < SCRIPTS["prestop.sh"].index(
        "SENTINEL FAILOVER"
    )
    # The password reaches the servers through their config files, never their argv.
    assert 'exec redis-server "$conf"\n' in redis
    assert 'exec redis-sentinel "$conf"\n' in sentinel


def test_a_script_change_rolls_redis() -> None:
    sts = one(children("minimal"), "StatefulSet", "minimal-redis")
    config_map = one(children("minimal"), "ConfigMap", "minimal-redis-scripts")
    assert config_map["data"] == SCRIPTS
    assert len(sts["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]) == 64


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash (POSIX sh) not installed")
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_are_valid_posix_sh(name: str) -> None:
    result = subprocess.run(
        ["dash", "-n"], input=SCRIPTS[name], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash (POSIX sh) not installed")
def test_the_password_is_quoted_for_redis_config(tmp_path: Path) -> None:
    """dash's echo would eat the backslash: the config line must keep it, escaped."""
    (tmp_path / "password").write_text('p a"s\\s$x\n', encoding="utf-8")
    lib = tmp_path / "lib.sh"
    lib.write_text(SCRIPTS["lib.sh"], encoding="utf-8")
    environ = {"REDIS_PASSWORD_FILE": str(tmp_path / "password"), "POD_NAME": "p-redis-0",
               "REDIS_HEADLESS": "h", "REDIS_NAMESPACE": "ns", "CLUSTER_DOMAIN": "cluster.local",
               "PATH": "/usr/bin:/bin"}  # fmt: skip
    script = f'. {lib}\nprintf "%s\\n" "requirepass $(quoted "$PASSWORD")" "$SELF"\n'
    result = subprocess.run(
        ["dash", "-c", script], env=environ, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        'requirepass "p a\\"s\\\\s$x"',
        "p-redis-0.h.ns.svc.cluster.local",
    ]


def test_redis_alerts_read_only_what_the_exporter_exports() -> None:
    named = set().union(*(metric_names(a.expr) for a in redis_alerts('stack="s"')))
    assert named == EXPORTER_METRICS


def _worker_rules_in(script: str) -> str:
    """The rules the script's ``printf 'user worker on %s ...`` lines write, up to the
    line's end (its ``printf`` formats joined, the password and the newline left out)."""
    lines = redis_scripts.SCRIPTS[script].splitlines()
    start = next(i for i, line in enumerate(lines) if "printf 'user worker on %s" in line)
    formats = []
    for line in lines[start:]:
        formats.append(line.split("printf '", 1)[1].split("'", 1)[0])
        if formats[-1].endswith("\\n"):
            break
    return "".join(formats).removeprefix("user worker on %s ").removesuffix("\\n")


def test_the_pods_scripts_give_the_worker_user_the_rights_up_gives_it() -> None:
    """One set of rights for the ``worker`` user wherever it logs in: the pods' scripts
    and ``tradingstack up``'s local Redis (redis_scripts' constants)."""
    assert _worker_rules_in("redis.sh") % ("quantum", "quantum") == (
        redis_scripts.worker_server_rules("quantum")
    )
    assert _worker_rules_in("sentinel.sh") == redis_scripts.WORKER_SENTINEL_RULES
