"""The operator's TS_OPERATOR_* settings: the workers' loader, so typos are refused too."""

from __future__ import annotations

import pytest

from tradingstack_operator.config import OperatorConfig
from tradingstack_workers.runtime.settings import SettingsError, load_settings


def test_defaults_and_a_comma_list_of_namespaces() -> None:
    config = load_settings(OperatorConfig, {"TS_OPERATOR_NAMESPACES": " a, ,b "})
    assert config.namespaces == ("a", "b")
    assert config.resync_seconds == 30
    assert load_settings(OperatorConfig, {}).namespaces == ()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TS_OPERATOR_RESYNC_SECOND": "5"},
         "TS_OPERATOR_RESYNC_SECOND: not a setting of the operator "
         "(did you mean TS_OPERATOR_RESYNC_SECONDS?)"),
        ({"TS_OPERATOR_RESYNC_SECONDS": "-5"},
         "TS_OPERATOR_RESYNC_SECONDS=-5: Input should be greater than 0"),
        ({"TS_OPERATOR_STANDALONE": "maybe"}, "TS_OPERATOR_STANDALONE=maybe: "),
        ({"TS_OPERATOR_EVENT_LEVEL": "LOUD"}, "TS_OPERATOR_EVENT_LEVEL=LOUD: "),
    ],
)  # fmt: skip
def test_unknown_or_bad_variables_are_refused_naming_them(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(OperatorConfig, env)
    assert expected in str(err.value)


def test_worker_variables_beside_the_operators_are_not_its_business() -> None:
    """The operator's pod may carry TS_* for other tools; only its prefix is judged."""
    config = load_settings(OperatorConfig, {"TS_REDIS_DB": "3", "TS_OPERATOR_MAX_WORKERS": "4"})
    assert config.max_workers == 4


def test_only_the_mapping_given_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TS_OPERATOR_RESYNC_SECOND", "5")
    assert load_settings(OperatorConfig, {}).resync_seconds == 30
    with pytest.raises(SettingsError, match="TS_OPERATOR_RESYNC_SECOND"):
        load_settings(OperatorConfig)
