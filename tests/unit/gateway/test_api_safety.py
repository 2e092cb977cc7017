"""Idempotency keys, refresh tokens, API keys, rate limits, CORS, tracing and metrics in-process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from casekit.db import utcnow
from gateway.app import traceparent
from gateway.users import ApiKey, IdempotencyRecord, User
from tests.unit.gateway.helpers import Gateway

CASE = {"type": "complaint", "title": "Boiler"}


@pytest.fixture
def gateway() -> Gateway:
    gw = Gateway()
    gw.add_user("u-1", ["agent"])
    gw.add_user("u-2", ["agent"])
    gw.add_user("admin-1", ["admin"])
    counter = {"n": 0}

    def create_case(body: dict, _key: Any) -> dict:
        counter["n"] += 1
        return {"id": f"case-{counter['n']}", "version": 1, "created": True, **body}

    gw.rpc.answers[("cases", "create_case")] = create_case
    gw.rpc.answers[("cases", "add_note")] = lambda case_id, version, body: {
        "id": case_id,
        "version": version + 1,
        "n": len(gw.rpc.calls),
    }
    gw.rpc.answers[("cases", "list_cases")] = {"items": [], "next_cursor": None}
    return gw


def note(gw: Gateway, key: str | None, text: str = "hello", user: str = "u-1") -> Any:
    headers = {**gw.auth(user), "If-Match": '"1"'}
    if key is not None:
        headers["Idempotency-Key"] = key
    return gw.client.post("/api/v1/cases/c-1/notes", json={"body": text}, headers=headers)


def test_without_a_key_every_post_runs(gateway: Gateway) -> None:
    first, second = note(gateway, None), note(gateway, None)

    assert first.status_code == second.status_code == 200
    assert len(gateway.rpc.calls) == 2


def test_a_retry_with_the_same_key_replays_the_stored_response(gateway: Gateway) -> None:
    first = note(gateway, "k-1")
    second = note(gateway, "k-1")

    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(gateway.rpc.calls) == 1


def test_the_same_key_with_a_different_body_is_422(gateway: Gateway) -> None:
    assert note(gateway, "k-1").status_code == 200
    response = note(gateway, "k-1", text="something else")

    assert response.status_code == 422
    assert response.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(gateway.rpc.calls) == 1


def test_keys_are_per_principal(gateway: Gateway) -> None:
    assert note(gateway, "shared", user="u-1").status_code == 200
    assert note(gateway, "shared", user="u-2").headers.get("Idempotent-Replayed") is None
    assert len(gateway.rpc.calls) == 2


def test_a_retry_while_the_first_is_running_is_409(gateway: Gateway) -> None:
    with gateway.sessions.begin() as s:
        s.add(
            IdempotencyRecord(
                principal="u-1",
                key="k-busy",
                fingerprint="in-flight",
                state="pending",
                locked_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=24),
            )
        )
    response = note(gateway, "k-busy")

    assert response.status_code == 409
    assert response.get_json()["code"] == "REQUEST_IN_PROGRESS"
    assert response.headers["Retry-After"] == "1"
    assert gateway.rpc.calls == []


def test_an_expired_key_runs_the_request_again(gateway: Gateway) -> None:
    assert note(gateway, "k-old").status_code == 200
    with gateway.sessions.begin() as s:
        s.get(IdempotencyRecord, ("u-1", "k-old")).expires_at = utcnow() - timedelta(seconds=1)

    again = note(gateway, "k-old", text="a new request")
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") is None
    assert len(gateway.rpc.calls) == 2


def test_keys_are_kept_for_at_least_a_day(gateway: Gateway) -> None:
    note(gateway, "k-day")
    with gateway.sessions() as s:
        row = s.get(IdempotencyRecord, ("u-1", "k-day"))
        assert row.expires_at.replace(tzinfo=None) >= (utcnow() + timedelta(hours=23, minutes=59)).replace(
            tzinfo=None
        )


def test_a_5xx_frees_the_key(gateway: Gateway) -> None:
    from casekit.errors import Unavailable

    gateway.rpc.answers[("cases", "add_note")] = Unavailable("down")
    assert note(gateway, "k-5xx").status_code == 503
    gateway.rpc.answers[("cases", "add_note")] = {"id": "c-1", "version": 2}

    assert note(gateway, "k-5xx").status_code == 200


def test_opening_a_case_passes_a_completed_key_to_the_service(gateway: Gateway) -> None:
    headers = {**gateway.auth("u-1"), "Idempotency-Key": "open-1"}
    assert gateway.client.post("/api/v1/cases", json=CASE, headers=headers).status_code == 201
    gateway.client.post("/api/v1/cases", json=CASE, headers=headers)

    assert [c[2] for c in gateway.rpc.calls] == ["create_case", "create_case"]
    assert gateway.rpc.calls[1][3][1] == "open-1"  # the service dedupes by the key itself
    different = gateway.client.post("/api/v1/cases", json={**CASE, "title": "x"}, headers=headers)
    assert different.status_code == 422


def test_an_oversized_key_is_422(gateway: Gateway) -> None:
    assert note(gateway, "k" * 300).status_code == 422


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_session(gateway: Gateway) -> None:
    from argon2 import PasswordHasher

    with gateway.sessions.begin() as s:
        s.get(User, "u-1").password_hash = PasswordHasher().hash("long-enough-password")
    pair = gateway.client.post(
        "/api/v1/auth/token", json={"username": "u-1", "password": "long-enough-password"}
    ).get_json()
    assert pair["refresh_token"] and pair["access_token"]

    second = gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200
    newer = second.get_json()["refresh_token"]

    replay = gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401
    assert gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": newer}).status_code == 401


def test_an_api_key_is_stored_hashed_scoped_and_revocable(gateway: Gateway) -> None:
    created = gateway.client.post(
        "/api/v1/api-keys",
        json={"name": "crm sync", "roles": ["agent"], "scopes": ["read"]},
        headers=gateway.auth("admin-1"),
    )
    assert created.status_code == 201
    key = created.get_json()["key"]
    with gateway.sessions() as s:
        stored = s.get(ApiKey, created.get_json()["id"])
        assert key.split("_")[-1] not in (stored.secret_hash, stored.prefix)

    assert gateway.client.get("/api/v1/cases", headers={"X-API-Key": key}).status_code == 200
    assert gateway.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    write = gateway.client.post("/api/v1/cases", json=CASE, headers={"X-API-Key": key})
    assert write.status_code == 403
    assert gateway.rpc.calls[-1][0].user_id.startswith("apikey:")

    revoked = gateway.client.delete(
        f"/api/v1/api-keys/{created.get_json()['id']}", headers=gateway.auth("admin-1")
    )
    assert revoked.status_code == 200
    assert gateway.client.get("/api/v1/cases", headers={"X-API-Key": key}).status_code == 401
    forged = key[:-4] + "AAAA"
    assert gateway.client.get("/api/v1/cases", headers={"X-API-Key": forged}).status_code == 401


def test_only_admins_manage_api_keys(gateway: Gateway) -> None:
    body = {"name": "x", "roles": ["admin"]}
    assert gateway.client.post("/api/v1/api-keys", json=body, headers=gateway.auth("u-1")).status_code == 403
    assert gateway.client.get("/api/v1/api-keys", headers=gateway.auth("u-1")).status_code == 403


def test_rate_limits_answer_429_with_retry_after() -> None:
    gw = Gateway(rate_limit_user="3/minute", rate_limit_ip="100/minute", rate_limit_auth="2/minute")
    gw.add_user("u-1", ["agent"])
    gw.rpc.answers[("cases", "list_cases")] = {"items": [], "next_cursor": None}
    statuses = [gw.client.get("/api/v1/cases", headers=gw.auth("u-1")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = gw.client.get("/api/v1/cases", headers=gw.auth("u-1"))
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["code"] == "RATE_LIMITED"

    logins = [gw.client.post("/api/v1/auth/token", json={"username": "x", "password": "y"}) for _ in range(3)]
    assert [r.status_code for r in logins] == [401, 401, 429]
    assert gw.client.get("/healthz").status_code == 200  # probes are never limited


def test_the_ip_limit_applies_to_anonymous_callers() -> None:
    gw = Gateway(rate_limit_ip="2/minute")
    statuses = [gw.client.get("/api/v1/cases").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_cors_allows_configured_origins_only() -> None:
    gw = Gateway(cors_origins=("https://console.example.org",))
    ok = gw.client.options(
        "/api/v1/cases",
        headers={"Origin": "https://console.example.org", "Access-Control-Request-Method": "POST"},
    )
    assert ok.headers["Access-Control-Allow-Origin"] == "https://console.example.org"
    other = gw.client.options(
        "/api/v1/cases", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_cors_headers_without_configured_origins(gateway: Gateway) -> None:
    response = gateway.client.get("/healthz", headers={"Origin": "https://console.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_security_headers(gateway: Gateway) -> None:
    response = gateway.client.get("/healthz")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_traceparent_is_continued_or_started() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    continued = traceparent(incoming)
    assert continued.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and continued != incoming
    for bad in (None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        started = traceparent(bad)
        assert len(started) == 55 and "0" * 32 not in started


def test_the_traceparent_travels_with_every_service_call(gateway: Gateway) -> None:
    from gateway.clients import context_data

    captured = {}

    def list_cases(**_: Any) -> dict:
        from flask import g

        captured["traceparent"] = g.traceparent
        captured["data"] = context_data(gateway.rpc.calls[-1][0])
        return {"items": [], "next_cursor": None}

    gateway.rpc.answers[("cases", "list_cases")] = lambda *a: list_cases()
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = gateway.client.get("/api/v1/cases", headers={**gateway.auth("u-1"), "traceparent": incoming})

    assert response.status_code == 200
    assert captured["data"]["traceparent"] == captured["traceparent"] == response.headers["traceparent"]
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in captured["traceparent"]


def test_metrics_count_requests_by_route_template(gateway: Gateway) -> None:
    gateway.client.get("/api/v1/cases", headers=gateway.auth("u-1"))
    text = gateway.client.get("/metrics").get_data(as_text=True)

    assert 'casework_http_requests_total{method="GET",route="/api/v1/cases",status="200"}' in text
    assert "casework_http_request_duration_seconds_bucket" in text
    assert "casework_http_requests_in_flight" in text


def test_every_api_route_is_in_the_openapi_document(gateway: Gateway) -> None:
    """Two blueprints on one path (GET in one module, DELETE in another) both stay documented."""
    doc = gateway.client.get("/api/v1/docs/openapi.json").get_json()
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    served = set()
    for rule in gateway.app.url_map.iter_rules():
        path = rule.rule.replace("<string:", "<").replace("<path:", "<")
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/docs"):
            continue
        path = path.replace("<", "{").replace(">", "}")
        served |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - documented == set()


def test_a_protected_operation_answers_401_before_validating_the_request(gateway: Gateway) -> None:
    invalid = gateway.client.post("/api/v1/webhooks", json={"url": 42})
    assert invalid.status_code == 401
    assert gateway.client.get("/api/v1/search").status_code == 401  # q missing would be 422
    public = gateway.client.post("/api/v1/auth/token", json={"username": ""})
    assert public.status_code == 422  # public operations validate as before
