"""Strategy parameters at admission: whatever a bot refuses at start, the spec refuses first.

One definition (the strategies' parameter models) becomes the CRD's CEL rules on each
bot and the spec model's checks; the bot validates ``TS_PARAMS`` with the model itself.
Field case 02 (right types, unusable values, a misspelt key) and a corpus generated
from every rule go through the model, ``render`` and the bot's settings; a property
test holds the spec and the bot to the same verdict on any parameters. The same corpus
meets the real API servers in tests/controlplane/test_param_admission.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.params_corpus import ParamCase, param_cases

from tradingstack_operator.manifests import load_manifest
from tradingstack_operator.render.cli import render_yaml
from tradingstack_operator.spec import SpecError, parse_spec
from tradingstack_operator.spec.params import PARAM_RULES
from tradingstack_workers.bots.settings import BotSettings
from tradingstack_workers.bots.strategies import STRATEGIES
from tradingstack_workers.runtime.settings import SettingsError, load_settings

CASE02 = Path(__file__).parents[1] / "data" / "cases" / "case02-bot-params-out-of-range.yaml"
CASES = param_cases()


def model_problems(manifest: dict[str, Any]) -> list[str]:
    try:
        parse_spec(manifest["spec"])
    except SpecError as exc:
        return sorted(str(p) for p in exc.problems)
    return []


def test_case02_is_refused_by_the_crd_the_model_and_render_naming_each_param(
    tmp_path: Path,
) -> None:
    manifest = load_manifest(CASE02)
    expected = [
        "spec.bots[0].params.lookbak: unknown parameter of rsi_mean_reversion; "
        "expected one of overbought, oversold, period",
        "spec.bots[0].params.overbought: must be a number > 50 and < 100",
        "spec.bots[0].params.oversold: must be < overbought",
        "spec.bots[0].params.oversold: must be a number > 0 and < 50",
        "spec.bots[0].params.period: must be a whole number >= 2 and <= 10000",
    ]
    assert model_problems(manifest) == expected
    with pytest.raises(SpecError) as caught:
        render_yaml(CASE02)
    assert sorted(str(p) for p in caught.value.problems) == expected


def test_case02_is_what_the_bot_would_have_refused_at_start() -> None:
    params = load_manifest(CASE02)["spec"]["bots"][0]["params"]
    with pytest.raises(SettingsError, match=r"TS_PARAMS: params\.lookbak: unknown parameter"):
        bot_settings("rsi_mean_reversion", params)


def test_the_corpus_breaks_every_parameter_rule() -> None:
    broken = set()
    for case in CASES:
        broken |= {r for r in PARAM_RULES if r.check(case.strategy, case.params) is not None}
    assert broken == set(PARAM_RULES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_bad_parameter_is_refused_by_the_model_and_the_bot_naming_it(case: ParamCase) -> None:
    model = model_problems(case.manifest())
    assert any(p.startswith(f"{case.path}: ") for p in model), model
    with pytest.raises(SettingsError, match=r"TS_PARAMS: params\."):
        bot_settings(case.strategy, case.params)


def bot_settings(strategy: str, params: dict[str, Any]) -> BotSettings:
    env = {"TS_BOT_NAME": "alpha", "TS_STRATEGY": strategy, "TS_SYMBOLS": "BTCUSDT",
           "TS_PARAMS": json.dumps(params)}  # fmt: skip
    return load_settings(BotSettings, env)


NAMES = sorted({name for cls in STRATEGIES.values() for name in cls.Params.model_fields})
VALUES = st.one_of(
    st.integers(min_value=-5, max_value=12_000).map(float),
    st.floats(min_value=-10, max_value=120, allow_nan=False).map(lambda v: round(v, 2)),
    st.sampled_from([0.0, 1.0, 2.0, 50.0, 100.0, 10_000.0, 10_001.0, 1e300]),
)


@settings(max_examples=150)
@given(
    strategy=st.sampled_from(sorted(STRATEGIES)),
    params=st.dictionaries(st.sampled_from([*NAMES, "lookbak", "perod"]), VALUES, max_size=4),
)
def test_the_spec_and_the_bot_agree_on_any_parameters(
    strategy: str, params: dict[str, float]
) -> None:
    manifest = ParamCase("p", strategy, params, "").manifest()
    spec_refuses = bool(model_problems(manifest))
    try:
        bot_settings(strategy, params)
        bot_refuses = False
    except SettingsError:
        bot_refuses = True
    assert spec_refuses == bot_refuses, (strategy, params, model_problems(manifest))
