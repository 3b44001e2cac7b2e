"""Updates the Redis StatefulSet cannot carry out are refused by the real API servers
(1.37 and 1.34), in the model's words.

A refused update never reaches the operator, so it can never make every later apply of
the StatefulSet fail (it answers 422 to a changed volumeClaimTemplates).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.controlplane.stacks import Stacks
from tests.harness.controlplane import ControlPlane
from tradingstack_operator.spec import TRANSITION_RULES, parse_spec, transition_problems

SPEC: dict[str, Any] = {"symbols": ["BTCUSDT"], "redis": {"storage": {"size": "1Gi"}}}
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"storage": {"size": "2Gi"}}, "spec.redis.storage.size"),
    ({"storage": {"size": "1Gi", "storageClassName": "fast"}}, "spec.redis.storage"),
    ({"replicas": 1}, "spec.redis.sentinel"),  # 3 -> 1 turns Sentinel off
    ({"sentinel": {"enabled": False}}, "spec.redis.sentinel"),
    ({"tls": {"enabled": True, "secretName": "tls"}}, "spec.redis.tls.enabled"),
]
ALLOWED: list[dict[str, Any]] = [
    {"replicas": 5, "sentinel": {"quorum": 3}},
    {"sentinel": {"downAfterMilliseconds": 2000}},
    {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
]
CEL_CAUSE = re.compile(r'^Invalid value: (?:"object": )?(spec\..*)$')


@pytest.fixture(params=["1.37", "1.34"], scope="module")
def stacks(request: pytest.FixtureRequest) -> Stacks:
    name = "control_plane" if request.param == "1.37" else "oldest_apiserver"
    plane: ControlPlane = request.getfixturevalue(name)
    return Stacks(plane, plane.create_namespace())


def _changed(change: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["redis"] |= change
    return spec


def _update(stacks: Stacks, name: str, change: dict[str, Any]) -> list[str]:
    """The rule messages of the server's refusal of the update (empty: accepted)."""
    stored = stacks.create(name, SPEC)
    refused: ApiException | None = None
    try:
        stacks.plane.rest("PUT", stacks.path(name), stored | {"spec": _changed(change)})
    except ApiException as exc:
        refused = exc
    finally:
        stacks.delete(name)
    if refused is None:
        return []
    assert refused.status == 422, refused.reason
    causes = (json.loads(refused.reason).get("details") or {}).get("causes") or []
    return [m.group(1) for c in causes if (m := CEL_CAUSE.match(c.get("message", "")))]


@pytest.mark.parametrize(("change", "field"), REFUSED, ids=[f for _, f in REFUSED])
def test_update_refused_by_both_with_the_same_words(
    stacks: Stacks, change: dict[str, Any], field: str
) -> None:
    refused = _update(stacks, "transition", change)
    model = transition_problems(parse_spec(SPEC), parse_spec(_changed(change)))
    assert [str(p) for p in model] == refused
    assert refused
    assert refused[0].startswith(field)


@pytest.mark.parametrize("change", ALLOWED)
def test_update_allowed_by_both(stacks: Stacks, change: dict[str, Any]) -> None:
    assert _update(stacks, "transition", change) == []
    assert transition_problems(parse_spec(SPEC), parse_spec(_changed(change))) == []


def test_a_new_stack_may_choose_anything(stacks: Stacks) -> None:
    """Transition rules run on updates only: the same specs are valid as creations."""
    for i, (change, _) in enumerate(REFUSED):
        stacks.create(f"fresh-{i}", _changed(change))
        stacks.delete(f"fresh-{i}")


def test_every_transition_rule_is_exercised() -> None:
    fields = {f for _, f in REFUSED}
    for rule in TRANSITION_RULES:
        assert f"spec{rule.field_path}" in fields or any(
            f.startswith(f"spec{rule.field_path}") for f in fields
        ), rule.summary
