"""Business calendar arithmetic: weekends, holidays, time zones and DST changes, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casekit.errors import InvalidInput
from services.routing.logic.calendars import ALWAYS_OPEN, describe_target, parse_calendar

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

UK = parse_calendar(
    "uk-office",
    {
        "timezone": "Europe/London",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-12-25", "2026-12-28", {"date": "01-01", "name": "New Year's Day"}],
    },
)
SPLIT = parse_calendar(
    "split",
    {
        "timezone": "America/New_York",
        "hours": {
            "mon": ["08:00-12:00", "13:00-17:30"],
            "wed": ["22:00-24:00"],
            "thu": "00:00-02:00",
            "sat": ["10:00-14:00"],
        },
    },
)
NIGHT = parse_calendar(  # works the hours the clocks change in
    "night", {"timezone": "Europe/London", "hours": {d: ["00:00-04:00"] for d in ("sat", "sun")}}
)
CALENDARS = [UK, SPLIT, NIGHT, ALWAYS_OPEN]
H = timedelta(hours=1)


def uk(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


# --- hand cases ----------------------------------------------------------------------------


def test_adding_within_a_day_and_across_a_weekend() -> None:
    assert UK.add(uk(2026, 11, 25, 9), 2 * H) == uk(2026, 11, 25, 11)
    # Friday 16:00 + 2 business hours: one hour on Friday, one on Monday
    assert UK.add(uk(2026, 11, 27, 16), 2 * H) == uk(2026, 11, 30, 10)
    # started on a Saturday: the clock only runs from Monday 09:00
    assert UK.add(uk(2026, 11, 28, 12), 30 * 60 * timedelta(seconds=1)) == uk(2026, 11, 30, 9, 30)
    assert UK.business_time(uk(2026, 11, 27, 16), uk(2026, 11, 30, 10)) == 2 * H
    assert UK.business_time(uk(2026, 11, 28, 0), uk(2026, 11, 30, 0)) == timedelta(0)


def test_two_business_days_from_a_morning_end_in_the_evening_after_next() -> None:
    assert UK.add(uk(2026, 11, 25, 9), 16 * H) == uk(2026, 11, 26, 17)
    assert describe_target(UK, 16 * H) == "2 business days"
    assert describe_target(UK, 4 * H) == "4 business hours"
    assert describe_target(ALWAYS_OPEN, 48 * H) == "48 hours"


def test_holidays_are_skipped_including_every_first_of_january() -> None:
    # Thu 24 Dec 16:00 + 3 h: 1 h on the 24th, Christmas Friday off, weekend, Mon 28th off,
    # so the remaining 2 h fall on Tuesday 29th
    assert UK.add(uk(2026, 12, 24, 16), 3 * H) == uk(2026, 12, 29, 11)
    assert UK.business_time(uk(2026, 12, 24, 0), uk(2027, 1, 5, 0)) == 8 * H * 5  # 24, 29, 30, 31, 4
    assert UK.is_holiday(datetime(2031, 1, 1).date()) and not UK.is_holiday(datetime(2031, 1, 2).date())


def test_uk_office_hours_follow_the_clock_change_in_utc() -> None:
    # 09:00 London is 09:00Z in winter, 08:00Z in summer (clocks go forward Sun 29 Mar 2026)
    before = UK.intervals(datetime(2026, 3, 27).date())
    after = UK.intervals(datetime(2026, 3, 30).date())
    assert before == [(datetime(2026, 3, 27, 9, tzinfo=UTC), datetime(2026, 3, 27, 17, tzinfo=UTC))]
    assert after == [(datetime(2026, 3, 30, 8, tzinfo=UTC), datetime(2026, 3, 30, 16, tzinfo=UTC))]
    # Friday 16:00 GMT + 2 h lands at Monday 10:00 BST: 65 wall hours but only 64 real ones
    end = UK.add(uk(2026, 3, 27, 16), 2 * H)
    assert end == uk(2026, 3, 30, 10)
    assert end - uk(2026, 3, 27, 16) == timedelta(hours=65)


def test_a_working_night_when_the_clocks_go_forward_is_an_hour_short() -> None:
    spring = datetime(2026, 3, 29).date()  # 01:00 GMT -> 02:00 BST
    assert sum((e - s for s, e in NIGHT.intervals(spring)), timedelta()) == 3 * H
    assert NIGHT.add(uk(2026, 3, 29, 0), 2 * H) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert NIGHT.add(uk(2026, 3, 29, 0), 2 * H) == uk(2026, 3, 29, 3)  # wall time jumps 01:00 -> 02:00


def test_a_working_night_when_the_clocks_go_back_is_an_hour_long() -> None:
    autumn = datetime(2026, 10, 25).date()  # 02:00 BST -> 01:00 GMT: 01:00-02:00 happens twice
    assert sum((e - s for s, e in NIGHT.intervals(autumn)), timedelta()) == 5 * H
    assert NIGHT.business_time(uk(2026, 10, 25, 0), uk(2026, 10, 25, 4)) == 5 * H
    end = NIGHT.add(uk(2026, 10, 25, 0), 2 * H)
    assert end == datetime(2026, 10, 25, 1, tzinfo=UTC)  # 01:00 GMT, the second 01:00
    assert end.astimezone(LONDON).fold == 1


def test_split_days_midnight_spanning_work_and_a_new_york_time_zone() -> None:
    mon = datetime(2026, 11, 30, 11, tzinfo=NEW_YORK)
    assert SPLIT.add(mon, 2 * H) == datetime(2026, 11, 30, 14, tzinfo=NEW_YORK)  # lunch skipped
    # Wed 22:00 - Thu 02:00 is one four-hour stretch over midnight
    assert SPLIT.add(datetime(2026, 12, 2, 23, tzinfo=NEW_YORK), 2 * H) == datetime(
        2026, 12, 3, 1, tzinfo=NEW_YORK
    )
    assert SPLIT.is_working(datetime(2026, 12, 3, 1, tzinfo=NEW_YORK))
    assert not SPLIT.is_working(datetime(2026, 11, 30, 12, 30, tzinfo=NEW_YORK))


def test_the_end_of_a_span_is_the_earliest_answer() -> None:
    assert UK.add(uk(2026, 11, 25, 9), 8 * H) == uk(2026, 11, 25, 17)
    assert UK.add(uk(2026, 11, 25, 17), timedelta(microseconds=1)) == uk(2026, 11, 26, 9, 0) + timedelta(
        microseconds=1
    )


def test_always_open_is_plain_time() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert ALWAYS_OPEN.add(start, timedelta(seconds=1.8)) == start + timedelta(seconds=1.8)


def test_bad_input_is_refused_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_calendar(
            "Bad Name",
            {
                "timezone": "Mars/Olympus",
                "hours": {
                    "mon": ["17:00-09:00", "25:00-26:00"],
                    "funday": ["09:00-10:00"],
                    "tue": ["09:00-12:00", "11:00-13:00"],
                },
                "holidays": ["2026-02-30", "someday", {"date": "12-25", "colour": "red"}],
                "colour": "blue",
            },
        )
    fields = {e["field"] for e in err.value.fields}
    assert fields == {
        "name",
        "calendar.colour",
        "calendar.timezone",
        "calendar.hours.funday",
        "calendar.hours.mon.0",
        "calendar.hours.mon.1",
        "calendar.hours.tue",
        "calendar.holidays.0",
        "calendar.holidays.1",
        "calendar.holidays.2",
    }
    with pytest.raises(InvalidInput, match="invalid calendar") as err:
        parse_calendar("empty", {"timezone": "UTC", "hours": {"mon": []}})
    assert err.value.fields == [
        {"field": "calendar.hours", "message": "needs working hours on at least one day"}
    ]


def test_a_calendar_round_trips_through_its_dict() -> None:
    again = parse_calendar("uk-office", UK.to_dict())
    assert again == UK
    assert {"date": "01-01", "name": "New Year's Day"} in UK.to_dict()["holidays"]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        UK.add(datetime(2026, 1, 1), H)


# --- properties ----------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=400 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))
calendars = st.sampled_from(CALENDARS)


@given(calendars, instants, durations)
def test_adding_then_measuring_gives_back_the_amount(cal, start, amount) -> None:  # noqa: ANN001
    end = cal.add(start, amount)
    assert end >= start
    assert cal.business_time(start, end) == amount


@given(calendars, instants, durations.filter(lambda d: d > timedelta(0)))
def test_the_answer_is_the_earliest_instant(cal, start, amount) -> None:  # noqa: ANN001
    end = cal.add(start, amount)
    assert cal.business_time(start, end - timedelta(microseconds=1)) < amount


@given(calendars, instants, durations, durations)
def test_adding_in_two_steps_is_adding_once(cal, start, a, b) -> None:  # noqa: ANN001
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@given(calendars, instants, instants, instants)
def test_business_time_is_additive_and_never_more_than_real_time(cal, a, b, c) -> None:  # noqa: ANN001
    a, b, c = sorted((a, b, c))
    assert cal.business_time(a, b) + cal.business_time(b, c) == cal.business_time(a, c)
    assert timedelta(0) <= cal.business_time(a, c) <= c - a
    assert cal.business_time(c, a) == timedelta(0) or a == c


@given(instants, durations)
def test_always_open_time_is_real_time(start, amount) -> None:  # noqa: ANN001
    assert ALWAYS_OPEN.add(start, amount) == start + amount
