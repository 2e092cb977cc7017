"""Object-level authorization matrix, generated from the served OpenAPI document.

Every operation in ``/api/v1/docs/openapi.json`` is called as anonymous, as each role (agent,
supervisor, admin, auditor; the agent and supervisor in team ``red``) and as an agent and a
supervisor of team ``blue``, with its path parameters bound to objects of a team-``red`` case.
The test fails when

- an operation has no rule in ``RULES`` (add one when you add a route: roles allowed, scope);
- anyone gets a 2xx they should not: anonymous on a protected operation, a role not allowed,
  a ``blue`` caller on an object of the ``red`` case (which must answer 404);
- a list or search shows a ``blue`` caller anything of the ``red`` case;
- an allowed caller is refused (401/403) on a read, or any call is a 5xx.

Writes are only sent by callers who must be refused, with a valid sample body and the target's
current ETag as ``If-Match``, so a missing check would show as a 2xx (and a real change) rather
than a 412. Allowed callers only read. The matrix leaves the suite's shared state as it found it:
writes aim at throwaway names (a policy of no real type, a calendar and a template of their own)
or write back what is there (the routing rules); the shared configuration is compared after the
sweep, and the routing rules are restored should a write have got through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from casekit.launcher import Suite
from casekit.testing.suite import Client, create_user
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

AGENT, SUPERVISOR, ADMIN, AUDITOR = "agent", "supervisor", "admin", "auditor"
ALL = frozenset({AGENT, SUPERVISOR, ADMIN, AUDITOR})
WRITERS = frozenset({AGENT, SUPERVISOR, ADMIN})
MANAGERS = frozenset({SUPERVISOR, ADMIN})
ADMINS = frozenset({ADMIN})
OVERSEERS = frozenset({SUPERVISOR, ADMIN, AUDITOR})
AUDITING = frozenset({ADMIN, AUDITOR})


@dataclass(frozen=True)
class Rule:
    """Who may call an operation.

    ``roles``: the roles allowed (None: public, no credentials needed). ``scope``:
    ``case`` - the path names an object of a case: callers who may not see the case get 404;
    ``list`` - the answer lists objects: it must hold nothing of a case the caller may not see;
    ``own`` - the caller's own data (or a global setting); ``public`` - no credentials;
    ``signed`` - no token but a provider's signature: an unsigned call must be refused.
    ``body``: a valid sample body for writes (so a missing check would succeed).
    ``safe``: False for reads that have effects or stream (not called by allowed callers).
    """

    roles: frozenset[str] | None
    scope: str
    body: Any = None
    safe: bool = True
    raw: bool = False
    params: tuple[tuple[str, str], ...] = ()  # path parameters of this operation only


def case(roles: frozenset[str], body: Any = None, **kw: Any) -> Rule:
    return Rule(roles, "case", body, **kw)


def listing(roles: frozenset[str] = ALL, **kw: Any) -> Rule:
    return Rule(roles, "list", **kw)


def own(roles: frozenset[str] = ALL, body: Any = None, **kw: Any) -> Rule:
    return Rule(roles, "own", body, **kw)


PUBLIC = Rule(None, "public")
NOTE = {"body": "matrix note"}
CASE_BODY = {"type": "complaint", "title": "Matrix"}

# (METHOD, path template as in the OpenAPI document) -> Rule. Extend this when adding routes.
RULES: dict[tuple[str, str], Rule] = {
    # operations
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    # auth and API keys
    ("POST", "/api/v1/auth/token"): Rule(
        None, "public", {"username": "nobody", "password": "wrong-password"}
    ),
    ("POST", "/api/v1/auth/refresh"): Rule(None, "public", {"refresh_token": "not-a-token"}),
    ("POST", "/api/v1/auth/revoke"): own(ALL, {"user_id": "{red_agent_id}"}, safe=False),
    ("GET", "/api/v1/api-keys"): own(ADMINS),
    ("POST", "/api/v1/api-keys"): own(ADMINS, {"name": "matrix", "roles": ["admin"], "scopes": ["write"]}),
    ("DELETE", "/api/v1/api-keys/{key_id}"): own(ADMINS),
    # webhooks
    ("GET", "/api/v1/webhooks"): own(ADMINS),
    ("POST", "/api/v1/webhooks"): own(
        ADMINS, {"url": "http://127.0.0.1:9/hook", "event_types": ["case_opened"]}
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}"): own(ADMINS),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): own(ADMINS, {"active": False}),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): own(ADMINS),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): own(ADMINS),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): own(ADMINS, {}),
    # case types and intake
    ("GET", "/api/v1/case-types"): own(ALL),
    ("POST", "/api/v1/case-types"): own(MANAGERS, {"yaml": "key: matrix"}),
    ("GET", "/api/v1/case-types/{key}"): own(ALL),
    ("POST", "/api/v1/case-types/{key}/migrations"): own(ADMINS, {"to_version": 1, "dry_run": True}),
    ("POST", "/api/v1/intake"): own(WRITERS, {"channel": "web", "key": "matrix", "type": "complaint"}),
    # cases
    ("GET", "/api/v1/cases"): listing(),
    ("POST", "/api/v1/cases"): own(WRITERS, CASE_BODY),
    ("GET", "/api/v1/cases/{case_id}"): case(ALL),
    ("GET", "/api/v1/cases/{case_id}/folder"): case(ALL),
    ("PATCH", "/api/v1/cases/{case_id}"): case(WRITERS, {"title": "Changed by the matrix"}),
    ("POST", "/api/v1/cases/{case_id}/transitions"): case(WRITERS, {"to": "closed_stage"}),
    ("POST", "/api/v1/cases/{case_id}/close"): case(WRITERS, {"resolution": "resolved"}),
    ("POST", "/api/v1/cases/{case_id}/reopen"): case(WRITERS, {"reason": "matrix"}),
    ("GET", "/api/v1/cases/{case_id}/timeline"): case(ALL),
    ("GET", "/api/v1/cases/{case_id}/audit"): case(ALL),
    ("GET", "/api/v1/cases/{case_id}/audit/verify"): case(ALL),
    ("POST", "/api/v1/cases/{case_id}/notes"): case(WRITERS, NOTE),
    ("GET", "/api/v1/cases/{case_id}/notes/{note_id}"): case(ALL),
    ("PATCH", "/api/v1/cases/{case_id}/notes/{note_id}"): case(WRITERS, NOTE),
    ("POST", "/api/v1/cases/{case_id}/tasks"): case(WRITERS, {"title": "matrix task"}),
    ("PATCH", "/api/v1/cases/{case_id}/tasks/{task_id}"): case(WRITERS, {"done": True}),
    ("POST", "/api/v1/cases/{case_id}/parties"): case(
        WRITERS, {"role": "customer", "party": {"name": "Matrix Person"}}
    ),
    ("POST", "/api/v1/cases/{case_id}/relationships"): case(
        WRITERS, {"from_party_id": "{party_id}", "to_party_id": "{party_id}", "kind": "spouse"}
    ),
    ("POST", "/api/v1/cases/{case_id}/links"): case(
        WRITERS, {"target_id": "{other_case_id}", "kind": "related"}
    ),
    ("POST", "/api/v1/cases/{case_id}/merge"): case(WRITERS, {"into": "{other_case_id}"}),
    ("GET", "/api/v1/parties"): listing(ALL),
    # documents
    ("GET", "/api/v1/cases/{case_id}/documents"): case(ALL),
    ("POST", "/api/v1/cases/{case_id}/documents"): case(WRITERS, b"matrix bytes", raw=True),
    ("POST", "/api/v1/cases/{case_id}/direct-uploads"): case(
        WRITERS, {"filename": "a.txt", "content_type": "text/plain", "size": 3}
    ),
    ("POST", "/api/v1/uploads/{upload_id}/finish"): case(WRITERS, {}),
    ("GET", "/api/v1/documents/{document_id}"): case(ALL),
    ("DELETE", "/api/v1/documents/{document_id}"): case(MANAGERS, {"reason": "matrix"}),
    ("GET", "/api/v1/documents/{document_id}/content"): case(ALL),
    ("GET", "/api/v1/documents/{document_id}/download-url"): case(ALL),
    ("GET", "/api/v1/documents/{document_id}/versions"): case(ALL),
    ("POST", "/api/v1/documents/{document_id}/versions"): case(WRITERS, b"v2 bytes", raw=True),
    ("POST", "/api/v1/documents/{document_id}/legal-hold"): case(MANAGERS, {"reason": "matrix", "on": True}),
    ("POST", "/api/v1/cases/{case_id}/legal-hold"): case(MANAGERS, {"reason": "matrix", "on": True}),
    ("GET", "/api/v1/cases/{case_id}/legal-holds"): case(ALL),
    # search
    ("GET", "/api/v1/search"): listing(),
    ("GET", "/api/v1/search/suggest"): listing(),
    ("GET", "/api/v1/search/lookup"): listing(),
    ("GET", "/api/v1/search/status"): own(AUDITING),
    # routing and work (issue: routing)
    ("GET", "/api/v1/queues"): listing(ALL),
    ("PUT", "/api/v1/queues/{queue}"): own(MANAGERS, {"title": "Default"}),
    ("GET", "/api/v1/queues/{queue}/items"): listing(ALL),
    ("GET", "/api/v1/queues/{queue}/overview"): listing(MANAGERS),
    ("GET", "/api/v1/queues/{queue}/items/{case_id}/explain"): case(ALL),
    ("PUT", "/api/v1/queues/{queue}/members/{user_id}"): own(MANAGERS, {"role": "agent"}),
    ("DELETE", "/api/v1/queues/{queue}/members/{user_id}"): own(MANAGERS),
    ("GET", "/api/v1/me/work"): own(ALL),
    ("POST", "/api/v1/work/next"): own(WRITERS, {}),
    ("POST", "/api/v1/cases/{case_id}/assignment"): case(MANAGERS, {"assignee": "{user_id}"}),
    ("DELETE", "/api/v1/cases/{case_id}/assignment"): case(WRITERS),
    ("POST", "/api/v1/cases/{case_id}/assignment/renew"): case(WRITERS, {}),
    ("POST", "/api/v1/assignments/bulk"): own(MANAGERS, {"case_ids": ["{case_id}"], "assignee": "{user_id}"}),
    ("GET", "/api/v1/cases/{case_id}/routing"): case(ALL),
    ("GET", "/api/v1/routing/rules"): own(ALL),
    # the rules in force, written back: a write that got through would change no routing
    ("PUT", "/api/v1/routing/rules"): own(ADMINS, "{routing_rules}"),
    # a dry run: who may ask is the check; it moves nothing, so shared state stays as it was
    ("POST", "/api/v1/routing/rules/reapply"): own(MANAGERS, {"dry_run": True}),
    ("GET", "/api/v1/agents"): own(MANAGERS),
    ("GET", "/api/v1/agents/{user_id}"): own(MANAGERS),
    ("PUT", "/api/v1/agents/{user_id}"): own(MANAGERS, {"capacity": 3}),
    # SLA
    ("GET", "/api/v1/cases/{case_id}/sla"): case(ALL),
    ("GET", "/api/v1/sla/at-risk"): listing(ALL),
    ("GET", "/api/v1/calendars"): own(ALL),
    ("GET", "/api/v1/calendars/{name}"): own(ALL),
    ("PUT", "/api/v1/calendars/{name}"): own(
        ADMINS, {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}, params=(("name", "matrix-calendar"),)
    ),
    ("GET", "/api/v1/sla/policies/{case_type}"): own(ALL),
    ("PUT", "/api/v1/sla/policies/{case_type}"): own(
        ADMINS, {"calendar": "24x7", "clocks": {"resolution": {"target_hours": 40}}}
    ),
    # messages, notifications, channels
    ("GET", "/api/v1/cases/{case_id}/messages"): case(ALL),
    ("POST", "/api/v1/cases/{case_id}/messages"): case(
        WRITERS, {"channel": "email", "to": "x@example.org", "subject": "s", "body": "b"}
    ),
    ("GET", "/api/v1/messages/{message_id}"): case(ALL),
    ("PUT", "/api/v1/cases/{case_id}/follow"): case(ALL, {}),
    ("DELETE", "/api/v1/cases/{case_id}/follow"): case(ALL),
    ("GET", "/api/v1/notifications"): own(ALL),
    ("POST", "/api/v1/notifications/read"): own(ALL, {"all": True}),
    ("GET", "/api/v1/notifications/stream"): own(ALL, safe=False),
    ("GET", "/api/v1/me/preferences"): own(ALL),
    ("PUT", "/api/v1/me/preferences"): own(ALL, {}),
    ("GET", "/api/v1/templates/{event}/{locale}"): own(MANAGERS),
    ("PUT", "/api/v1/templates/{event}/{locale}"): own(
        ADMINS, {"subject": "s", "text": "t"}, params=(("event", "matrix_event"),)
    ),
    # provider webhooks: no token, a provider signature instead (an unsigned call is refused)
    ("POST", "/api/v1/channels/twilio/sms"): Rule(None, "signed", {"From": "+441234567890", "Body": "hi"}),
    ("POST", "/api/v1/channels/twilio/fax"): Rule(None, "signed", {"From": "+441234567890"}),
    # reports and process mining
    ("GET", "/api/v1/reports"): own(OVERSEERS),
    ("GET", "/api/v1/reports/{name}"): listing(OVERSEERS),
    ("GET", "/api/v1/reports/{name}/chart.svg"): listing(OVERSEERS),
    ("GET", "/api/v1/process/graph.svg"): listing(OVERSEERS),
    ("GET", "/api/v1/process/{view}"): listing(OVERSEERS),
}

# values for path parameters and body placeholders; filled in by the ``world`` fixture
PARAMS_STATIC = {
    "key": "complaint",
    "queue": "default",
    "event": "case_queued",
    "locale": "en",
    "view": "dfg",
    "name": "backlog",
    "case_type": "matrix_type",  # never a real type: the PUT must not change the policy of later tests
}


# the suite's shared configuration: what the matrix must leave as it found it
SHARED = (
    "/api/v1/routing/rules",
    "/api/v1/calendars",
    "/api/v1/sla/policies/*",
    "/api/v1/sla/policies/complaint",
    "/api/v1/sla/policies/matrix_type",  # what the matrix's PUT aims at: still inherited
    "/api/v1/templates/acknowledgement/en",
    "/api/v1/templates/matrix_event/en",  # likewise: still none
    "/api/v1/agents",
    "/api/v1/queues",
    "/api/v1/me/preferences",
)


@dataclass
class World:
    suite: Suite
    values: dict[str, Any]
    callers: dict[str, requests.Session] = field(default_factory=dict)
    red_markers: tuple[str, ...] = ()
    reads: frozenset[str] = frozenset()  # path templates the OpenAPI document has a GET for
    shared: dict[str, Any] = field(default_factory=dict)  # SHARED as it was before the sweep


def login(suite: Suite, username: str | None) -> requests.Session:
    session = requests.Session()
    if username:
        token = session.post(
            f"{suite.gateway_url}/api/v1/auth/token",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        token.raise_for_status()
        session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def find_id(value: Any, key: str) -> str | None:
    """The first ``id`` of a list named ``key`` anywhere in a JSON value."""
    if isinstance(value, dict):
        items = value.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict) and "id" in items[0]:
            return str(items[0]["id"])
        for inner in value.values():
            found = find_id(inner, key)
            if found:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = find_id(inner, key)
            if found:
                return found
    return None


def shared_state(admin: Client) -> dict[str, Any]:
    """The shared configuration as the admin reads it, bodies and ETags (of the queues, the one the
    matrix names, without its counts: other work and SLA escalations move those)."""
    state: dict[str, Any] = {}
    for path in SHARED:
        response = admin.get(path)
        body = response.json() if response.ok else response.json()["code"]  # not its request id
        if path == "/api/v1/agents":
            body = [{k: v for k, v in a.items() if k != "load"} for a in body]
        if path == "/api/v1/queues":
            body = [{k: q[k] for k in ("name", "title", "members")} for q in body if q["name"] == "default"]
        state[path] = (response.status_code, response.headers.get("ETag"), body)
    return state


def restore_rules(admin: Client, before: dict[str, Any]) -> None:
    """Put the routing rules back as they were, should a write have got through."""
    now = admin.get("/api/v1/routing/rules")
    keys = ("default_queue", "queues", "rules")
    if any(now.json()[k] != before[k] for k in keys):
        document = {k: before[k] for k in keys}
        headers = {"If-Match": now.headers["ETag"]}
        admin.request("PUT", "/api/v1/routing/rules", json=document, headers=headers)


@pytest.fixture(scope="module")
def world(suite: Suite, admin: Client) -> Iterator[World]:
    shared = shared_state(admin)
    rules = shared["/api/v1/routing/rules"][2]
    tag = uuid.uuid4().hex[:6]
    callers = {
        "red_agent": (AGENT, "red"),
        "red_supervisor": (SUPERVISOR, "red"),
        "auditor": (AUDITOR, None),
        "blue_agent": (AGENT, "blue"),
        "blue_supervisor": (SUPERVISOR, "blue"),
    }
    for name, (role, team) in callers.items():
        create_user(suite, f"mx-{name.replace('_', '-')}-{tag}", role, PASSWORD, team)
    sessions = {name: login(suite, f"mx-{name.replace('_', '-')}-{tag}") for name in callers}
    sessions["admin"] = admin.http
    sessions["anonymous"] = login(suite, None)

    opened = admin.post(
        "/api/v1/cases",
        json={
            "type": "complaint",
            "title": f"Red team matrix {tag}",
            "team": "red",
            "customer": {"name": "Red Customer", "email": f"red.{tag}@example.org"},
        },
    )
    assert opened.status_code == 201, opened.text
    red = opened.json()
    other = admin.post("/api/v1/cases", json={**CASE_BODY, "team": "red", "title": f"Other {tag}"}).json()
    noted = admin.post(
        f"/api/v1/cases/{red['id']}/notes", json=NOTE, headers={"If-Match": f'"{red["version"]}"'}
    ).json()
    tasked = admin.post(
        f"/api/v1/cases/{red['id']}/tasks",
        json={"title": "matrix task"},
        headers={"If-Match": f'"{noted["case"]["version"]}"'},
    ).json()
    document = admin.post(
        f"/api/v1/cases/{red['id']}/documents",
        params={"filename": "matrix.txt"},
        data=b"red team letter",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert document.status_code == 201, document.text
    me = sessions["red_agent"].get(f"{suite.gateway_url}/api/v1/cases", timeout=10)
    assert me.status_code == 200
    values = {
        **PARAMS_STATIC,
        "case_id": red["id"],
        "other_case_id": other["id"],
        "note_id": find_id(noted, "notes") or str(uuid.uuid4()),
        "task_id": find_id(tasked, "tasks") or str(uuid.uuid4()),
        "party_id": find_id(red, "parties") or str(uuid.uuid4()),
        "document_id": document.json()["id"],
        "upload_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()),
        "key_id": str(uuid.uuid4()),
        "webhook_id": str(uuid.uuid4()),
        "delivery_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "red_agent_id": str(uuid.uuid4()),
        "routing_rules": {k: rules[k] for k in ("default_queue", "queues", "rules")},
    }
    doc = admin.get("/api/v1/docs/openapi.json").json()
    reads = frozenset(path for path, item in doc["paths"].items() if "get" in item)
    world = World(suite, values, sessions, (red["id"], red["reference"], f"red.{tag}"), reads, shared)
    try:
        yield world
    finally:
        restore_rules(admin, rules)


def operations(doc: dict) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        if template.startswith("{") and not isinstance(values.get(template[1:-1], ""), str):
            return values[template[1:-1]]  # a whole body, e.g. {routing_rules}
        for name, value in values.items():
            if isinstance(value, str):
                template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def target(world: World, path: str, rule: Rule) -> str:
    url = world.suite.gateway_url + fill(path, {**world.values, **dict(rule.params)})
    assert "{" not in url, f"{path}: no value for a path parameter; add it to the world fixture"
    return url


def current_etag(world: World, path: str, rule: Rule) -> str | None:
    """What an allowed writer would send as ``If-Match``: the target's ETag, else its case's (the
    changes inside a case folder name the case's version), else none (nothing there yet)."""
    admin = world.callers["admin"]
    for read, params in ((path, rule.params), ("/api/v1/cases/{case_id}", ())):
        if read in world.reads and (read == path or "{case_id}" in path):
            response = admin.get(target(world, read, Rule(ALL, "own", params=params)), timeout=30)
            if response.status_code == 200 and response.headers.get("ETag"):
                return response.headers["ETag"]
    return None


def send(
    world: World, caller: str, method: str, path: str, rule: Rule, if_match: str | None = None
) -> requests.Response:
    url = target(world, path, rule)
    kwargs: dict[str, Any] = {"timeout": 30, "headers": {"If-Match": if_match} if if_match else {}}
    if method in ("POST", "PUT", "PATCH", "DELETE") and rule.body is not None:
        if rule.raw:
            kwargs["data"] = rule.body
            kwargs["headers"]["Content-Type"] = "application/octet-stream"
        else:
            kwargs["json"] = fill(rule.body, world.values)
    if path.endswith("/stream"):
        kwargs["stream"] = True
        kwargs["timeout"] = 5
    response = world.callers[caller].request(method, url, **kwargs)
    if kwargs.get("stream"):
        response.close()
    return response


ROLE_OF = {
    "red_agent": AGENT,
    "red_supervisor": SUPERVISOR,
    "admin": ADMIN,
    "auditor": AUDITOR,
    "blue_agent": AGENT,
    "blue_supervisor": SUPERVISOR,
}
OTHER_TEAM = ("blue_agent", "blue_supervisor")


def check(world: World, method: str, path: str, rule: Rule) -> list[str]:
    """Every violation of ``rule`` by the served operation, as readable lines."""
    found: list[str] = []
    op = f"{method} {path}"
    reads = method == "GET"
    if_match = None if reads or rule.roles is None else current_etag(world, path, rule)

    def ok(status: int) -> bool:
        return 200 <= status < 300

    if rule.scope == "signed":  # a provider webhook: without the provider's signature, refused
        unsigned = send(world, "anonymous", method, path, rule)
        if ok(unsigned.status_code) or unsigned.status_code >= 500:
            found.append(f"{op}: an unsigned call got {unsigned.status_code}")
        return found
    if rule.roles is None:
        return found
    anon = send(world, "anonymous", method, path, rule, if_match)
    if anon.status_code != 401:
        found.append(f"{op}: anonymous got {anon.status_code}, expected 401")
    for caller, role in ROLE_OF.items():
        allowed = role in rule.roles
        foreign = caller in OTHER_TEAM and rule.scope == "case"
        if allowed and not foreign and not (reads and rule.safe):
            continue  # allowed writes are not sent: they would change the world under the matrix
        response = send(world, caller, method, path, rule, if_match)
        status = response.status_code
        if status >= 500:
            found.append(f"{op}: {caller} got {status}")
        elif not allowed and ok(status):
            found.append(f"{op}: {caller} ({role}) got {status}; the role is not allowed")
        elif allowed and foreign and status != 404 and (reads or ok(status)):
            found.append(f"{op}: {caller} of another team got {status}, expected 404")
        elif allowed and not foreign and status in (401, 403):
            found.append(f"{op}: {caller} ({role}) was refused with {status}")
        if rule.scope == "list" and caller in OTHER_TEAM and ok(status):
            leaked = [m for m in world.red_markers if m in response.text]
            if leaked:
                found.append(f"{op}: {caller} of another team sees {leaked}")
    return found


def test_every_operation_has_a_rule_and_keeps_it(world: World, anonymous: Client) -> None:
    doc = anonymous.get("/api/v1/docs/openapi.json").json()
    ops = operations(doc)
    missing = [f"{m} {p}" for m, p in ops if (m, p) not in RULES]
    assert not missing, "operations without an authorization rule (add them to RULES):\n" + "\n".join(missing)

    violations: list[str] = []
    for method, path in ops:
        violations += check(world, method, path, RULES[(method, path)])
    assert not violations, "authorization violations:\n" + "\n".join(violations)


def test_the_matrix_catches_a_leak(world: World) -> None:
    """The checker itself: a rule that claims a role is not allowed fails on a real 200."""
    wrong = Rule(frozenset({ADMIN}), "own")
    assert check(world, "GET", "/api/v1/case-types", wrong), "the matrix did not notice agents getting 200"
    too_open = Rule(ALL, "list")
    world.red_markers = (*world.red_markers, "complaint")  # a word every case-types answer has
    assert any("sees" in v for v in check(world, "GET", "/api/v1/case-types", too_open))
    world.red_markers = world.red_markers[:-1]


def test_the_matrix_left_the_shared_state_as_it_found_it(world: World, admin: Client) -> None:
    """Runs after the sweep: the routing rules (and the rest of the shared configuration other
    modules reuse) are what they were before it, version and all."""
    after = shared_state(admin)
    assert after["/api/v1/routing/rules"] == world.shared["/api/v1/routing/rules"]
    changed = [path for path in SHARED if after[path] != world.shared[path]]
    assert not changed, f"the matrix changed shared state: {changed}"


def test_a_blue_caller_sees_nothing_red_in_lists(world: World) -> None:
    """A direct check of the list scope, independent of the generated sweep."""
    for caller in OTHER_TEAM:
        body = world.callers[caller].get(
            f"{world.suite.gateway_url}/api/v1/search", params={"q": world.values["case_id"]}, timeout=10
        )
        assert body.status_code == 200
        assert world.values["case_id"] not in json.dumps(body.json())
