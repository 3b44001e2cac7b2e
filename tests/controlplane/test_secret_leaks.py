"""No Redis password in anything the operator writes or prints (security checks, issue #17).

`tradingstack operator` runs as a real process against the real control plane with two
stacks: one naming a Secret that holds a planted password, one whose password the
operator generates; for each, the operator also generates the passwords of its four ACL
users (the ``<stack>-redis-users`` Secret). Every Event of the namespace, both stacks
(status and metadata), every ConfigMap, the labels and annotations of every child, the
operator's log lines and its /metrics are searched for every one of these passwords,
plain and base64-encoded. Only the Secrets hold them.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from tests.controlplane.conftest import WAIT
from tests.controlplane.stacks import SPEC, Stacks
from tests.controlplane.test_operator_process import start_operator
from tests.harness.controlplane import ControlPlane
from tests.harness.redis_procs import free_port
from tests.harness.reliability import record
from tests.security.leaks import found_in, planted
from tradingstack_operator.render import names
from tradingstack_operator.render.redis_scripts import USERS

PASSWORD = planted("redis-secret")


def _get(plane: ControlPlane, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = plane.rest("GET", path)["items"]
    return items


def test_no_password_in_events_status_configmaps_annotations_logs_or_metrics(
    control_plane: ControlPlane, namespace: str
) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "planted-auth"},
              "stringData": {"password": PASSWORD}}  # fmt: skip
    control_plane.rest("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)
    metrics_port = free_port()
    process = start_operator(
        control_plane,
        namespace,
        TS_OPERATOR_METRICS_PORT=str(metrics_port),
        TS_OPERATOR_EVENT_LEVEL="DEBUG",
    )
    stacks = Stacks(control_plane, namespace)
    outputs: dict[str, str] = {}
    try:
        stacks.create("given", {**SPEC, "redis": {"auth": {"existingSecret": "planted-auth"}}})
        stacks.create("generated")
        for name in ("given", "generated"):
            stacks.wait_condition(name, "Ready", timeout=WAIT)
        generated_path = f"/api/v1/namespaces/{namespace}/secrets/{names.redis_auth('generated')}"
        generated = control_plane.rest("GET", generated_path)
        generated_password = base64.b64decode(generated["data"]["password"]).decode()
        # Each stack's ACL users (replication, sentinel, worker, exporter): generated too.
        users = {
            name: control_plane.rest(
                "GET", f"/api/v1/namespaces/{namespace}/secrets/{names.redis_users(name)}"
            )
            for name in ("given", "generated")
        }
        user_passwords = [base64.b64decode(v).decode() for u in users.values()
                          for v in u["data"].values()]  # fmt: skip
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
            outputs["operator /metrics"] = r.read().decode()
        base = f"/api/v1/namespaces/{namespace}"
        for event in _get(control_plane, f"{base}/events"):
            outputs[f"Event {event['metadata']['name']}"] = json.dumps(event)
        for event in _get(control_plane, f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"):
            outputs[f"events.k8s.io {event['metadata']['name']}"] = json.dumps(event)
        for name in ("given", "generated"):
            outputs[f"TradingStack {name}"] = json.dumps(stacks.get(name))
            for child in stacks.children(name):
                if child["kind"] != "Secret":
                    where = f"{child['kind']} {child['metadata']['name']}"
                    outputs[where] = json.dumps(child)
        for config_map in _get(control_plane, f"{base}/configmaps"):
            outputs[f"ConfigMap {config_map['metadata']['name']}"] = json.dumps(config_map)
        for pod in _get(control_plane, f"{base}/pods"):
            meta = pod["metadata"]
            outputs[f"Pod {meta['name']}"] = json.dumps([meta.get("annotations"), meta["labels"]])
    finally:
        process.stop(WAIT)
    outputs["operator log"] = process.output()
    assert any(k.startswith("Event ") for k in outputs)  # there was something to search
    assert "applying" in outputs["operator log"]
    assert any(k.startswith("ConfigMap ") for k in outputs)
    # The search finds a password where it belongs: the Secret, base64-encoded.
    assert found_in({"Secret": json.dumps(generated)}, [generated_password])
    assert len(user_passwords) == 2 * len(USERS)
    assert len(set(user_passwords)) == len(user_passwords)
    for password in user_passwords:
        assert found_in({"Secret": json.dumps(users)}, [password])
    assert found_in(outputs, [PASSWORD, generated_password, *user_passwords]) == []
    record("security", {"check": "tests/controlplane/test_secret_leaks.py: operator outputs"
                        " (admin and ACL users' passwords)", "outcome": "passed",
                        "outputs_searched": len(outputs)})  # fmt: skip
