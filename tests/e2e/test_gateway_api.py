"""The gateway's own guarantees through real gunicorn (two workers) on real PostgreSQL: idempotency
keys, refresh and revocation, API keys, metrics across workers, readiness, tracing, rate counters."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from casekit.launcher import Suite
from casekit.testing.suite import Client, create_user
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def fresh_user(suite: Suite, role: str, team: str | None = None) -> str:
    """A fresh user (tests that revoke sessions must not revoke the shared fixtures')."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    create_user(suite, username, role, PASSWORD, team)
    return username


def open_case(client: Client) -> dict:
    response = client.post("/api/v1/cases", json={"type": "complaint", "title": f"Gw {uuid.uuid4().hex[:6]}"})
    assert response.status_code == 201, response.text
    return response.json()


def add_note(client: Client, case: dict, key: str | None, text: str = "a note") -> requests.Response:
    headers = {"If-Match": f'"{case["version"]}"'}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/cases/{case['id']}/notes", json={"body": text}, headers=headers)


def test_a_retried_post_is_replayed_not_repeated(admin: Client) -> None:
    case = open_case(admin)
    key = str(uuid.uuid4())
    first, second = add_note(admin, case, key), add_note(admin, case, key)

    assert first.status_code == second.status_code == 200, first.text
    assert second.json() == first.json() and second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"] == '"2"'
    # no second note: the case is still at version 2 (a repeated call would have been a 412)
    assert admin.get(f"/api/v1/cases/{case['id']}").headers["ETag"] == '"2"'


def test_without_a_key_nothing_changes_for_existing_clients(admin: Client) -> None:
    case = open_case(admin)
    assert add_note(admin, case, None).status_code == 200
    assert add_note(admin, case, None).status_code == 412  # the stale If-Match, as before


def test_a_key_reused_for_another_request_is_422(admin: Client) -> None:
    case = open_case(admin)
    key = str(uuid.uuid4())
    assert add_note(admin, case, key).status_code == 200
    reused = add_note(admin, case, key, text="another body")

    assert reused.status_code == 422 and reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_retry_while_the_first_request_runs_is_409(admin: Client, sql) -> None:  # noqa: ANN001
    case = open_case(admin)
    key = str(uuid.uuid4())
    user_id = sql("gateway", "SELECT id FROM users WHERE username = 'admin'")[0][0]
    sql(
        "gateway",
        "INSERT INTO idempotency_keys (principal, key, fingerprint, state, locked_at, expires_at) "
        "VALUES (%s, %s, 'in-flight', 'pending', now(), now() + interval '1 day')",
        (user_id, key),
    )
    busy = add_note(admin, case, key)

    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
    assert busy.json()["code"] == "REQUEST_IN_PROGRESS"


def test_an_expired_key_runs_again_and_keys_are_kept_a_day(admin: Client, sql) -> None:  # noqa: ANN001
    case = open_case(admin)
    key = str(uuid.uuid4())
    assert add_note(admin, case, key).status_code == 200
    kept = sql(
        "gateway",
        "SELECT expires_at - now() >= interval '23 hours' FROM idempotency_keys WHERE key = %s",
        (key,),
    )
    assert kept == [(True,)]

    sql(
        "gateway",
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = %s",
        (key,),
    )
    again = add_note(admin, case, key)
    assert again.status_code == 412  # executed anew against the moved-on case, not replayed


def test_refresh_tokens_rotate_and_revocation_is_immediate_on_every_worker(suite: Suite) -> None:
    base = suite.gateway_url + "/api/v1"
    username = fresh_user(suite, "agent")
    pair = requests.post(
        f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10
    ).json()
    refreshed = requests.post(
        f"{base}/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10
    )
    assert refreshed.status_code == 200
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert requests.get(f"{base}/cases", headers=headers, timeout=10).status_code == 200

    revoke = requests.post(f"{base}/auth/revoke", json={}, headers=headers, timeout=10)
    assert revoke.status_code == 200
    statuses = {requests.get(f"{base}/cases", headers=headers, timeout=10).status_code for _ in range(8)}
    assert statuses == {401}
    again = requests.post(
        f"{base}/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}, timeout=10
    )
    assert again.status_code == 401
    # a fresh login works again
    fresh = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    assert (
        requests.get(
            f"{base}/cases", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"}, timeout=10
        ).status_code
        == 200
    )


def test_an_api_key_reads_within_its_scope(suite, admin: Client, sql) -> None:  # noqa: ANN001
    created = admin.post("/api/v1/api-keys", json={"name": "crm", "roles": ["auditor"], "scopes": ["read"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    stored = sql("gateway", "SELECT secret_hash FROM api_keys WHERE id = %s", (created.json()["id"],))
    assert key.rsplit("_", 1)[1] not in stored[0][0]

    base = suite.gateway_url + "/api/v1"
    assert requests.get(f"{base}/cases", headers={"X-API-Key": key}, timeout=10).status_code == 200
    write = requests.post(
        f"{base}/cases", json={"type": "complaint", "title": "x"}, headers={"X-API-Key": key}, timeout=10
    )
    assert write.status_code == 403
    assert admin.request("DELETE", f"/api/v1/api-keys/{created.json()['id']}").status_code == 200
    assert requests.get(f"{base}/cases", headers={"X-API-Key": key}, timeout=10).status_code == 401


def test_metrics_add_up_across_workers(admin: Client, anonymous: Client) -> None:
    for _ in range(10):
        assert admin.get("/api/v1/case-types").status_code == 200
    text = anonymous.get("/metrics").text

    counted = re.search(
        r'casework_http_requests_total\{method="GET",route="/api/v1/case-types",status="200"\} (\S+)', text
    )
    assert counted and float(counted.group(1)) >= 10
    assert re.search(
        r'casework_rpc_duration_seconds_count\{method="\w+",outcome="ok",service="cases"\}', text
    )
    assert "casework_http_requests_in_flight" in text
    assert "casework_dead_letters" in text


def test_readyz_checks_the_broker_the_database_and_every_service(anonymous: Client) -> None:
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {"database", "cases", "documents", "routing", "notifications", "search"} <= set(checks)


def test_a_traceparent_is_continued(admin: Client) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = admin.get("/api/v1/cases", headers={"traceparent": incoming})
    assert response.headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


def test_rate_limit_counters_live_in_postgresql(admin: Client, sql) -> None:  # noqa: ANN001
    admin.get("/api/v1/cases")
    rows = sql("gateway", "SELECT key FROM rate_limits")
    assert any("user" in key for (key,) in rows) and any("ip" in key for (key,) in rows)
