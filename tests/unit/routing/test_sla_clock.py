"""One SLA clock without a database: pause and resume, thresholds, retargeting, the story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casekit.errors import InvalidInput
from services.routing.logic import sla_clock as sc
from services.routing.logic.calendars import ALWAYS_OPEN, parse_calendar
from services.routing.logic.sla_policy import (
    BUILTIN_POLICY,
    clock_spec,
    pause_reason,
    priority_raised,
    target_for,
    validate_policy,
)
from services.routing.models import SlaClock, SlaHistory

LONDON = ZoneInfo("Europe/London")
UK = parse_calendar(
    "uk-office",
    {"timezone": "Europe/London", "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
)
H = timedelta(hours=1)
SPEC = {
    "target_hours": 16,
    "start_on": ["opened"],
    "stop_on": ["closed"],
    "warn_at": [0.75],
    "on_warning": ["notify"],
    "on_breach": ["notify"],
    "pauses": True,
    "calendar": "uk-office",
}


def uk(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def clock(at: datetime, target: timedelta = 16 * H) -> SlaClock:
    c = sc.new_clock(
        case_id="c1", name="resolution", cycle=1, calendar="uk-office", target=target, spec=SPEC, at=at
    )
    sc.schedule(c, UK)
    return c


def test_a_running_clock_is_due_two_business_days_later_with_a_warning_at_75_percent() -> None:
    c = clock(uk(2026, 11, 25, 9))  # a Wednesday
    assert c.due_at == uk(2026, 11, 26, 17)
    assert c.next_fire_at == uk(2026, 11, 26, 13)  # 12 of 16 business hours
    assert sc.elapsed_at(c, UK, uk(2026, 11, 25, 20)) == 8 * H


def test_pausing_stops_the_count_and_resuming_pushes_the_deadline_out() -> None:
    c = clock(uk(2026, 11, 25, 9))
    assert sc.pause(c, UK, uk(2026, 11, 25, 14, 2))
    assert (c.state, c.due_at, c.next_fire_at) == ("paused", None, None)
    assert c.elapsed == 5 * H + 2 * timedelta(minutes=1)
    assert not sc.pause(c, UK, uk(2026, 11, 25, 15)), "pausing twice is a no-op"
    assert sc.elapsed_at(c, UK, uk(2026, 11, 30, 9)) == c.elapsed, "a paused clock does not run"
    assert sc.resume(c, UK, uk(2026, 11, 27, 9))  # Friday morning: 10 h 58 min are left
    assert c.due_at == uk(2026, 11, 30, 11, 58)
    assert sc.stop(c, UK, uk(2026, 11, 30, 10))
    assert (c.state, c.met, c.due_at) == ("stopped", True, None)
    assert c.elapsed == 14 * H + 2 * timedelta(minutes=1)  # + Friday 8 h + Monday 1 h


def test_due_thresholds_come_in_order_at_their_own_instants_and_fire_once() -> None:
    c = clock(uk(2026, 11, 25, 9))
    assert sc.due_thresholds(c, UK, uk(2026, 11, 26, 12)) == []
    due = sc.due_thresholds(c, UK, uk(2026, 12, 1, 12))  # days later: both, at their instants
    assert due == [(0.75, uk(2026, 11, 26, 13)), (1.0, uk(2026, 11, 26, 17))]
    for fraction, at in due:
        sc.mark_fired(c, fraction, at)
    sc.schedule(c, UK)
    assert sc.due_thresholds(c, UK, uk(2026, 12, 1, 12)) == []
    assert c.next_fire_at is None and c.breached_at == uk(2026, 11, 26, 17)
    sc.stop(c, UK, uk(2026, 12, 1, 12))
    assert c.met is False


def test_retargeting_keeps_what_ran_and_moves_the_deadline() -> None:
    c = clock(uk(2026, 11, 25, 9))
    assert sc.retarget(c, UK, 4 * H, uk(2026, 11, 25, 10))
    assert c.elapsed == H and c.due_at == uk(2026, 11, 25, 13)
    paused = clock(uk(2026, 11, 25, 9))
    sc.pause(paused, UK, uk(2026, 11, 25, 11))
    assert sc.retarget(paused, UK, 3 * H, uk(2026, 11, 25, 12)) and paused.due_at is None
    sc.resume(paused, UK, uk(2026, 11, 25, 13))
    assert paused.due_at == uk(2026, 11, 25, 14)


def test_a_clock_past_its_target_is_due_at_once() -> None:
    c = clock(uk(2026, 11, 25, 9), target=H)
    sc.pause(c, UK, uk(2026, 11, 25, 12))  # ran 3 h of a 1 h target while the timer was away
    sc.resume(c, UK, uk(2026, 11, 25, 13))
    assert c.due_at == uk(2026, 11, 25, 13) == c.next_fire_at
    assert [f for f, _ in sc.due_thresholds(c, UK, uk(2026, 11, 25, 13))] == [0.75, 1.0]


def test_recalculating_after_a_calendar_edit_keeps_the_time_already_run() -> None:
    c = clock(uk(2026, 11, 25, 9))
    longer = parse_calendar(
        "uk-office", {"timezone": "Europe/London", "hours": {"wed": "09:00-21:00", "thu": "09:00-21:00"}}
    )
    sc.recalculate(c, UK, longer, uk(2026, 11, 25, 13))
    assert c.elapsed == 4 * H
    assert c.due_at == uk(2026, 11, 26, 13)  # 8 h left on Wednesday 13:00-21:00, then 4 more


@given(
    st.lists(st.integers(min_value=1, max_value=72 * 60), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=200),
)
def test_running_time_is_the_sum_of_the_running_stretches(gaps: list[int], hours: int) -> None:
    start = datetime(2026, 3, 23, 7, tzinfo=UTC)  # the week the clocks go forward in London
    c = clock(start, target=hours * H)
    at, expected, running = start, timedelta(0), True
    for minutes in gaps:
        nxt = at + timedelta(minutes=minutes)
        if running:
            expected += UK.business_time(at, nxt)
            sc.pause(c, UK, nxt)
        else:
            sc.resume(c, UK, nxt)
        at, running = nxt, not running
    assert sc.elapsed_at(c, UK, at) == expected
    if running:
        assert UK.business_time(at, c.due_at) == max(hours * H - expected, timedelta(0))


def test_the_story_reads_like_a_story() -> None:
    c = clock(uk(2026, 11, 25, 9))

    def line(kind: str, at: datetime, reason: str | None = None, **detail: object) -> str:
        row = SlaHistory(
            kind=kind, at=at, reason=reason, threshold=detail.pop("threshold", None), detail=detail
        )
        return sc.story_line(row, c, UK, previous=uk(2026, 11, 25, 8))

    assert line(
        "started", uk(2026, 11, 25, 9), "the case was opened", due_at=uk(2026, 11, 26, 17).isoformat()
    ) == (
        "started 09:00 (resolution, target 2 business days, calendar uk-office, due Thu 26 Nov 17:00 GMT)"
        " because the case was opened"
    )
    assert line("paused", uk(2026, 11, 25, 14, 2), "stage became pending", elapsed_seconds=18120) == (
        "paused 14:02 because stage became pending (5 h 02 min used)"
    )
    assert (
        line(
            "breached",
            uk(2026, 11, 26, 17),
            "resolution breached",
            threshold=1.0,
            actions=[
                {"action": "raise_priority", "priority": "urgent"},
                {"action": "notify", "supervisor_ids": ["sup-1"]},
            ],
        )
        == "breached Thu 26 Nov 17:00 GMT (target 2 business days); priority raised to urgent; notified sup-1"
    )
    assert line(
        "stopped", uk(2026, 11, 25, 16), "an agent responded", met=True, elapsed_seconds=7 * 3600
    ) == ("stopped 16:00 because an agent responded: met (7 h of 16 h)")


# --- policies ------------------------------------------------------------------------------


def test_targets_come_from_the_priority_or_from_the_case_type() -> None:
    spec = clock_spec({"clocks": {"first_response": {"target_hours": {"high": 2, "*": 8}}}}, "first_response")
    assert spec["start_on"] == ["opened"] and spec["stop_on"] == ["closed"] and spec["calendar"] == "24x7"
    assert target_for(spec, {"priority": "high"}) == 2 * H
    assert target_for(spec, {"priority": "low"}) == 8 * H
    stage = clock_spec(BUILTIN_POLICY, "stage")
    case = {"stage": "received", "sla": {"stage": "received", "priority": "high", "target_hours": 0.5}}
    assert target_for(stage, case) == timedelta(minutes=30)
    assert target_for(stage, {"stage": "received", "sla": None}) is None


def test_pause_reasons_name_the_stage_or_the_field() -> None:
    policy = {"pause": {"stages": ["pending"], "data": {"waiting_on": "customer"}}, "clocks": {}}
    assert pause_reason(policy, {"status": "open", "stage": "pending"}) == "stage became pending"
    assert pause_reason(policy, {"status": "open", "stage": "x", "data": {"waiting_on": "customer"}}) == (
        "data.waiting_on became customer"
    )
    assert pause_reason(policy, {"status": "open", "stage": "x", "data": {"waiting_on": "us"}}) is None
    assert pause_reason(policy, {"status": "closed", "stage": "pending"}) is None


def test_raising_a_priority_never_lowers_it() -> None:
    assert priority_raised("normal") == "high"
    assert priority_raised("urgent") == "urgent"
    assert priority_raised("low", "urgent") == "urgent"
    assert priority_raised("urgent", "high") == "urgent"


def test_a_bad_policy_is_refused_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_policy(
            {
                "calendar": "nowhere",
                "clocks": {"first_response": {"target_hours": 2, "on_breach": [{"move_queue": "Bad Queue"}]}},
            },
            {"24x7"},
        )
    assert [e["field"] for e in err.value.fields] == ["policy.clocks.first_response.on_breach.0"]
    with pytest.raises(InvalidInput) as err:
        validate_policy(
            {"calendar": "nowhere", "clocks": {"resolution": {"target_hours": "case_type"}}}, {"24x7"}
        )
    assert [e["field"] for e in err.value.fields] == [
        "policy.calendar",
        "policy.clocks.resolution.target_hours",
    ][:1]
    with pytest.raises(InvalidInput) as err:
        validate_policy({"clocks": {"resolution": {"target_hours": "case_type", "warn_at": [1.5]}}}, {"24x7"})
    assert [e["field"] for e in err.value.fields] == ["policy.clocks.resolution.warn_at.0"]
    with pytest.raises(InvalidInput) as err:
        validate_policy({"clocks": {"resolution": {"target_hours": "case_type"}}}, {"24x7"})
    assert [e["field"] for e in err.value.fields] == ["policy.clocks.resolution.target_hours"]


def test_always_open_clocks_count_plain_seconds() -> None:
    c = sc.new_clock(
        case_id="c",
        name="stage:new",
        cycle=1,
        calendar="24x7",
        target=timedelta(seconds=1.8),
        spec=SPEC,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    sc.schedule(c, ALWAYS_OPEN)
    assert c.due_at == datetime(2026, 1, 1, 0, 0, 1, 800000, tzinfo=UTC)
    assert sc.seconds(c.target) == 1.8 and sc.seconds(timedelta(hours=2)) == 7200
