"""Render: disruption budgets for gate and bots, pull Secrets everywhere, narrow Lease RBAC."""

from __future__ import annotations

from tests.unit.render_corpus import by_kind, children, one, pod_spec, workloads

from tradingstack_operator.render.pods import BOT_LABEL


def test_gate_and_every_bot_have_a_budget_of_one_eviction_at_a_time() -> None:
    manifests = children("full")
    names = {p["metadata"]["name"] for p in by_kind(manifests, "PodDisruptionBudget")}
    assert {"live-gate", "live-bot-bb-btc", "live-bot-rsi"} <= names
    assert not names & {"live-clusters", "live-governor", "live-intel"}
    for name in ("live-gate", "live-bot-bb-btc", "live-bot-rsi"):
        pdb = one(manifests, "PodDisruptionBudget", name)
        deployment = one(manifests, "Deployment", name)
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        # The budget covers exactly the Deployment's pods: one bot's never another's.
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    bot = one(manifests, "PodDisruptionBudget", "live-bot-rsi")
    assert bot["spec"]["selector"]["matchLabels"][BOT_LABEL] == "rsi"


def test_pull_secrets_on_every_pod_and_service_account() -> None:
    manifests = children("full")
    wanted = [{"name": "registry-example"}, {"name": "registry-mirror"}]
    assert workloads(manifests)
    for workload in workloads(manifests):
        assert pod_spec(workload)["imagePullSecrets"] == wanted, workload["metadata"]["name"]
    accounts = by_kind(manifests, "ServiceAccount")
    assert accounts
    for account in accounts:
        assert account["imagePullSecrets"] == wanted


def test_no_pull_secrets_renders_no_empty_list() -> None:
    manifests = children("minimal")
    for workload in workloads(manifests):
        assert "imagePullSecrets" not in pod_spec(workload)
    for account in by_kind(manifests, "ServiceAccount"):
        assert "imagePullSecrets" not in account


def test_a_bot_may_read_and_renew_its_own_lease_only() -> None:
    manifests = children("full")
    role = one(manifests, "Role", "live-bot-rsi")
    named = [r for r in role["rules"] if "get" in r["verbs"] or "update" in r["verbs"]]
    assert [r["resourceNames"] for r in named] == [["live-bot-rsi"]]
    deployment = one(manifests, "Deployment", "live-bot-rsi")
    environ = {e["name"]: e.get("value") for e in pod_spec(deployment)["containers"][0]["env"]}
    assert environ["TS_LEASE_NAME"] == "live-bot-rsi"


def test_singletons_hold_their_own_lease() -> None:
    manifests = children("full")
    for kind in ("clusters", "governor"):
        name = f"live-{kind}"
        deployment = one(manifests, "Deployment", name)
        pod = pod_spec(deployment)
        assert pod["serviceAccountName"] == name
        environ = {
            e["name"]: e.get("value", e.get("valueFrom")) for e in pod["containers"][0]["env"]
        }
        assert (environ["TS_LEADERSHIP"], environ["TS_LEASE_NAME"]) == ("kubernetes", name)
        assert environ["TS_LEASE_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        role = one(manifests, "Role", name)
        assert role["rules"][0]["resourceNames"] == [name]
        assert one(manifests, "RoleBinding", name)["subjects"][0]["name"] == name
        assert one(manifests, "ServiceAccount", name)["imagePullSecrets"]
    for kind in ("gate", "intel"):
        pod = pod_spec(one(manifests, "Deployment", f"live-{kind}"))
        assert "serviceAccountName" not in pod
        assert not [
            r for r in by_kind(manifests, "Role") if r["metadata"]["name"] == f"live-{kind}"
        ]


def test_lease_holders_alone_have_roles_each_bound_to_its_own_account() -> None:
    manifests = children("full")
    holders = {"live-bot-bb-btc", "live-bot-rsi", "live-clusters", "live-governor"}
    assert {r["metadata"]["name"] for r in by_kind(manifests, "Role")} == holders
    for role in by_kind(manifests, "Role"):
        own = role["metadata"]["name"]
        assert role["rules"] == [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": [own], "verbs": ["get", "update"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        ]  # fmt: skip
        binding = one(manifests, "RoleBinding", own)
        assert binding["roleRef"]["name"] == own
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": own, "namespace": "desk-live"}
        ]
