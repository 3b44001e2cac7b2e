"""Strategy parameters at admission on the real API servers (1.37 and the oldest, 1.34).

The corpus is generated from the strategies' own definitions (tests/unit/params_corpus.py:
every bound, whole-number rule, relation and a misspelt name of every strategy), plus
field case 02. Each manifest is refused by the server before it is stored, the server's
causes name ``spec.bots[0].params`` and the parameter, in the words the spec model uses;
what the bot itself would refuse at start is refused here first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.controlplane import test_crd_acceptance as acceptance
from tests.harness.controlplane import ControlPlane
from tests.unit.params_corpus import ParamCase, param_cases
from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.spec import API_VERSION, PLURAL, SpecError, parse_spec

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"
CASE02 = CASES / "case02-bot-params-out-of-range.yaml"
PARAM_CASES = param_cases()
#: The same two servers (1.37 and the oldest, 1.34) and a namespace of this module's own.
apiserver = acceptance.apiserver
corpus_namespace = acceptance.corpus_namespace
#: A bot's parameter rule reports at ``spec.bots[i].params``: ``<param>: <problem>``.
RULE_CAUSE = re.compile(r'^Invalid value: (?:"object": )?(.*)$')


def refusal(plane: ControlPlane, namespace: str, manifest: dict[str, Any]) -> list[str]:
    """The server's causes as ``field: message`` texts (it must refuse, never store)."""
    collection = f"/apis/{API_VERSION}/namespaces/{namespace}/{PLURAL}"
    with pytest.raises(ApiException) as refused:
        plane.rest("POST", collection + "?fieldValidation=Strict", manifest)
    assert refused.value.status in (400, 422), refused.value.reason
    causes = (json.loads(refused.value.reason).get("details") or {}).get("causes", [])
    texts = []
    for cause in causes:
        found = RULE_CAUSE.match(cause.get("message", ""))
        message = found.group(1) if found else cause.get("message", "")
        texts.append(f"{cause.get('field')}.{message}")
    return sorted(texts)


def model_problems(manifest: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as refused:
        parse_spec(manifest["spec"])
    return sorted(str(p) for p in refused.value.problems)


def test_case02_is_refused_before_it_is_stored(
    apiserver: ControlPlane, corpus_namespace: str
) -> None:
    manifest = load_manifest(CASE02)
    causes = refusal(apiserver, corpus_namespace, manifest)
    assert causes == model_problems(manifest)
    for param in ("period", "oversold", "overbought", "lookbak"):
        assert any(c.startswith(f"spec.bots[0].params.{param}: ") for c in causes), causes


@pytest.mark.parametrize("case", PARAM_CASES, ids=lambda c: c.name)
def test_every_bad_parameter_is_refused_by_the_server_naming_it(
    apiserver: ControlPlane, corpus_namespace: str, case: ParamCase
) -> None:
    manifest = case.manifest()
    causes = refusal(apiserver, corpus_namespace, manifest)
    assert causes == model_problems(manifest)
    assert any(c.startswith(f"{case.path}: ") for c in causes), causes
