"""Settings: parsing, defaults, cross-field rules, and the one-line error contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingstack_workers.runtime.settings import (
    RuntimeSettings,
    SettingsError,
    env_name,
    load_settings,
)


def load(**env: str) -> RuntimeSettings:
    return load_settings(RuntimeSettings, env)


def test_defaults_reach_redis_directly_with_no_replica_acks() -> None:
    settings = load()
    assert settings.redis_sentinels is None
    assert settings.write_replicas == 0
    assert settings.liveness_timeout == pytest.approx(7.5)
    assert settings.key_prefix == "quantum"


def test_sentinel_addresses_are_parsed_and_imply_one_replica_ack() -> None:
    settings = load(TS_REDIS_SENTINELS=" s-0.svc:26379, [::1]:26380 ,")
    assert settings.redis_sentinels == (("s-0.svc", 26379), ("::1", 26380))
    assert settings.write_replicas == 1
    assert load(TS_REDIS_SENTINELS="a:1", TS_REDIS_WRITE_REPLICAS="0").write_replicas == 0


def test_a_master_needs_a_majority_of_sentinels_unless_told() -> None:
    assert load(TS_REDIS_SENTINELS="a:1,b:1,c:1").sentinel_quorum == 2
    assert load(TS_REDIS_SENTINELS="a:1,b:1,c:1,d:1,e:1").sentinel_quorum == 3
    told = load(TS_REDIS_SENTINELS="a:1,b:1,c:1", TS_REDIS_SENTINEL_QUORUM="3")
    assert told.sentinel_quorum == 3


def test_a_password_file_breaking_the_rule_is_a_clear_setting_error(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(" s3cret\n")
    with pytest.raises(SettingsError) as err:
        load(TS_REDIS_PASSWORD_FILE=str(secret))
    assert f"TS_REDIS_PASSWORD_FILE: {secret} starts or ends with a blank" in str(err.value)
    assert "s3cret" not in str(err.value).replace(str(secret), "")


def test_password_comes_from_the_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    assert load(TS_REDIS_PASSWORD_FILE=str(secret)).password() == "s3cret"
    assert load(TS_REDIS_PASSWORD="inline").password() == "inline"
    assert load().password() is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TS_REDIS_SENTINELS": ""}, "TS_REDIS_SENTINELS (empty): needs at least one host:port"),
        ({"TS_REDIS_SENTINELS": "a:0"}, "outside 1..65535"),
        ({"TS_REDIS_SENTINELS": ":26379"}, "not host:port"),
        ({"TS_HEARTBEAT_INTERVAL_SECONDS": "0"}, "TS_HEARTBEAT_INTERVAL_SECONDS=0"),
        ({"TS_REDIS_DB": "16"}, "TS_REDIS_DB=16"),
        ({"TS_LOG_LEVEL": "LOUD"}, "TS_LOG_LEVEL=LOUD"),
        ({"TS_KEY_PREFIX": "a b"}, "TS_KEY_PREFIX=a b"),
        (
            {"TS_HEARTBEAT_INTERVAL_SECONDS": "5", "TS_LIVENESS_TIMEOUT_SECONDS": "5"},
            "TS_LIVENESS_TIMEOUT_SECONDS: 5.0 must exceed TS_HEARTBEAT_INTERVAL_SECONDS",
        ),
        ({"TS_REDIS_URL": "redis://x", "TS_REDIS_SENTINELS": "a:1"}, "choose one way"),
        ({"TS_REDIS_PASSWORD": "a", "TS_REDIS_PASSWORD_FILE": "/x"}, "both set"),
        ({"TS_REDIS_MASTERNAME": "m"}, "did you mean TS_REDIS_MASTER_NAME?"),
        (
            {"TS_REDIS_SENTINELS": "a:1,b:1", "TS_REDIS_SENTINEL_QUORUM": "3"},
            "TS_REDIS_SENTINEL_QUORUM: 3 is more than the 2 sentinels",
        ),
        ({"TS_REDIS_SENTINEL_QUORUM": "0"}, "TS_REDIS_SENTINEL_QUORUM=0"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(RuntimeSettings, env)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as err:
        load(TS_HTTP_PORT="-1", TS_REDIS_DB="x", TS_TYPO="1")
    message = str(err.value)
    assert all(name in message for name in ("TS_HTTP_PORT", "TS_REDIS_DB", "TS_TYPO"))


def test_a_secret_is_never_echoed_in_an_error() -> None:
    with pytest.raises(SettingsError) as err:
        load(TS_REDIS_PASSWORD="hunter2", TS_REDIS_PASSWORD_FILE="/x")
    assert "hunter2" not in str(err.value)


def test_env_name_is_the_contract_for_every_field() -> None:
    assert env_name("redis_master_name") == "TS_REDIS_MASTER_NAME"
    names = {env_name(f) for f in RuntimeSettings.model_fields}
    assert "TS_HEARTBEAT_INTERVAL_SECONDS" in names


@pytest.mark.parametrize(
    ("name", "value"),
    [("TS_REDIS_DB", "3"), ("TS_LOOKBACK_POINTS", "500"), ("TS_REDIS_URL", "redis://x:1/0")],
)
def test_only_the_mapping_given_is_read_never_the_real_environment(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A developer's or CI's stray TS_* variable must not change what a test sees."""
    monkeypatch.setenv(name, value)
    settings = load_settings(RuntimeSettings, environ={})
    assert (settings.redis_db, settings.redis_url) == (0, None)
    from tradingstack_workers.clusters.settings import ClustersSettings  # noqa: PLC0415

    assert load_settings(ClustersSettings, environ={}).lookback_points == 360


def test_the_real_environment_is_read_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TS_REDIS_DB", "3")
    assert load_settings(RuntimeSettings).redis_db == 3
