"""Gateway settings from the environment: no working secret by default outside development."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.settings import DEV_SECRET, Settings, SettingsError

STRONG = "s3cr3t-" + "x" * 40

ENV_VARS = [
    "CASEWORK_ENV",
    "JWT_SECRET",
    "GATEWAY_DB_URL",
    "AMQP_URI",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL",
    "RPC_TIMEOUT",
    "MAX_JSON_BYTES",
    "MAX_UPLOAD_BYTES",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("env", ["production", "staging", "Development", "prod"])
def test_outside_development_a_missing_secret_is_refused(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("CASEWORK_ENV", env)

    with pytest.raises(SettingsError, match="JWT_SECRET"):
        Settings.from_env()


def test_outside_development_an_empty_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "")

    with pytest.raises(SettingsError):
        Settings.from_env()


def test_outside_development_a_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 31)

    with pytest.raises(SettingsError, match="32"):
        Settings.from_env()


def test_outside_development_the_development_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", DEV_SECRET)

    with pytest.raises(SettingsError):
        Settings.from_env()


def test_production_with_a_strong_secret_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG)

    settings = Settings.from_env()

    assert settings.env == "production"
    assert settings.jwt_secret == STRONG


def test_development_falls_back_to_the_development_secret() -> None:
    settings = Settings.from_env()

    assert settings.env == "development"
    assert settings.jwt_secret == DEV_SECRET


def test_development_accepts_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "short")

    assert Settings.from_env().jwt_secret == "short"


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_URL", "postgresql+psycopg2://u:p@db:5432/gw")
    monkeypatch.setenv("AMQP_URI", "pyamqp://u:p@mq:5672/")
    monkeypatch.setenv("JWT_ISSUER", "iss-x")
    monkeypatch.setenv("JWT_AUDIENCE", "aud-x")
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "300")
    monkeypatch.setenv("RPC_TIMEOUT", "4")
    monkeypatch.setenv("MAX_JSON_BYTES", "2048")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "4096")

    s = Settings.from_env()

    assert (s.db_url, s.amqp_uri) == ("postgresql+psycopg2://u:p@db:5432/gw", "pyamqp://u:p@mq:5672/")
    assert (s.jwt_issuer, s.jwt_audience) == ("iss-x", "aud-x")
    assert (s.access_token_ttl, s.rpc_timeout, s.max_json_bytes, s.max_upload_bytes) == (300, 4.0, 2048, 4096)


def test_defaults_apply_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "")

    s = Settings.from_env()

    assert s.access_token_ttl == Settings.access_token_ttl
    assert s.max_json_bytes == Settings.max_json_bytes


@pytest.mark.parametrize("name", ["ACCESS_TOKEN_TTL", "MAX_JSON_BYTES", "MAX_UPLOAD_BYTES"])
@pytest.mark.parametrize("value", ["abc", "1e3", "10 MB", "0x10", "0", "-1"])
def test_integers_are_validated(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=name):
        Settings.from_env()


@pytest.mark.parametrize("value", ["abc", "0", "-2.5", "ten"])
def test_rpc_timeout_must_be_a_positive_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RPC_TIMEOUT", value)

    with pytest.raises(SettingsError, match="RPC_TIMEOUT"):
        Settings.from_env()


def test_rpc_timeout_may_be_fractional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPC_TIMEOUT", "2.5")

    assert Settings.from_env().rpc_timeout == 2.5


def test_settings_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().jwt_secret = "changed"  # type: ignore[misc]
