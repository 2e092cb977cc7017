"""ETag and If-Match over real HTTP on every versioned resource besides cases: notification
preferences, templates, agent profiles, calendars, SLA policies and the routing rule set.

For each: a read answers 200 with a strong ``ETag: "<version>"``; a PUT creates without a
precondition (``If-None-Match: *`` refuses to overwrite); once stored, a PUT without ``If-Match``
is 428, a stale one 412 (problem+json, nothing changed), the current one (or ``*``) succeeds and
answers the new ETag. Every test works on objects of its own (fresh users, names), so the shared
demo state other modules rely on stays as it was; the routing rules are written back unchanged.
(The atomic compare-and-set itself: tests/integration/test_*_versions.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from casekit.launcher import Suite
from casekit.testing.suite import Client, create_user
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


@dataclass
class Resource:
    """A versioned resource: where it is, who may write it, two different valid bodies, and what
    a read shows of a body (to tell whether a refused change left it alone)."""

    path: str
    client: Client
    first: dict[str, Any]
    second: dict[str, Any]
    shows: Callable[[dict[str, Any]], Any]


def tag() -> str:
    return uuid.uuid4().hex[:8]


def fresh_client(suite: Suite, role: str) -> Client:
    username = f"etag-{role}-{tag()}"
    create_user(suite, username, role, PASSWORD)
    return Client(suite.gateway_url, username, PASSWORD)


def user_id(client: Client) -> str:
    return client.get("/api/v1/me/preferences").json()["user_id"]


@pytest.fixture
def resources(suite: Suite, admin: Client) -> dict[str, Resource]:
    me = fresh_client(suite, "agent")
    worker = user_id(fresh_client(suite, "agent"))
    name = f"etag-{tag()}"
    hours = {"mon": ["09:00-17:00"]}
    return {
        "preferences": Resource(
            "/api/v1/me/preferences",
            me,
            {"channels": {"mention": ["in_app"]}},
            {"channels": {"mention": ["in_app", "email"]}, "email": "etag@example.org"},
            lambda out: out["channels"]["mention"],
        ),
        "template": Resource(
            f"/api/v1/templates/etag_{tag()}/en",
            admin,
            {"subject": "One {{ case.reference }}", "text": "first"},
            {"subject": "Two {{ case.reference }}", "text": "second"},
            lambda out: out["text"],
        ),
        "agent": Resource(
            f"/api/v1/agents/{worker}",
            admin,
            {"capacity": 3, "skills": ["gas"]},
            {"capacity": 4},
            lambda out: out["capacity"],
        ),
        "calendar": Resource(
            f"/api/v1/calendars/{name}",
            admin,
            {"timezone": "UTC", "hours": hours},
            {"timezone": "Europe/London", "hours": hours},
            lambda out: out["timezone"],
        ),
        "policy": Resource(
            f"/api/v1/sla/policies/etag_{tag()}",
            admin,
            {"calendar": "24x7", "clocks": {"resolution": {"target_hours": 40}}},
            {"calendar": "24x7", "clocks": {"resolution": {"target_hours": 20}}},
            lambda out: out["policy"],
        ),
    }


def put(resource: Resource, body: dict, **headers: str) -> requests.Response:
    return resource.client.request("PUT", resource.path, json=body, headers=headers)


def etag_of(response: requests.Response) -> str:
    value = response.headers.get("ETag", "")
    assert value.startswith('"') and value.endswith('"') and value[1:-1].isdigit(), value  # strong
    return value


def refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == code and response.json()["status"] == status


@pytest.mark.parametrize("kind", ["preferences", "template", "agent", "calendar", "policy"])
def test_a_versioned_resource_is_created_then_changed_only_from_its_current_etag(
    resources: dict[str, Resource], kind: str
) -> None:
    r = resources[kind]
    before = r.client.get(r.path)
    if kind in ("calendar", "template"):  # a new name, and no file for this template: nothing yet
        assert before.status_code == 404
    else:  # defaults, the inherited policy or the file: version 0
        assert before.status_code == 200 and etag_of(before) == '"0"'
    refused(put(r, r.first, **{"If-Match": "*"}), 412, "STALE_VERSION")  # * needs a stored one

    created = put(r, r.first)  # creating needs no precondition
    assert created.status_code == 200, created.text
    first = etag_of(created)
    assert first == '"1"' and created.json()["version"] == 1
    read = r.client.get(r.path)
    assert read.status_code == 200 and etag_of(read) == first
    assert r.shows(read.json()) == r.shows(created.json())

    refused(put(r, r.second), 428, "PRECONDITION_REQUIRED")
    refused(put(r, r.second, **{"If-None-Match": "*"}), 412, "STALE_VERSION")
    refused(put(r, r.second, **{"If-Match": '"7"'}), 412, "STALE_VERSION")
    assert r.shows(r.client.get(r.path).json()) == r.shows(created.json()), "a refused PUT changed it"

    changed = put(r, r.second, **{"If-Match": first})
    assert changed.status_code == 200, changed.text
    second = etag_of(changed)
    assert second == '"2"' != first and etag_of(r.client.get(r.path)) == second
    assert r.shows(changed.json()) != r.shows(created.json())
    refused(put(r, r.first, **{"If-Match": first}), 412, "STALE_VERSION")  # a lost update, refused
    assert r.shows(r.client.get(r.path).json()) == r.shows(changed.json())
    assert etag_of(put(r, r.first, **{"If-Match": "*"})) == '"3"'


def test_two_editors_of_the_same_version_one_wins_the_other_is_told(
    resources: dict[str, Resource],
) -> None:
    r = resources["policy"]
    read = etag_of(put(r, r.first))
    mine, theirs = put(r, r.second, **{"If-Match": read}), put(r, r.first, **{"If-Match": read})
    assert mine.status_code == 200 and theirs.status_code == 412
    assert r.shows(r.client.get(r.path).json()) == r.shows(mine.json())


def test_the_routing_rules_take_if_match_and_are_left_as_they_were(admin: Client) -> None:
    read = admin.get("/api/v1/routing/rules")
    assert read.status_code == 200
    current = etag_of(read)
    document = {k: read.json()[k] for k in ("default_queue", "queues", "rules")}

    refused(admin.request("PUT", "/api/v1/routing/rules", json=document), 428, "PRECONDITION_REQUIRED")
    stale = f'"{int(current[1:-1]) + 5}"'
    refused(
        admin.request("PUT", "/api/v1/routing/rules", json=document, headers={"If-Match": stale}),
        412,
        "STALE_VERSION",
    )
    assert etag_of(admin.get("/api/v1/routing/rules")) == current

    same = admin.request("PUT", "/api/v1/routing/rules", json=document, headers={"If-Match": current})
    assert same.status_code == 200, same.text
    assert etag_of(same) == f'"{int(current[1:-1]) + 1}"' == etag_of(admin.get("/api/v1/routing/rules"))
    after = admin.get("/api/v1/routing/rules").json()
    assert {k: after[k] for k in document} == document  # the same rules, one version later


def test_an_agent_sets_its_own_availability_from_its_etag(suite: Suite, admin: Client) -> None:
    agent = fresh_client(suite, "agent")
    me = user_id(agent)
    path = f"/api/v1/agents/{me}"
    created = agent.request("PUT", path, json={"availability": "away"})
    assert created.status_code == 200 and etag_of(created) == '"1"'
    by_supervisor = admin.request("PUT", path, json={"capacity": 9}, headers={"If-Match": '"1"'})
    assert etag_of(by_supervisor) == '"2"'
    stale = agent.request("PUT", path, json={"availability": "available"}, headers={"If-Match": '"1"'})
    refused(stale, 412, "STALE_VERSION")
    fresh = agent.get(path)
    again = agent.request(
        "PUT", path, json={"availability": "available"}, headers={"If-Match": etag_of(fresh)}
    )
    assert again.status_code == 200 and again.json()["capacity"] == 9  # the supervisor's change kept
