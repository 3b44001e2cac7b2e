"""The operator's Helm chart through the real helm: lint, strict schemas, RBAC, CRDs, values.

The values corpus is tests/chart/data/values/{good,bad}/*.yaml; a bad file names the
message helm must print in its first line (``# expected-error: ...``).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import Manifest, kinds, one, template, template_raw
from tests.chart.schemas import validate_all
from tests.harness.tools import CHART, ROOT, monitoring_crds, run, tool
from tradingstack_operator import rbac
from tradingstack_operator.config import OperatorConfig
from tradingstack_operator.render import network, pods
from tradingstack_operator.render.stack import DEFAULT_IMAGE
from tradingstack_workers.runtime.settings import load_settings

VALUES = Path(__file__).parent / "data" / "values"
GOOD = sorted((VALUES / "good").glob("*.yaml"))
BAD = sorted((VALUES / "bad").glob("*.yaml"))
EXPECTED = "# expected-error: "
CRD_FILE = ROOT / "crds" / "tradingstack.io_tradingstacks.yaml"
PEERING_CRDS = CHART / "files" / "crds" / "kopf.dev_peerings.yaml"


def _values(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def _crds() -> dict[str, Any]:
    """Every custom kind the chart may emit, with the CRD that defines it."""
    ours = [yaml.safe_load(CRD_FILE.read_text()), *yaml.safe_load_all(PEERING_CRDS.read_text())]
    return {**monitoring_crds(), **{c["spec"]["names"]["kind"]: c for c in ours}}


def _container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(container: Manifest) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _operators(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in kinds(manifests, "Deployment")
    }


def test_helm_lint_is_clean(tmp_path: Path) -> None:
    result = run([tool("helm"), "lint", "--strict", str(CHART)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert notes == [], result.stdout


def test_corpus_covers_good_and_bad_values() -> None:
    assert len(GOOD) >= 4
    assert len(BAD) >= 25
    for path in BAD:
        assert path.read_text().startswith(EXPECTED), path


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_values_render_and_validate_strictly(path: Path, tmp_path: Path) -> None:
    manifests = template(tmp_path, _values(path))
    assert kinds(manifests, "Deployment"), "no operator rendered"
    assert validate_all(manifests, _crds()) == []


def test_strict_validation_can_fail(tmp_path: Path) -> None:
    """The check above refuses a misspelt field, in a built-in and in a custom kind."""
    manifests = template(tmp_path, _values(VALUES / "good" / "cluster-wide-standby.yaml"))
    deployment = kinds(manifests, "Deployment")[0]
    deployment["spec"]["replica"] = 1
    monitor = one(manifests, "ServiceMonitor")
    monitor["spec"]["endpoint"] = []
    problems = validate_all([deployment, monitor], _crds())
    assert any("Deployment" in p for p in problems), problems
    assert any("ServiceMonitor" in p for p in problems), problems


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_values_are_refused_naming_the_value(path: Path, tmp_path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix(EXPECTED)
    code, out, err = template_raw(tmp_path, _values(path))
    assert code != 0, f"{path.name} rendered:\n{out[:500]}"
    assert expected in err, err


def test_rbac_file_is_what_the_one_definition_prints() -> None:
    """files/rbac.yaml is generated: python -m tradingstack_operator.rbac > it."""
    printed = subprocess.run(
        [sys.executable, "-m", "tradingstack_operator.rbac"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    assert (CHART / "files" / "rbac.yaml").read_text() == printed, (
        "the chart's RBAC is stale: run "
        "python -m tradingstack_operator.rbac > charts/tradingstack/files/rbac.yaml"
    )


def _bound_rules(manifests: list[Manifest], namespace: str | None) -> list[rbac.Rule]:
    kind = "Role" if namespace else "ClusterRole"
    (role,) = [r for r in kinds(manifests, kind) if r["metadata"].get("namespace") == namespace]
    (binding,) = [b for b in kinds(manifests, f"{kind}Binding")
                  if b["metadata"].get("namespace") == namespace]  # fmt: skip
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role["metadata"]["name"]
    }  # fmt: skip
    account = one(manifests, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    rules: list[rbac.Rule] = role["rules"]
    return rules


@pytest.mark.parametrize("standby", [False, True], ids=["alone", "standby"])
def test_namespaced_rbac_is_exactly_the_one_definition(standby: bool, tmp_path: Path) -> None:
    manifests = template(tmp_path, {"standby": {"enabled": standby},
                                    "watchNamespaces": ["desk", "desk-b"]})  # fmt: skip
    assert not kinds(manifests, "ClusterRole")
    for namespace in ("desk", "desk-b"):
        assert _bound_rules(manifests, namespace) == rbac.namespaced_rules(peering=standby)


@pytest.mark.parametrize("standby", [False, True], ids=["alone", "standby"])
def test_cluster_wide_rbac_is_exactly_the_one_definition(standby: bool, tmp_path: Path) -> None:
    manifests = template(tmp_path, {"standby": {"enabled": standby}, "rbac": {"clusterWide": True}})
    assert not kinds(manifests, "Role")
    expected = [*rbac.namespaced_rules(peering=standby), *rbac.cluster_rules(peering=standby)]
    assert _bound_rules(manifests, None) == expected
    env = _env(_container(_operators(manifests)["operator"]))
    assert env["TS_OPERATOR_NAMESPACES"] == ""


def test_the_crd_is_the_one_in_crds_and_kept_on_uninstall(tmp_path: Path) -> None:
    link = CHART / "files" / "crds" / CRD_FILE.name
    assert link.is_symlink(), "one source: crds/"
    assert link.resolve() == CRD_FILE.resolve()
    crd = one(template(tmp_path), "CustomResourceDefinition")
    annotations = crd["metadata"].pop("annotations")
    assert annotations == {"helm.sh/resource-policy": "keep"}
    assert crd == yaml.safe_load(CRD_FILE.read_text())
    loose = one(template(tmp_path, {"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in loose["metadata"]
    assert not kinds(template(tmp_path, {"crds": {"install": False}}), "CustomResourceDefinition")


def test_the_operator_deployment(tmp_path: Path) -> None:
    manifests = template(tmp_path)
    (deployment,) = kinds(manifests, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    # The rendered NetworkPolicy admits the operator to Redis and Sentinel by these labels.
    assert network.OPERATOR_POD_LABELS.items() <= labels.items()
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert pod["serviceAccountName"] == one(manifests, "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pods.RUN_AS
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(deployment)
    assert container["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    env = _env(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == int(env["TS_OPERATOR_HEALTH_PORT"])
    assert ports["metrics"] == int(env["TS_OPERATOR_METRICS_PORT"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    assert env["TS_OPERATOR_NAMESPACES"] == "desk"
    assert env["TS_OPERATOR_IMAGE"] == container["image"] == DEFAULT_IMAGE


def test_every_operator_variable_is_a_valid_setting(tmp_path: Path) -> None:
    """The operator refuses a bad TS_OPERATOR_* value at start: the chart's all parse."""
    path = VALUES / "good" / "namespaced-several.yaml"
    for deployment in kinds(template(tmp_path, _values(path)), "Deployment"):
        env = _env(_container(deployment))
        fields = {f"TS_OPERATOR_{name.upper()}" for name in OperatorConfig.model_fields}
        assert set(env) <= fields, set(env) - fields
        config = load_settings(OperatorConfig, env)  # what the operator does at start
        assert config.namespaces == ("desk-a", "desk-b", "desk-c")
        assert config.metrics_port == 9001


def test_standby_operator_with_kopf_peering(tmp_path: Path) -> None:
    manifests = template(tmp_path, {"standby": {"enabled": True}, "watchNamespaces": ["a", "b"]})
    operators = _operators(manifests)
    assert set(operators) == {"operator", "operator-standby"}
    active, standby = (_env(_container(operators[k])) for k in ("operator", "operator-standby"))
    assert active["TS_OPERATOR_STANDALONE"] == standby["TS_OPERATOR_STANDALONE"] == "false"
    assert int(active["TS_OPERATOR_PEERING_PRIORITY"]) > int(
        standby["TS_OPERATOR_PEERING_PRIORITY"]
    )
    peerings = kinds(manifests, "KopfPeering")
    assert {p["metadata"]["namespace"] for p in peerings} == {"a", "b"}
    assert {p["metadata"]["name"] for p in peerings} == {active["TS_OPERATOR_PEERING_NAME"]}
    # Created after their CRD (same release): Helm maps every template before applying any.
    for peering in peerings:
        assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    for deployment in operators.values():
        (pod_id,) = [e for e in _container(deployment)["env"] if e["name"] == "POD_ID"]
        assert pod_id["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    crds = {c["spec"]["names"]["kind"] for c in kinds(manifests, "CustomResourceDefinition")}
    assert crds == {"TradingStack", "KopfPeering", "ClusterKopfPeering"}
    alone = _operators(template(tmp_path))
    assert _env(_container(alone["operator"]))["TS_OPERATOR_STANDALONE"] == "true"


def test_service_monitor_scrapes_the_operators_metrics_port(tmp_path: Path) -> None:
    manifests = template(tmp_path, {"metrics": {"serviceMonitor": {"enabled": True}}})
    monitor, service = one(manifests, "ServiceMonitor"), one(manifests, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    (deployment,) = kinds(manifests, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for p in _container(deployment)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    assert not kinds(template(tmp_path), "ServiceMonitor")


def test_chart_and_image_versions_follow_the_package() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == version
    assert DEFAULT_IMAGE.endswith(f":{version}")


def install_notes(home: Path, *values: str) -> str:
    """The NOTES helm prints after an install (``install --dry-run=client``; no cluster)."""
    argv = [tool("helm"), "install", "ts", str(CHART), "--namespace", "ops", "--dry-run=client"]
    for value in values:
        argv += ["--set", value]
    result = run(argv, home)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


@pytest.mark.parametrize(
    ("values", "stacks"),
    [((), "ops"), (("rbac.clusterWide=true",), "ops"), (("watchNamespaces={a,b}",), "a"),
     (("watchNamespaces={b,ops}",), "ops")],
)  # fmt: skip
def test_install_notes_create_the_stack_where_the_operator_watches(
    values: tuple[str, ...], stacks: str, tmp_path: Path
) -> None:
    """The notes said to apply the example in the release's namespace even when
    watchNamespaces leaves it out, where no operator would ever reconcile it."""
    notes = install_notes(tmp_path, *values)
    commands = [line.split() for line in notes.splitlines() if line.strip().startswith("kubectl")]
    namespaces = {words[2] for words in commands if words[3] in ("apply", "wait", "get", "patch")}
    assert namespaces == {stacks}
    assert "--timeout=15m" in notes  # as the README's quick start
