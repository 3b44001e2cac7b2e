"""A bad environment is refused by name without repeating a secret it holds."""

from __future__ import annotations

import pytest

from tests.security.leaks import planted
from tradingstack_workers.gate.settings import GateSettings
from tradingstack_workers.runtime.settings import SettingsError, load_settings, redact_url

SECRET = planted("env")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"TS_REDIS_URL": f"redis://:{SECRET}@127.0.0.1:notaport/0"}, "TS_REDIS_URL"),
        ({"TS_REDIS_URL": f"redis://app:{SECRET}@127.0.0.1:99999/0"}, "TS_REDIS_URL"),
        ({"TS_REDIS_URL": f"http://:{SECRET}@127.0.0.1:6379/0"}, "TS_REDIS_URL"),
        ({"TS_REDIS_URL": f"redis://:{SECRET}@[::1/0"}, "TS_REDIS_URL"),
        ({"TS_REDIS_PASSWORD": SECRET, "TS_REDIS_PASSWORD_FILE": "/x"}, "TS_REDIS_PASSWORD"),
        ({"TS_REDIS_PASWORD": SECRET}, "TS_REDIS_PASWORD"),
        ({"TS_REDIS_PASSWORD": SECRET, "TS_HTTP_PORT": "x"}, "TS_HTTP_PORT"),
        ({"TS_REDIS_URL": f"redis://:{SECRET}@h:1/0", "TS_REDIS_SENTINELS": "h:2"}, "TS_REDIS"),
    ],
)
def test_settings_errors_name_the_variable_but_never_its_secret(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(GateSettings, environ)
    assert named in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_url_with_a_password_is_accepted_and_redacted_for_display() -> None:
    settings = load_settings(GateSettings, {"TS_REDIS_URL": f"redis://app:{SECRET}@h:6379/0"})
    assert settings.redis_url is not None
    assert redact_url(settings.redis_url) == "redis://app:***@h:6379/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"
