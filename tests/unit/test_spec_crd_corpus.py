"""The spec model and the CRD agree: each corpus manifest is accepted or refused by both.

The corpus is tests/data/specs/{valid,invalid}/*.yaml; an invalid manifest names the field
it breaks in the annotation ``test.tradingstack.io/expected-error``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.apiserver_emulation import REPO, CrdProblem, admit, load_crd

from tradingstack_operator.spec import (
    API_VERSION,
    KIND,
    RULES,
    SpecError,
    TradingStackSpec,
    TradingStackStatus,
    parse_spec,
)

CORPUS = REPO / "tests" / "data" / "specs"
EXPECTED = "test.tradingstack.io/expected-error"
VALID = sorted((CORPUS / "valid").glob("*.yaml"))
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))
CRD = load_crd()


def _load(path: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    assert manifest["apiVersion"] == API_VERSION
    assert manifest["kind"] == KIND
    return manifest


def _names(path: str, field: str) -> bool:
    return path == field or path.startswith((f"{field}.", f"{field}["))


def _model_problems(spec: dict[str, Any]) -> list[str]:
    try:
        parse_spec(spec)
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


def _stored_spec(model: TradingStackSpec) -> dict[str, Any]:
    # What the model holds, as the API server would store it: unset optionals are absent.
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_corpus_covers_valid_and_invalid() -> None:
    assert len(VALID) >= 5
    assert len(INVALID) >= len(RULES)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_accepted_by_both_with_the_same_defaults(path: Path) -> None:
    manifest = _load(path)
    stored, crd_problems = admit(manifest, CRD)
    assert crd_problems == [], f"the CRD refuses {path.name}: {crd_problems}"
    model = parse_spec(manifest["spec"])
    assert stored["spec"] == _stored_spec(model), "CRD defaults differ from the model's"
    if "status" in manifest:
        status = TradingStackStatus.model_validate(manifest["status"])
        assert status.model_dump(mode="json", by_alias=True, exclude_none=True) == stored["status"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_refused_by_both_naming_the_field(path: Path) -> None:
    manifest = _load(path)
    field = manifest["metadata"]["annotations"][EXPECTED]
    _, crd_problems = admit(manifest, CRD)
    model_problems = _model_problems(manifest["spec"])

    assert crd_problems, f"the CRD accepts {path.name}, the model says {model_problems}"
    assert model_problems, f"the model accepts {path.name}, the CRD says {crd_problems}"
    assert any(p.startswith(field) for p in model_problems), model_problems
    assert any(_names(p.path, field) or field in p.message for p in crd_problems), crd_problems
    cel_messages = sorted(p.message for p in crd_problems if p.from_cel)
    if cel_messages:  # a rule broken: Python and CEL must word it the same
        assert sorted(model_problems) == cel_messages


def test_every_rule_is_broken_by_some_corpus_manifest() -> None:
    refused: list[CrdProblem] = [p for path in INVALID for p in admit(_load(path), CRD)[1]]
    cel_paths = {p.path for p in refused if p.from_cel}
    for rule in RULES:
        assert f"spec{rule.field_path}" in cel_paths, f"no corpus case breaks {rule.summary!r}"


def test_minimal_spec_defaults_agree() -> None:
    manifest = _load(CORPUS / "valid" / "minimal.yaml")
    stored, _ = admit(manifest, CRD)
    model = parse_spec(manifest["spec"])
    assert stored["spec"] == _stored_spec(model)
    # Spot checks, so a default lost on both sides at once is still noticed.
    assert stored["spec"]["redis"]["replicas"] == 3
    assert stored["spec"]["redis"]["sentinel"]["quorum"] == 2
    assert stored["spec"]["workers"]["clusters"]["correlationThreshold"] == 0.7
    assert stored["spec"]["workers"]["governor"]["budgetTtlSeconds"] == 300
    assert stored["spec"]["bots"] == []
    assert model.redis.sentinel_enabled is True
