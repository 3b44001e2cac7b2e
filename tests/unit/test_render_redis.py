"""Redis with Sentinel: hostnames announced, stable ids, handover, budget, scripts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.unit.render_corpus import children, env_of, one, pod_spec

from tradingstack_operator.render.pods import CONFIG_HASH
from tradingstack_operator.render.redis_scripts import SCRIPTS


def test_sentinel_runs_beside_each_redis_with_the_spec_timings() -> None:
    manifests = children("full")
    sts = one(manifests, "StatefulSet", "live-redis")
    assert sts["spec"]["replicas"] == 5
    assert sts["spec"]["serviceName"] == "live-redis-headless"
    redis, sentinel = pod_spec(sts)["containers"]
    assert (redis["name"], sentinel["name"]) == ("redis", "sentinel")
    assert redis["image"] == "registry.example/redis:7.2.7"
    environ = env_of(sentinel)
    assert environ["SENTINEL_QUORUM"] == "3"
    assert environ["SENTINEL_DOWN_AFTER_MILLISECONDS"] == "3000"
    assert environ["SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS"] == "20000"
    assert environ["SENTINEL_PARALLEL_SYNCS"] == "2"
    assert environ["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert redis["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/scripts/prestop.sh"]
    grace = pod_spec(sts)["terminationGracePeriodSeconds"]
    assert grace > int(environ["PRESTOP_WAIT_SECONDS"])
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "10Gi"
    assert claim["storageClassName"] == "fast-ssd"
    assert redis["resources"]["limits"] == {"cpu": 2, "memory": "2Gi"}


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
    assert "sentinel myid $myid" in sentinel
    assert "sha1sum | cut -c 1-40" in sentinel
    assert "replica-announce-ip $SELF" in redis
    assert "SENTINEL FAILOVER" in SCRIPTS["prestop.sh"]
    # The password reaches the servers through their config files, never their argv.
    assert 'exec redis-server "$conf"\n' in redis
    assert "exec redis-sentinel /config/sentinel.conf\n" in sentinel


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
