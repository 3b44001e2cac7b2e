"""The real API servers (1.37 and the oldest served, 1.34) and the spec model agree.

Each corpus manifest (tests/data/specs/{valid,invalid}) is created on the server: a valid
one is stored with the defaults the model gives; an invalid one is refused by both, and
the server's own message names the field given in the annotation
``test.tradingstack.io/expected-error``. When a CEL rule refuses it, the server's words
are the model's, letter for letter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.harness.controlplane import ControlPlane
from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.spec import (
    API_VERSION,
    KIND,
    PLURAL,
    RULES,
    SpecError,
    TradingStackSpec,
    parse_spec,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "specs"
EXPECTED = "test.tradingstack.io/expected-error"
VALID = sorted((CORPUS / "valid").glob("*.yaml"))
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))
#: How the API server words a CEL rule's message in a cause (1.34 adds the value's type).
CEL_CAUSE = re.compile(r'^Invalid value: (?:"object": )?(spec\..*)$')


@pytest.fixture(params=["1.37", "1.34"], scope="module")
def apiserver(request: pytest.FixtureRequest) -> ControlPlane:
    name = "control_plane" if request.param == "1.37" else "oldest_apiserver"
    plane: ControlPlane = request.getfixturevalue(name)
    return plane


@pytest.fixture(scope="module")
def corpus_namespace(apiserver: ControlPlane) -> str:
    return apiserver.create_namespace()


def _load(path: Path) -> dict[str, Any]:
    manifest = load_manifest(path)
    assert (manifest["apiVersion"], manifest["kind"]) == (API_VERSION, KIND)
    return manifest


def _collection(namespace: str) -> str:
    return f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}"


def _create(plane: ControlPlane, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create as kubectl does (strict field validation); the stored object."""
    body = {k: v for k, v in manifest.items() if k != "status"}
    body["metadata"] = {k: v for k, v in manifest["metadata"].items() if k != "namespace"}
    stored: dict[str, Any] = plane.rest(
        "POST", _collection(namespace) + "?fieldValidation=Strict", body
    )
    plane.rest("DELETE", f"{_collection(namespace)}/{manifest['metadata']['name']}")
    return stored


def _refusal(plane: ControlPlane, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as refused:
        _create(plane, namespace, manifest)
    assert refused.value.status in (400, 422), refused.value.reason
    answer: dict[str, Any] = json.loads(refused.value.reason)
    return answer


def _rule_message(cause: dict[str, Any]) -> str:
    """The text of a CEL rule's message in a cause; empty for other causes."""
    found = CEL_CAUSE.match(cause.get("message", ""))
    return found.group(1) if found else ""


def _model_problems(spec: dict[str, Any]) -> list[str]:
    try:
        parse_spec(spec)
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


def _stored_spec(model: TradingStackSpec) -> dict[str, Any]:
    # What the model holds, as the API server stores it: unset optionals are absent.
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_corpus_covers_valid_and_invalid() -> None:
    assert len(VALID) >= 5
    assert len(INVALID) >= len(RULES)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_stored_with_the_models_defaults(
    apiserver: ControlPlane, corpus_namespace: str, path: Path
) -> None:
    manifest = _load(path)
    stored = _create(apiserver, corpus_namespace, manifest)
    assert stored["spec"] == _stored_spec(parse_spec(manifest["spec"])), (
        "the server's defaults differ from the model's"
    )


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_refused_by_both_naming_the_field(
    apiserver: ControlPlane, corpus_namespace: str, path: Path
) -> None:
    manifest = _load(path)
    field = manifest["metadata"]["annotations"][EXPECTED]
    answer = _refusal(apiserver, corpus_namespace, manifest)
    model_problems = _model_problems(manifest["spec"])
    assert model_problems, f"the model accepts {path.name}; the server says {answer['message']}"
    assert any(p.startswith(field) for p in model_problems), model_problems
    causes = (answer.get("details") or {}).get("causes") or []
    # Strict decoding (an unknown field, a wrong type) answers without causes.
    assert field in answer["message"] or any(
        c.get("field", "").startswith(field) or field in c.get("message", "") for c in causes
    ), answer["message"]
    rule_messages = sorted(_rule_message(c) for c in causes if _rule_message(c))
    if rule_messages:  # a CEL rule broken: Python and CEL must word it the same
        assert sorted(model_problems) == rule_messages


def test_every_rule_is_broken_by_some_corpus_manifest(
    apiserver: ControlPlane, corpus_namespace: str
) -> None:
    fields = {
        c.get("field")
        for path in INVALID
        for c in (_refusal(apiserver, corpus_namespace, _load(path)).get("details") or {}).get(
            "causes", []
        )
        if _rule_message(c)
    }
    for rule in RULES:
        assert f"spec{rule.field_path}" in fields, f"no corpus case breaks {rule.summary!r}"


def test_minimal_spec_defaults_agree(apiserver: ControlPlane, corpus_namespace: str) -> None:
    manifest = _load(CORPUS / "valid" / "minimal.yaml")
    stored = _create(apiserver, corpus_namespace, manifest)
    # Spot checks, so a default lost on both sides at once is still noticed.
    assert stored["spec"]["redis"]["replicas"] == 3
    assert stored["spec"]["redis"]["sentinel"]["quorum"] == 2
    assert stored["spec"]["workers"]["clusters"]["correlationThreshold"] == 0.7
    assert stored["spec"]["workers"]["governor"]["budgetTtlSeconds"] == 300
    assert stored["spec"]["bots"] == []
