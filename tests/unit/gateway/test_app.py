"""The gateway app end to end in-process: a fake Rpc instead of the bus, no database server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from casekit.context import Principal
from casekit.errors import NotFound, Unavailable
from gateway.app import MAX_JSON_DEPTH, _too_deep, create_app
from gateway.auth import issue_token
from gateway.clients import Call, Outcome
from gateway.settings import Settings
from gateway.users import Base, User

SETTINGS = Settings(
    db_url="postgresql+psycopg2://nobody:nothing@127.0.0.1:1/nowhere",
    amqp_uri="pyamqp://nobody:nothing@127.0.0.1:1//",
    jwt_secret="t" * 64,
    max_json_bytes=4096,
    rate_limit_storage="memory://",
)


class FakeRpc:
    """Implements gateway.clients.Rpc; answers from a table and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Principal, str, str, tuple, dict]] = []
        self.answers: dict[tuple[str, str], Any] = {}

    def call(self, principal: Principal, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((principal, service, method, args, kwargs))
        answer = self.answers.get((service, method))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def fanout(self, principal: Principal, calls: list[Call], budget: float | None = None) -> list[Outcome]:
        outcomes = []
        for c in calls:
            try:
                outcomes.append(Outcome(value=self.call(principal, c.service, c.method, *c.args, **c.kwargs)))
            except Exception as exc:  # noqa: BLE001 - the real client returns errors as outcomes
                outcomes.append(Outcome(error=exc))
        return outcomes


class UntouchableSessions(sessionmaker):
    """A sessionmaker that fails the test if a route opens a session."""

    def __call__(self, **kwargs: Any) -> Any:
        raise AssertionError("this route must not touch the database")


@pytest.fixture
def rpc() -> FakeRpc:
    return FakeRpc()


@pytest.fixture
def client(rpc: FakeRpc) -> FlaskClient:
    return create_app(SETTINGS, rpc, UntouchableSessions()).test_client()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    return body


def test_too_deep_counts_nesting_levels() -> None:
    assert not _too_deep({"a": [1, {"b": 2}]})
    assert not _too_deep(json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH))
    assert _too_deep(json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)))
    assert _too_deep({"a": {"b": {"c": 1}}}, limit=3)
    assert not _too_deep({"a": {"b": 1}}, limit=3)


def test_too_deep_handles_very_deep_values_without_recursion() -> None:
    value: Any = 1
    for _ in range(100_000):
        value = [value]

    assert _too_deep(value)


def test_too_deep_finds_depth_in_any_branch() -> None:
    deep: Any = "x"
    for _ in range(70):
        deep = {"k": deep}

    assert _too_deep({"wide": list(range(1000)), "narrow": [deep]})


def test_malformed_json_is_a_400_problem(client: FlaskClient, rpc: FakeRpc) -> None:
    response = client.post("/api/v1/cases", data='{"title": ', content_type="application/json")

    assert_problem(response, 400, "MALFORMED_JSON")
    assert rpc.calls == []


def test_an_empty_json_body_is_a_400_problem(client: FlaskClient) -> None:
    assert_problem(
        client.post("/api/v1/cases", data="", content_type="application/json"), 400, "MALFORMED_JSON"
    )


def test_json_nested_100_deep_is_a_400_problem(client: FlaskClient, rpc: FakeRpc) -> None:
    response = client.post("/api/v1/cases", data="[" * 100 + "]" * 100, content_type="application/json")

    body = assert_problem(response, 400, "MALFORMED_JSON")
    assert str(MAX_JSON_DEPTH) in body["detail"]
    assert rpc.calls == []


def test_json_nested_beyond_the_parsers_recursion_limit_is_a_400(client: FlaskClient) -> None:
    depth = 2000  # over the 4096-byte limit would be 413, so stay inside it
    response = client.post("/api/v1/cases", data="[" * depth + "]" * depth, content_type="application/json")

    assert_problem(response, 400, "MALFORMED_JSON")


def test_a_body_over_max_json_bytes_is_413(client: FlaskClient, rpc: FakeRpc) -> None:
    big = json.dumps({"type": "complaint", "title": "x", "description": "d" * SETTINGS.max_json_bytes})

    assert_problem(
        client.post("/api/v1/cases", data=big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE"
    )
    assert rpc.calls == []


def test_an_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")


def test_a_wrong_method_is_a_405_problem(client: FlaskClient) -> None:
    assert_problem(client.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/cases"),
        ("get", "/api/v1/cases/0b7c6a2e-4f7e-4c59-9d0c-1d2b3c4d5e6f"),
        ("get", "/api/v1/search?q=boiler"),
        ("get", "/api/v1/notifications"),
        ("get", "/api/v1/documents/0b7c6a2e-4f7e-4c59-9d0c-1d2b3c4d5e6f/content"),
    ],
)
def test_no_token_is_401_with_a_bearer_challenge(
    client: FlaskClient, rpc: FakeRpc, method: str, path: str
) -> None:
    response = getattr(client, method)(path)

    assert_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert rpc.calls == []


def test_a_forged_token_is_401(client: FlaskClient) -> None:
    forged = issue_token(Settings(jwt_secret="f" * 64), user_id="u-1", roles=["admin"])["access_token"]

    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {forged}"})

    assert_problem(response, 401, "UNAUTHORIZED")


def test_healthz_is_200(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {}}


def test_security_headers_are_set(client: FlaskClient) -> None:
    for response in (client.get("/healthz"), client.get("/nope"), client.get("/api/v1/cases")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-Id": "r" * 500}).headers["X-Request-Id"] == "r" * 64
    assert len(client.get("/healthz").headers["X-Request-Id"]) == 36


def test_the_problem_body_names_the_request_id(client: FlaskClient) -> None:
    response = client.get("/nope", headers={"X-Request-Id": "trace-me"})

    assert response.get_json(force=True)["request_id"] == "trace-me"


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/docs/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_is_version_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")


def test_openapi_lists_every_api_route(client: FlaskClient, spec: dict[str, Any]) -> None:
    routes = {
        re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for rule in client.application.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.rule.startswith("/api/v1/docs")
    }

    assert routes
    assert routes <= set(spec["paths"])


def test_openapi_declares_bearer_auth_on_protected_operations(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert spec["paths"]["/api/v1/cases"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]


# --- authenticated requests: the user store on an in-memory SQLite database ----------------


@pytest.fixture
def users() -> Iterator[sessionmaker]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions.begin() as s:
        for user_id, roles, active in [("u-agent", ["agent"], True), ("u-auditor", ["auditor"], True)]:
            s.add(
                User(
                    id=user_id,
                    username=user_id,
                    display_name=user_id,
                    password_hash="x",
                    roles=roles,
                    active=active,
                )
            )
        s.add(
            User(
                id="u-gone",
                username="gone",
                display_name="gone",
                password_hash="x",
                roles=["admin"],
                active=False,
            )
        )
    yield sessions
    engine.dispose()


@pytest.fixture
def authed(rpc: FakeRpc, users: sessionmaker) -> FlaskClient:
    return create_app(SETTINGS, rpc, users).test_client()


def bearer(user_id: str, roles: list[str] | None = None) -> dict[str, str]:
    tok = issue_token(SETTINGS, user_id=user_id, roles=roles or [])["access_token"]
    return {"Authorization": f"Bearer {tok}"}


def test_roles_come_from_the_user_store_not_from_the_token(authed: FlaskClient, rpc: FakeRpc) -> None:
    rpc.answers[("search", "search")] = {"items": [], "total_hits": 0}

    response = authed.get("/api/v1/search?q=boiler", headers=bearer("u-agent", roles=["admin"]))

    assert response.status_code == 200
    ((principal, service, method, args, _),) = rpc.calls
    assert (service, method, args) == ("search", "search", ("boiler", 20))
    assert principal.user_id == "u-agent"
    assert principal.roles == ("agent",)
    assert principal.correlation_id == response.headers["X-Request-Id"]


def test_a_disabled_user_is_401(authed: FlaskClient, rpc: FakeRpc) -> None:
    assert_problem(authed.get("/api/v1/cases", headers=bearer("u-gone")), 401, "UNAUTHORIZED")
    assert rpc.calls == []


def test_a_role_without_write_access_is_403(authed: FlaskClient, rpc: FakeRpc) -> None:
    response = authed.post(
        "/api/v1/cases", json={"type": "complaint", "title": "x"}, headers=bearer("u-auditor")
    )

    assert_problem(response, 403, "FORBIDDEN")
    assert rpc.calls == []


def test_an_invalid_body_is_422_naming_the_field(authed: FlaskClient, rpc: FakeRpc) -> None:
    response = authed.post(
        "/api/v1/cases",
        json={"type": "complaint", "title": "x", "customer": {"name": "A", "email": "nope"}},
        headers=bearer("u-agent"),
    )

    body = assert_problem(response, 422, "INVALID_INPUT")
    assert [e["field"] for e in body["errors"]] == ["customer.email"]
    assert rpc.calls == []


def test_a_service_error_keeps_its_meaning_over_http(authed: FlaskClient, rpc: FakeRpc) -> None:
    rpc.answers[("search", "search")] = Unavailable("search is restarting")

    response = authed.get("/api/v1/search?q=x", headers=bearer("u-agent"))

    assert_problem(response, 503, "UNAVAILABLE")
    assert response.headers["Retry-After"] == "5"


def test_the_case_folder_lists_parts_that_did_not_answer(authed: FlaskClient, rpc: FakeRpc) -> None:
    case_id = "0b7c6a2e-4f7e-4c59-9d0c-1d2b3c4d5e6f"
    rpc.answers[("cases", "get_case")] = {"id": case_id, "version": 4}
    rpc.answers[("documents", "list_for_case")] = Unavailable("documents is down")
    rpc.answers[("routing", "get_work_item")] = NotFound("no work item")

    response = authed.get(f"/api/v1/cases/{case_id}", headers=bearer("u-agent"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"4"'
    body = response.get_json()
    assert body["missing"] == ["documents"]
    assert body["documents"] is None and body["work_item"] is None
