"""Bad input gets a clear problem+json answer on every endpoint, and leaves nothing behind."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable

import jwt
import pytest
import requests

from casekit.testing.suite import Client
from tests.e2e.conftest import E2E_ENV

pytestmark = pytest.mark.e2e
CASE = {"type": "complaint", "title": "A valid case"}


def is_problem(response: requests.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if code:
        assert body["code"] == code
    return body


@pytest.fixture(scope="module")
def case_id(admin: Client) -> str:
    return admin.post("/api/v1/cases", json=CASE).json()["id"]


def test_malformed_json_is_400(admin: Client) -> None:
    response = admin.post(
        "/api/v1/cases", data='{"type": "complaint",', headers={"Content-Type": "application/json"}
    )
    is_problem(response, 400, "MALFORMED_JSON")


def test_deeply_nested_json_is_400(admin: Client) -> None:
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    response = admin.post("/api/v1/cases", data=deep, headers={"Content-Type": "application/json"})
    is_problem(response, 400, "MALFORMED_JSON")


def test_missing_and_invalid_fields_are_named(admin: Client) -> None:
    response = admin.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "priority": "mega",
            "customer": {"name": "X", "email": "not-an-email"},
            "surprise": 1,
        },
    )
    body = is_problem(response, 422, "INVALID_INPUT")
    fields = {e["field"] for e in body["errors"]}
    assert {"title", "priority", "customer.email", "surprise"} <= fields


def test_custom_data_is_checked_against_the_case_type(admin: Client) -> None:
    response = admin.post("/api/v1/cases", json={**CASE, "data": {"amount": -3}})
    body = is_problem(response, 422, "INVALID_INPUT")
    assert body["errors"] == [{"field": "data.amount", "message": "-3 is less than the minimum of 0"}]


def test_unknown_case_type_is_named(admin: Client) -> None:
    body = is_problem(admin.post("/api/v1/cases", json={**CASE, "type": "nonsense"}), 422)
    assert body["errors"][0]["field"] == "type"


def test_oversized_json_body_is_413(admin: Client) -> None:
    huge = json.dumps({**CASE, "description": "x" * (2 * 1024 * 1024)})
    is_problem(admin.post("/api/v1/cases", data=huge, headers={"Content-Type": "application/json"}), 413)


@pytest.mark.parametrize("header", [None, "Bearer", "Basic YWRtaW46eA==", "Bearer not.a.token"])
def test_missing_or_malformed_token_is_401(suite, header: str | None) -> None:  # noqa: ANN001
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{suite.gateway_url}/api/v1/cases", headers=headers, timeout=10)
    is_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def forged_tokens() -> dict[str, Callable[[dict], str]]:
    def unsigned(claims: dict) -> str:
        head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{head}.{body}."

    return {
        "wrong secret": lambda c: jwt.encode(c, "x" * 40, algorithm="HS256", headers={"typ": "at+jwt"}),
        "alg none": unsigned,
        "expired": lambda c: jwt.encode({**c, "exp": int(time.time()) - 3600}, "x" * 40, algorithm="HS256"),
    }


@pytest.mark.parametrize("kind", list(forged_tokens()))
def test_forged_tokens_are_401(suite, admin: Client, kind: str) -> None:  # noqa: ANN001
    real = admin.http.headers["Authorization"].split()[1]
    claims = jwt.decode(real, options={"verify_signature": False})
    token = forged_tokens()[kind](claims)
    response = requests.get(
        f"{suite.gateway_url}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    is_problem(response, 401)


def test_wrong_password_is_401(anonymous: Client) -> None:
    response = anonymous.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"})
    is_problem(response, 401, "INVALID_CREDENTIALS")


def test_a_role_without_write_access_is_403(auditor: Client, case_id: str) -> None:
    is_problem(auditor.post("/api/v1/cases", json=CASE), 403, "FORBIDDEN")
    response = auditor.post(
        f"/api/v1/cases/{case_id}/documents", data=b"x", headers={"Content-Type": "application/octet-stream"}
    )
    is_problem(response, 403, "FORBIDDEN")
    assert auditor.get(f"/api/v1/cases/{case_id}").status_code == 200


def test_agents_may_open_cases_but_not_staff_queues(agent: Client) -> None:
    assert agent.post("/api/v1/cases", json=CASE).status_code == 201
    response = agent.request("PUT", "/api/v1/queues/default/members/someone", json={"role": "agent"})
    is_problem(response, 403, "FORBIDDEN")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/{missing}",
        "/api/v1/cases/not-a-uuid",
        "/api/v1/cases/{missing}/documents",
        "/api/v1/documents/{missing}",
        "/api/v1/documents/{missing}/content",
        "/api/v1/cases/{missing}/audit",
        "/api/v1/queues/nope/items",
    ],
)
def test_unknown_objects_are_404(admin: Client, path: str) -> None:
    is_problem(admin.get(path.format(missing=uuid.uuid4())), 404, "NOT_FOUND")


def test_upload_to_an_unknown_case_is_404(admin: Client) -> None:
    response = admin.post(
        f"/api/v1/cases/{uuid.uuid4()}/documents",
        data=b"hello",
        headers={"Content-Type": "application/octet-stream"},
    )
    is_problem(response, 404)


def test_empty_upload_is_422_and_stores_nothing(admin: Client, case_id: str, sql) -> None:  # noqa: ANN001
    before = sql("documents", "SELECT count(*) FROM documents")[0][0]
    response = admin.post(
        f"/api/v1/cases/{case_id}/documents", data=b"", headers={"Content-Type": "application/octet-stream"}
    )
    is_problem(response, 422, "INVALID_INPUT")
    assert sql("documents", "SELECT count(*) FROM documents")[0][0] == before


def test_oversize_upload_is_413_before_the_body_is_read(admin: Client, case_id: str) -> None:
    limit = int(E2E_ENV["MAX_UPLOAD_BYTES"])
    response = admin.post(
        f"/api/v1/cases/{case_id}/documents",
        data=b"x" * (limit + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    is_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_chunked_oversize_upload_is_413_and_leaves_nothing(admin: Client, case_id: str, sql) -> None:  # noqa: ANN001
    limit = int(E2E_ENV["MAX_UPLOAD_BYTES"])
    before = sql("documents", "SELECT count(*) FROM documents")[0][0]

    def chunks():  # no Content-Length: the gateway must count as it reads
        for _ in range(limit // 65536 + 2):
            yield b"y" * 65536

    response = admin.post(
        f"/api/v1/cases/{case_id}/documents",
        data=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    is_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert sql("documents", "SELECT count(*) FROM documents")[0][0] == before
    assert sql("documents", "SELECT count(*) FROM uploads WHERE state = 'open'")[0][0] == 0


def test_failed_creations_leave_nothing_half_written(admin: Client, sql) -> None:  # noqa: ANN001
    counts = {
        t: sql("cases", f"SELECT count(*) FROM {t}")[0][0]
        for t in ("cases", "outbox", "audit_entries", "case_parties")
    }
    for body in (
        {**CASE, "data": {"amount": -1}},
        {**CASE, "type": "nonsense"},
        {**CASE, "customer": {"name": "", "email": "x@example.org"}},
    ):
        assert admin.post("/api/v1/cases", json=body).status_code == 422
    after = {t: sql("cases", f"SELECT count(*) FROM {t}")[0][0] for t in counts}
    assert after == counts


def test_search_rejects_an_empty_query(admin: Client) -> None:
    body = is_problem(admin.get("/api/v1/search", params={"q": ""}), 422)
    assert body["errors"][0]["field"] == "q"


def test_unknown_route_and_method_are_problems(admin: Client) -> None:
    is_problem(admin.get("/api/v1/nothing-here"), 404)
    is_problem(admin.request("DELETE", "/api/v1/search"), 405)


@pytest.mark.parametrize("body", [
    {**CASE, "title": "a\x00b"},
    {**CASE, "customer": {"name": "Ann\x00", "email": "ann@example.org"}},
    {**CASE, "data": {"note": "v\x00"}},
    {**CASE, "data": {"k\x00": 1}},
])
def test_nul_characters_are_invalid_input_not_a_crash(admin: Client, body: dict) -> None:
    is_problem(admin.post("/api/v1/cases", json=body), 422, "INVALID_INPUT")


@pytest.mark.parametrize("params", [
    {"status": "open\x00"}, {"type": "bad type"},
    {"cursor": base64.urlsafe_b64encode(b"2024-05-01T09:30:00+00:00|\x00").decode()},
    {"cursor": "not-base64!"},
])
def test_list_filters_and_forged_cursors_are_422(admin: Client, params: dict) -> None:
    is_problem(admin.get("/api/v1/cases", params=params), 422)
