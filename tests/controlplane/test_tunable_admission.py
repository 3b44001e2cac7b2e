"""Every tunable at admission on the real API servers (1.37 and the oldest, 1.34).

The corpus is generated from the spec models' own declarations
(tests/unit/tunables_corpus.py): for every bounded number (each worker's and bot's
tunables, Redis and Sentinel timings, replicas) the values just past each bound, an
integer past a fractional bound, a fraction where a whole number is needed; for every
choice an unknown word, for every switch a string. Each is refused by the server before
it is stored, naming the field, as the model (render, up, the operator) refuses it. At
each bound's edge the server and the model agree: both admit it, or both refuse it for
the same fields (a relation such as the gate's staleness above the clusters' interval).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.controlplane import test_crd_acceptance as acceptance
from tests.harness.controlplane import ControlPlane
from tests.unit.tunables_corpus import TunableCase, edge_cases, tunable_cases

#: The same two servers (1.37 and the oldest, 1.34) and a namespace of this module's own.
apiserver = acceptance.apiserver
corpus_namespace = acceptance.corpus_namespace


def _fields_named(answer: dict[str, Any]) -> set[str]:
    """The fields a refusal names: its causes' fields (CEL rules report theirs in the
    message: ``spec.x.y: ...``)."""
    named = set()
    for cause in (answer.get("details") or {}).get("causes") or []:
        rule = acceptance._rule_message(cause)
        named.add(rule.split(": ", 1)[0] if rule else cause.get("field", ""))
    return named


@pytest.mark.parametrize("case", tunable_cases(), ids=lambda c: c.name)
def test_every_bad_tunable_is_refused_by_the_server_naming_it(
    apiserver: ControlPlane, corpus_namespace: str, case: TunableCase
) -> None:
    manifest = case.manifest()
    answer = acceptance._refusal(apiserver, corpus_namespace, manifest)
    model = acceptance._model_problems(manifest["spec"])
    assert any(p.startswith(f"{case.path}: ") for p in model), model
    # Strict decoding (a string where a boolean goes) answers without causes.
    assert case.path in _fields_named(answer) or case.path in answer["message"], answer
    causes = (answer.get("details") or {}).get("causes") or []
    rules = sorted(m for c in causes if (m := acceptance._rule_message(c)))
    if rules and len(rules) == len(causes):  # CEL rules alone: in the model's words, exactly
        assert rules == sorted(model)


@pytest.mark.parametrize("case", edge_cases(), ids=lambda c: c.name)
def test_at_each_bound_the_server_and_the_model_agree(
    apiserver: ControlPlane, corpus_namespace: str, case: TunableCase
) -> None:
    manifest = case.manifest()
    model = acceptance._model_problems(manifest["spec"])
    answer = _answer(apiserver, corpus_namespace, manifest)
    if answer is None:
        assert not model, f"the server admits {case.path}={case.value!r}; the model: {model}"
    else:
        assert model, f"the model admits {case.path}={case.value!r}; the server: {answer}"
        assert _fields_named(answer) == {p.split(": ", 1)[0] for p in model}, answer


def _answer(plane: ControlPlane, namespace: str, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The server's refusal, or None when it stored the manifest (deleted again)."""
    try:
        acceptance._create(plane, namespace, manifest)
    except ApiException as refused:
        if refused.status not in (400, 422):
            raise
        answer: dict[str, Any] = json.loads(refused.reason)
        return answer
    return None
