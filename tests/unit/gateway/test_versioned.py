"""The gateway's half of the versioned resources: ETags out, If-Match / If-None-Match in (passed to
the owning service, which checks them atomically), 412 and 428 as problem+json, and the OpenAPI
document saying so for every such operation."""

from __future__ import annotations

from typing import Any

import pytest

from casekit.errors import PreconditionRequired, StaleVersion
from tests.unit.gateway.helpers import Gateway

NONE = {"if_match": None, "if_none_match": None}
CALENDAR = {"timezone": "UTC", "hours": {}}
# (the resource's path, its service, the RPC that reads it, the one that changes it, a valid body)
RESOURCES = [
    ("/api/v1/me/preferences", "notifications", "get_preferences", "put_preferences", {"channels": {}}),
    (
        "/api/v1/templates/reply/fr",
        "notifications",
        "get_template",
        "put_template",
        {"subject": "s", "text": "t"},
    ),
    ("/api/v1/agents/ann", "routing", "get_agent", "put_agent", {"capacity": 3}),
    ("/api/v1/calendars/uk-office", "routing", "get_calendar", "put_calendar", CALENDAR),
    ("/api/v1/sla/policies/complaint", "routing", "get_sla_policy", "put_sla_policy", {"clocks": {}}),
    ("/api/v1/routing/rules", "routing", "get_rules", "put_rules", {"rules": []}),
]


@pytest.fixture
def gw() -> Gateway:
    gateway = Gateway()
    gateway.add_user("root", ["admin"])
    return gateway


def answer(version: int) -> Any:
    return lambda *args: {"version": version}


@pytest.mark.parametrize(("path", "service", "read", "write", "body"), RESOURCES)
def test_reads_carry_the_version_as_a_strong_etag_and_writes_pass_the_preconditions(
    gw: Gateway, path: str, service: str, read: str, write: str, body: dict
) -> None:
    auth = gw.auth("root")
    gw.rpc.answers[(service, read)] = answer(0)
    assert gw.client.get(path, headers=auth).headers["ETag"] == '"0"'  # nothing stored yet
    gw.rpc.answers[(service, read)] = answer(7)
    assert gw.client.get(path, headers=auth).headers["ETag"] == '"7"'

    gw.rpc.answers[(service, write)] = answer(8)
    changed = gw.client.put(path, json=body, headers={**auth, "If-Match": '"7"'})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"8"'
    assert gw.rpc.calls[-1][3][-1] == {"if_match": [7], "if_none_match": None}
    gw.client.put(path, json=body, headers={**auth, "If-None-Match": "*"})
    assert gw.rpc.calls[-1][3][-1] == {"if_match": None, "if_none_match": "*"}
    gw.client.put(path, json=body, headers=auth)
    assert gw.rpc.calls[-1][3][-1] == NONE  # the service decides: create, or 428 once stored

    gw.rpc.answers[(service, write)] = StaleVersion("the thing is at version 8, not the one If-Match names")
    stale = gw.client.put(path, json=body, headers={**auth, "If-Match": '"7"'})
    assert (stale.status_code, stale.mimetype) == (412, "application/problem+json")
    assert stale.json["code"] == "STALE_VERSION" and "ETag" not in stale.headers
    gw.rpc.answers[(service, write)] = PreconditionRequired('the thing exists: send If-Match with "8"')
    missing = gw.client.put(path, json=body, headers=auth)
    assert (missing.status_code, missing.json["code"]) == (428, "PRECONDITION_REQUIRED")


def test_every_versioned_change_documents_its_headers_and_answers(gw: Gateway) -> None:
    doc = gw.client.get("/api/v1/docs/openapi.json").json
    for path, *_ in RESOURCES:
        template = path.replace("/ann", "/{user_id}").replace("/reply/fr", "/{event}/{locale}")
        template = template.replace("/uk-office", "/{name}").replace("/complaint", "/{case_type}")
        put = doc["paths"][template]["put"]
        headers = {p["name"] for p in put.get("parameters", []) if p["in"] == "header"}
        assert {"If-Match", "If-None-Match"} <= headers, template
        assert {"412", "428"} <= set(put["responses"]), template
        assert "If-Match" in put["description"], template


def test_cors_lets_browsers_send_if_none_match() -> None:
    gateway = Gateway(cors_origins=("https://console.example",))
    allowed = gateway.client.options(
        "/api/v1/me/preferences",
        headers={
            "Origin": "https://console.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert "if-none-match" in allowed.headers.get("Access-Control-Allow-Headers", "").lower()
