"""SLA clocks driven by real events through RabbitMQ and fired by the timer, on real PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import eventlet
import pytest
import requests
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from casekit.contracts.events import make_envelope
from casekit.errors import InvalidInput, NotFound, PermissionDenied, PreconditionRequired, StaleVersion
from casekit.testing import infra
from services.routing.service import RoutingService
from tests.integration.helpers import call, eventually, sql

pytestmark = pytest.mark.integration

ADMIN = {"user_id": "admin-1", "roles": "admin"}
AGENT = {"user_id": "agent-1", "roles": "agent", "teams": ""}
SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor"}
POLICY = {
    "calendar": "24x7",
    "pause": {"stages": ["pending"]},
    "clocks": {
        "first_response": {
            "target_hours": {"high": 1, "*": 2},
            "stop_on": ["agent_response"],
            "warn_at": [0.5],
            "on_warning": ["notify"],
            "on_breach": ["notify", "raise_priority", {"move_queue": "escalations"}],
        },
        "next_response": {"target_hours": 1, "start_on": ["customer_reply"], "stop_on": ["agent_response"]},
        "resolution": {"target_hours": 100, "start_on": ["opened", "reopened"]},
        "stage": {"target_hours": "case_type", "warn_at": [0.75]},
    },
}


def make_vhost(name: str) -> str:
    """Create a vhost and wait until it exists: on a busy broker the HTTP call may give up first."""
    url = f"{infra.RABBIT_API}/vhosts/{name}"
    with contextlib.suppress(requests.RequestException):
        requests.put(url, auth=infra.RABBIT_AUTH, timeout=90)
    eventually(lambda: requests.get(url, auth=infra.RABBIT_AUTH, timeout=30).ok, timeout=240, interval=2)
    requests.put(
        f"{infra.RABBIT_API}/permissions/{name}/guest",
        auth=infra.RABBIT_AUTH,
        timeout=60,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    return f"{infra.AMQP_BASE}/{name}"


@pytest.fixture(scope="module")
def rabbit_config() -> Iterator[dict[str, Any]]:
    """One vhost for the module instead of one per test (a busy broker takes long to make one).
    Each test still gets its own database, and waits for its own handlers."""
    name = f"cwit-sla-{uuid.uuid4().hex[:8]}"
    uri = make_vhost(name)
    try:
        yield {"AMQP_URI": uri, "username": "guest", "vhost": name}
    finally:
        infra.delete_vhost(name)


@pytest.fixture
def routing(start_service: Callable[..., Any]) -> Any:
    container = start_service(RoutingService, db="routing", SLA_TIMER_INTERVAL=3600, SLA_SEED="")
    call(container, "put_sla_policy", "complaint", POLICY, context=ADMIN)
    call(container, "add_queue_member", "default", "sup-1", "supervisor", context=SUPERVISOR)
    return container


def db_now(container: Any) -> datetime:
    return sql(container.config["DB_URL"], "SELECT now()")[0][0]


class Case:
    """A case as the cases service would describe it in its events, changed step by step."""

    def __init__(self, created_at: datetime, priority: str = "normal", team: str | None = None) -> None:
        self.id = str(uuid.uuid4())
        self.version = 1
        self.snap: dict[str, Any] = {
            "id": self.id,
            "reference": f"CMP-2026-{uuid.uuid4().int % 10**6:06d}",
            "type": "complaint",
            "type_version": 1,
            "title": "Overcharged on my gas bill",
            "description": "",
            "priority": priority,
            "status": "open",
            "stage": "received",
            "channel": "web",
            "data": {},
            "version": 1,
            "team": team,
            "restricted": False,
            "created_at": created_at.isoformat(),
            "updated_at": created_at.isoformat(),
            "stage_entered_at": created_at.isoformat(),
            "closed_at": None,
            "resolution": None,
            "sla": {"priority": priority, "stage": "received", "target_hours": 8},
            "parties": [],
        }

    def event(
        self, kind: str, at: datetime, actor: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return make_envelope(
            producer="cases",
            type=kind,
            case_id=self.id,
            case_version=self.version,
            data={"case": dict(self.snap), **extra},
            actor={"user_id": (actor or AGENT)["user_id"], "roles": (actor or AGENT)["roles"].split(",")},
            occurred_at=at,
        )

    def change(self, at: datetime, **fields: Any) -> None:
        self.version += 1
        self.snap.update(fields, version=self.version, updated_at=at.isoformat())
        if "stage" in fields:
            self.snap["stage_entered_at"] = at.isoformat()
            target = {"received": 8, "investigating": 24}.get(fields["stage"])
            self.snap["sla"] = target and {
                "priority": self.snap["priority"],
                "stage": fields["stage"],
                "target_hours": target,
            }


def deliver(
    container: Any, envelope: dict[str, Any], source: str = "cases", method: str = "sla_case_event"
) -> None:
    with entrypoint_waiter(container, method, timeout=10) as waited:
        event_dispatcher(container.config)(source, envelope["type"], envelope)
    waited.get()


def outbox(container: Any, kind: str, case_id: str) -> list[dict[str, Any]]:
    rows = sql(
        container.config["DB_URL"],
        "SELECT payload FROM outbox WHERE type = %s AND payload->>'case_id' = %s ORDER BY id",
        (kind, case_id),
    )
    return [r[0]["data"] for r in rows]


def clocks(container: Any, case_id: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    return call(container, "case_clocks", case_id, context=context or AGENT)


def by_name(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in view["clocks"]}  # the newest cycle of each


def test_missed_warnings_and_breaches_fire_once_each_at_their_own_instants(routing: Any) -> None:
    db = routing.config["DB_URL"]
    t0 = db_now(routing) - timedelta(hours=3)  # opened three hours ago; nobody was looking since
    case = Case(t0, priority="high")
    deliver(routing, case.event("case_opened", t0))
    eventually(lambda: sql(db, "SELECT count(*) FROM work_items WHERE case_id = %s", (case.id,)) == [(1,)])
    started = outbox(routing, "sla_clock_started", case.id)
    assert sorted(d["clock"] for d in started) == ["first_response", "resolution", "stage:received"]
    first = by_name(clocks(routing, case.id))["first_response"]
    assert first["due_at"] == (t0 + timedelta(hours=1)).isoformat()
    assert first["status"] == "breached" and first["remaining_seconds"] < 0

    assert call(routing, "sla_tick") == 1  # first_response: its warning and its breach
    assert call(routing, "sla_tick") == 0, "a second look fires nothing"

    [warning] = [d for d in outbox(routing, "sla_warning", case.id) if d["clock"] == "first_response"]
    [breach] = outbox(routing, "sla_breached", case.id)
    assert warning["at"] == (t0 + timedelta(minutes=30)).isoformat() and warning["threshold"] == 0.5
    assert warning["supervisor_ids"] == ["sup-1"]
    assert breach["at"] == (t0 + timedelta(hours=1)).isoformat()
    assert (breach["clock"], breach["target_seconds"], breach["elapsed_seconds"]) == (
        "first_response",
        3600,
        3600,
    )
    assert breach["queue"] == "escalations" and breach["supervisor_ids"] == []  # nobody supervises it yet
    escalated = outbox(routing, "case_escalated", case.id)
    assert [(e["action"], e["queue"]) for e in escalated] == [
        ("notify", "default"),
        ("raise_priority", "escalations"),
        ("move_queue", "escalations"),
        ("notify", "escalations"),
    ]
    item = call(routing, "get_work_item", case.id, context=ADMIN)
    assert item["queue"] == "escalations"
    assert sql(
        db, "SELECT count(*) FROM sla_history WHERE case_id = %s AND kind = 'breached'", (case.id,)
    ) == [(1,)]

    story = [line["text"] for line in clocks(routing, case.id)["story"] if line["clock"] == "first_response"]
    assert story[0].startswith("started ") and "(first_response, target 1 hour, calendar 24x7" in story[0]
    assert story[1].startswith("warned ") and "at 50%" in story[1] and "noticed" in story[1]
    assert story[2].startswith("breached ") and "priority raised to urgent" in story[2]
    assert "moved to queue escalations" in story[2]


def test_pending_pauses_every_clock_and_leaving_it_resumes_them(routing: Any) -> None:
    t0 = db_now(routing) - timedelta(hours=1)
    case = Case(t0)
    deliver(routing, case.event("case_opened", t0))
    case.change(t0 + timedelta(minutes=10), stage="pending")
    deliver(routing, case.event("case_transitioned", t0 + timedelta(minutes=10)))
    view = clocks(routing, case.id)
    assert view["paused_by"] == "stage became pending"
    resolution = by_name(view)["resolution"]
    assert (resolution["state"], resolution["elapsed_seconds"], resolution["due_at"]) == ("paused", 600, None)
    assert by_name(view)["stage:received"]["status"] == "met"
    assert "stage:pending" not in by_name(view), "the case type sets no target for pending"

    case.change(t0 + timedelta(minutes=40), stage="investigating")
    deliver(routing, case.event("case_transitioned", t0 + timedelta(minutes=40)))
    view = clocks(routing, case.id)
    resolution = by_name(view)["resolution"]
    assert resolution["state"] == "running" and view["paused_by"] is None
    assert resolution["due_at"] == (t0 + timedelta(hours=100, minutes=30)).isoformat()  # 30 min paused
    assert by_name(view)["stage:investigating"]["target_seconds"] == 24 * 3600
    story = [line["text"] for line in view["story"] if line["clock"] == "resolution"]
    assert story[1].startswith("paused ") and story[1].endswith("because stage became pending (10 min used)")
    assert story[2].startswith("resumed ") and "because stage became investigating, due " in story[2]
    [paused] = outbox(routing, "sla_clock_paused", case.id)[:1]
    assert paused["reason"] == "stage became pending" and paused["elapsed_seconds"] == 600
    # the work item's due_at is the nearest running deadline: first_response's, 30 min later too
    due = (t0 + timedelta(hours=2, minutes=30),)
    query = "SELECT due_at FROM work_items WHERE case_id = %s"
    eventually(lambda: sql(routing.config["DB_URL"], query, (case.id,)) == [due])


def test_an_agent_response_stops_first_response_and_a_customer_reply_starts_the_next(routing: Any) -> None:
    t0 = db_now(routing) - timedelta(minutes=30)
    case = Case(t0)
    deliver(routing, case.event("case_opened", t0))
    case.change(t0 + timedelta(minutes=5))
    internal = {"id": "n1", "visibility": "internal", "body": "looked at it"}
    deliver(routing, case.event("note_added", t0 + timedelta(minutes=5), actor=AGENT, note=internal))
    first = by_name(clocks(routing, case.id))["first_response"]
    assert (first["state"], first["met"], first["elapsed_seconds"]) == ("stopped", True, 300)
    [stopped] = outbox(routing, "sla_clock_stopped", case.id)
    assert stopped["met"] is True and stopped["reason"] == "an agent responded"

    case.change(t0 + timedelta(minutes=10))
    reply = {"channel": "email", "matched_by": "thread", "subject": "Re: your complaint"}
    deliver(routing, case.event("intake_received", t0 + timedelta(minutes=10), actor=ADMIN, item=reply))
    assert by_name(clocks(routing, case.id))["next_response"]["state"] == "running"
    sent = make_envelope(
        producer="notifications",
        type="message_sent",
        case_id=case.id,
        data={"message": {"id": "m1", "channel": "email", "sent_by": "agent-1"}},
        occurred_at=t0 + timedelta(minutes=25),
    )
    deliver(routing, sent, source="notifications", method="sla_message_event")
    nxt = by_name(clocks(routing, case.id))["next_response"]
    assert (nxt["state"], nxt["elapsed_seconds"], nxt["met"]) == ("stopped", 900, True)
    # a system acknowledgement is not a response; an old, redelivered event changes nothing
    deliver(routing, case.event("note_added", t0, actor={"user_id": "system:intake", "roles": "system"}))
    deliver(routing, sent, source="notifications", method="sla_message_event")
    assert len(outbox(routing, "sla_clock_stopped", case.id)) == 2

    case.change(
        t0 + timedelta(minutes=29),
        status="closed",
        closed_at=(t0 + timedelta(minutes=29)).isoformat(),
        resolution="upheld",
    )
    deliver(routing, case.event("case_closed", t0 + timedelta(minutes=29)))
    view = clocks(routing, case.id)
    assert {c["state"] for c in view["clocks"]} == {"stopped"}
    assert [c["status"] for c in view["clocks"] if c["name"] == "resolution"] == ["met"]
    [last] = [line["text"] for line in view["story"] if line["clock"] == "resolution"][-1:]
    assert last.endswith("because the case was closed (upheld): met (29 min of 100 h)")
    reopened_at = t0 + timedelta(minutes=29, seconds=30)
    case.change(reopened_at, status="open", closed_at=None, resolution=None)
    deliver(routing, case.event("case_reopened", reopened_at))
    cycles = [(c["name"], c["cycle"], c["state"]) for c in clocks(routing, case.id)["clocks"]]
    assert ("resolution", 2, "running") in cycles and ("resolution", 1, "stopped") in cycles


def test_calendars_and_policies_are_validated_and_admins_only(routing: Any) -> None:
    uk = {"timezone": "Europe/London", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["12-25"]}
    with pytest.raises(PermissionDenied):
        call(routing, "put_calendar", "uk-office", uk, context=SUPERVISOR)
    with pytest.raises(InvalidInput) as err:
        call(routing, "put_calendar", "uk-office", {**uk, "timezone": "Europe/Atlantis"}, context=ADMIN)
    assert err.value.fields == [
        {"field": "calendar.timezone", "message": "'Europe/Atlantis' is not an IANA time zone"}
    ]
    saved = call(routing, "put_calendar", "uk-office", uk, context=ADMIN)
    assert (saved["version"], saved["hours"]["mon"], saved["holidays"]) == (1, ["09:00-17:00"], ["12-25"])
    assert call(routing, "get_calendar", "uk-office")["timezone"] == "Europe/London"
    assert {c["name"] for c in call(routing, "list_calendars")} == {"uk-office", "24x7"}
    with pytest.raises(NotFound):
        call(routing, "get_calendar", "mars-office")
    with pytest.raises(InvalidInput) as err:
        call(routing, "put_sla_policy", "complaint", {**POLICY, "calendar": "mars-office"}, context=ADMIN)
    assert [e["field"] for e in err.value.fields] == ["policy.calendar"]
    assert call(routing, "get_sla_policy", "benefit")["inherited"] is True
    assert call(routing, "get_sla_policy", "complaint")["policy"] == POLICY


def test_the_service_checks_the_gateways_preconditions(routing: Any) -> None:
    """What the gateway sends (If-Match / If-None-Match as JSON) reaches each versioned change."""
    uk = {"timezone": "Europe/London", "hours": {"mon": ["09:00-17:00"]}}
    none, create_only = {"if_match": None, "if_none_match": None}, {"if_match": None, "if_none_match": "*"}
    changes = [
        ("put_calendar", "uk-office", uk),
        ("put_sla_policy", "benefit", POLICY),
        ("put_agent", "ann", {"capacity": 2}),
    ]
    for method, key, body in changes:
        assert call(routing, method, key, body, create_only, context=ADMIN)["version"] == 1
        with pytest.raises(PreconditionRequired):
            call(routing, method, key, body, none, context=ADMIN)
        with pytest.raises(StaleVersion):
            call(routing, method, key, body, {"if_match": [7], "if_none_match": None}, context=ADMIN)
        current = {"if_match": [1], "if_none_match": None}
        assert call(routing, method, key, body, current, context=ADMIN)["version"] == 2
    rules = {"queues": [{"name": "default"}], "rules": []}
    assert call(routing, "put_rules", rules, None, none, context=ADMIN)["version"] == 1
    with pytest.raises(PreconditionRequired):
        call(routing, "put_rules", rules, None, none, context=ADMIN)
    with pytest.raises(StaleVersion):
        call(routing, "put_rules", rules, None, {"if_match": [2], "if_none_match": None}, context=ADMIN)
    anything = {"if_match": "*", "if_none_match": None}
    assert call(routing, "put_rules", rules, None, anything, context=ADMIN)["version"] == 2


def test_editing_a_calendar_reschedules_running_clocks(routing: Any) -> None:
    policy = {"calendar": "office", "clocks": {"resolution": {"target_hours": 8}}}
    weekends = {"sat": ["10:00-11:00"], "sun": ["10:00-11:00"]}  # 8 hours take four weekends
    call(routing, "put_calendar", "office", {"timezone": "UTC", "hours": weekends}, context=ADMIN)
    call(routing, "put_sla_policy", "complaint", policy, context=ADMIN)
    t0 = datetime.fromisoformat("2030-01-07T09:00:00+00:00")  # a Monday in the future: clamped to now
    case = Case(db_now(routing))
    deliver(routing, case.event("case_opened", t0))
    before = by_name(clocks(routing, case.id))["resolution"]["due_at"]
    everyday = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    saved = call(routing, "put_calendar", "office", {"timezone": "UTC", "hours": everyday}, context=ADMIN)
    assert saved["rescheduled_clocks"] == 1
    view = clocks(routing, case.id)
    after = by_name(view)["resolution"]["due_at"]
    assert datetime.fromisoformat(before) - db_now(routing) > timedelta(days=20)
    assert datetime.fromisoformat(after) - db_now(routing) <= timedelta(hours=8)
    assert view["story"][-1]["text"].startswith("recalculated ")


def test_clocks_are_seen_as_the_case_is_and_at_risk_lists_the_queue(routing: Any) -> None:
    t0 = db_now(routing) - timedelta(minutes=100)
    hidden = Case(t0, team="fraud")
    seen = Case(t0, priority="high")
    deliver(routing, hidden.event("case_opened", t0))
    deliver(routing, seen.event("case_opened", t0))
    with pytest.raises(NotFound):
        clocks(routing, hidden.id)
    assert clocks(routing, hidden.id, context=ADMIN)["case_id"] == hidden.id
    with pytest.raises(NotFound):
        clocks(routing, str(uuid.uuid4()), context=ADMIN)
    eventually(lambda: call(routing, "get_work_item", seen.id, context=ADMIN)["queue"] == "default")
    risky = call(routing, "sla_at_risk", "default", 3600, context=AGENT)
    assert [(i["case_id"], i["clock"]) for i in risky["items"]][:1] == [(seen.id, "first_response")]
    assert all(i["case_id"] != hidden.id for i in risky["items"])
    assert risky["items"][0]["status"] == "breached" and risky["items"][0]["remaining_seconds"] < 0
    with pytest.raises(NotFound):
        call(routing, "sla_at_risk", "no-such-queue")
    with pytest.raises(InvalidInput):
        call(routing, "sla_at_risk", None, -5)


def test_two_replicas_ticking_at_once_fire_each_due_clock_once(
    routing: Any, start_service: Callable[..., Any]
) -> None:
    db = routing.config["DB_URL"]
    t0 = db_now(routing) - timedelta(hours=5)
    cases = [Case(t0, priority="high") for _ in range(30)]
    for case in cases:
        deliver(routing, case.event("case_opened", t0))
    # two more replicas on the same database, each claiming two clocks per transaction
    replicas = [
        start_service(RoutingService, DB_URL=db, SLA_TIMER_INTERVAL=3600, SLA_SEED="", SLA_BATCH=2)
        for _ in range(2)
    ]
    ticks = [eventlet.spawn(call, container, "sla_tick") for container in replicas * 2]
    for tick in ticks:
        tick.wait()
    # each replica's own first tick (at start) runs alongside: wait until nothing is due
    due = "SELECT count(*) FROM sla_clocks WHERE next_fire_at <= now()"
    eventually(lambda: sql(db, due) == [(0,)], timeout=30)
    breaches = sql(
        db, "SELECT payload->>'case_id', count(*) FROM outbox WHERE type = 'sla_breached' GROUP BY 1"
    )
    assert sorted(breaches) == sorted((c.id, 1) for c in cases)
    assert sql(db, "SELECT count(*) FROM sla_history WHERE kind = 'warned'") == [(30,)]
