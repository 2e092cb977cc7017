"""Business calendars: working hours per weekday, holidays, an IANA time zone, exact arithmetic.

A calendar is plain data (YAML in ``deploy/demo/sla/calendars.yaml``, JSONB in ``sla_calendars``)::

    timezone: Europe/London
    hours:                      # wall-clock working hours per weekday; a missing day is off
      mon: ["09:00-12:30", "13:30-17:30"]
      fri: ["09:00-16:00"]
    holidays:                   # whole local days off: a date, or MM-DD every year
      - 2026-12-25
      - {date: "01-01", name: New Year's Day}

Working time is the union of the day's intervals read as wall-clock times in the zone and
turned into instants, so a day on which the clocks change has its real length: an interval
over the hour the clocks go back counts that hour twice, and a wall time that does not exist
because the clocks went forward is read as if they had not yet moved (PEP 495 ``fold=0``,
as java.time does: shifted forward by the gap). Durations are ``timedelta`` (whole
microseconds), so adding and measuring are exact and inverse to each other:
``business_time(a, add(a, d)) == d`` and ``add`` returns the earliest such instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casekit.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_ANNUAL = re.compile(r"^(\d{2})-(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY = 86400
MAX_IDLE_DAYS = 800  # a calendar with no working day this long is broken, not slow
ALWAYS = "24x7"

Span = tuple[int, int]  # seconds after local midnight, end exclusive, end <= 86400


@dataclass(frozen=True)
class Calendar:
    name: str
    timezone: str
    hours: tuple[tuple[Span, ...], ...]  # indexed by weekday, Monday first
    holidays: frozenset[date] = frozenset()
    annual: frozenset[tuple[int, int]] = frozenset()  # (month, day) off every year
    names: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # holiday key -> name
    description: str = field(default="", compare=False)

    # --- reading -------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.annual

    def day_spans(self, day: date) -> tuple[Span, ...]:
        return () if self.is_holiday(day) else self.hours[day.weekday()]

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    @property
    def typical_day(self) -> timedelta | None:
        """The most common length of a working weekday (to say "2 business days")."""
        lengths = [sum(e - s for s, e in spans) for spans in self.hours if spans]
        if not lengths:
            return None
        return timedelta(seconds=max(set(lengths), key=lambda n: (lengths.count(n), n)))

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of one local day as UTC instants (empty ones dropped)."""
        return list(_intervals(self, day))

    # --- arithmetic ----------------------------------------------------------------------

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)``; zero when ``end <= start``."""
        _aware(start, "start")
        _aware(end, "end")
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = self.local_date(start) - timedelta(days=1)
        last = self.local_date(end) + timedelta(days=1)
        while day <= last:
            for s, e in _intervals(self, day):
                lo, hi = max(s, start), min(e, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant ``t >= start`` with ``business_time(start, t) == amount``."""
        _aware(start, "start")
        if amount < timedelta(0):
            raise ValueError("amount must not be negative")
        if amount == timedelta(0):
            return start
        remaining = amount
        day = self.local_date(start) - timedelta(days=1)
        idle = 0
        while True:
            spans = _intervals(self, day)
            idle = 0 if spans else idle + 1
            if idle > MAX_IDLE_DAYS:
                raise ValueError(f"calendar {self.name} has no working time for {MAX_IDLE_DAYS} days")
            for s, e in spans:
                if e <= start:
                    continue
                lo = max(s, start)
                if e - lo >= remaining:
                    return lo + remaining
                remaining -= e - lo
            day += timedelta(days=1)

    def is_working(self, instant: datetime) -> bool:
        day = self.local_date(instant)
        return any(s <= instant < e for d in (day - timedelta(days=1), day) for s, e in _intervals(self, d))

    # --- (de)serialising -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        names = dict(self.names)
        holidays = [d.isoformat() for d in sorted(self.holidays)] + [
            f"{m:02d}-{d:02d}" for m, d in sorted(self.annual)
        ]
        return {
            "timezone": self.timezone,
            "description": self.description,
            "hours": {
                WEEKDAYS[i]: [f"{_hhmm(s)}-{_hhmm(e)}" for s, e in spans]
                for i, spans in enumerate(self.hours)
            },
            "holidays": [{"date": h, "name": names[h]} if h in names else h for h in holidays],
        }


@lru_cache(maxsize=8192)
def _intervals(cal: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    zone = cal.zone
    midnight = datetime.combine(day, time(0))
    out = []
    for s, e in cal.day_spans(day):
        lo = (midnight + timedelta(seconds=s)).replace(tzinfo=zone).astimezone(UTC)
        hi = (midnight + timedelta(seconds=e)).replace(tzinfo=zone).astimezone(UTC)
        if hi > lo:
            out.append((lo, hi))
    return tuple(out)


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


# --- building and validating -------------------------------------------------------------


def _parse_spans(value: Any, where: str, errors: list[dict[str, str]]) -> tuple[Span, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        errors.append({"field": where, "message": 'must be a list of "HH:MM-HH:MM" spans'})
        return ()
    spans: list[Span] = []
    for i, item in enumerate(value):
        m = _SPAN.match(item) if isinstance(item, str) else None
        if m is None:
            errors.append({"field": f"{where}.{i}", "message": f'{item!r} is not "HH:MM-HH:MM"'})
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            errors.append({"field": f"{where}.{i}", "message": f"{item!r} is not a time of day"})
            continue
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if end <= start:
            errors.append({"field": f"{where}.{i}", "message": f"{item!r} ends before it starts"})
            continue
        spans.append((start, end))
    spans.sort()
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        if s2 < e1:
            errors.append({"field": where, "message": "spans overlap"})
            break
    return tuple(spans)


def _parse_holidays(
    value: Any, errors: list[dict[str, str]]
) -> tuple[frozenset[date], frozenset[tuple[int, int]], tuple[tuple[str, str], ...]]:
    dates: set[date] = set()
    annual: set[tuple[int, int]] = set()
    names: list[tuple[str, str]] = []
    if value is None:
        value = []
    if not isinstance(value, list):
        errors.append({"field": "calendar.holidays", "message": "must be a list"})
        value = []
    if len(value) > 2000:
        errors.append({"field": "calendar.holidays", "message": "at most 2000 holidays"})
        value = []
    for i, item in enumerate(value):
        where = f"calendar.holidays.{i}"
        name = None
        if isinstance(item, dict):
            name = item.get("name")
            if set(item) - {"date", "name"} or (name is not None and not isinstance(name, str)):
                errors.append({"field": where, "message": "only date and name (text) are allowed"})
                continue
            item = item.get("date")
        if isinstance(item, date) and not isinstance(item, datetime):
            item = item.isoformat()
        if not isinstance(item, str):
            errors.append({"field": where, "message": "must be a date YYYY-MM-DD or MM-DD"})
            continue
        m = _ANNUAL.match(item)
        try:
            if m:
                month, dom = int(m[1]), int(m[2])
                date(2024, month, dom)  # a leap year: 02-29 is a valid annual holiday
                annual.add((month, dom))
            else:
                if not _ISO_DATE.match(item):
                    raise ValueError(item)
                dates.add(date.fromisoformat(item))
        except ValueError:
            errors.append({"field": where, "message": f"{item!r} is not a date YYYY-MM-DD or MM-DD"})
            continue
        if name:
            names.append((item, name[:200]))
    return frozenset(dates), frozenset(annual), tuple(names)


def parse_calendar(name: str, data: Any) -> Calendar:
    """A validated calendar; ``InvalidInput`` names every bad field."""
    errors: list[dict[str, str]] = []
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        errors.append({"field": "name", "message": "must be lower-case letters, digits, _ or -"})
    if not isinstance(data, dict):
        raise InvalidInput(
            "invalid calendar", [*errors, {"field": "calendar", "message": "must be a mapping"}]
        )
    unknown = sorted(set(data) - {"timezone", "hours", "holidays", "description"})
    for key in unknown:
        errors.append({"field": f"calendar.{key}", "message": "is not a calendar field"})
    tz = data.get("timezone")
    if not isinstance(tz, str) or not tz:
        errors.append(
            {"field": "calendar.timezone", "message": "is required (an IANA zone, e.g. Europe/London)"}
        )
    else:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append({"field": "calendar.timezone", "message": f"{tz!r} is not an IANA time zone"})
    hours_in = data.get("hours")
    if not isinstance(hours_in, dict):
        errors.append({"field": "calendar.hours", "message": "must map weekdays (mon..sun) to spans"})
        hours_in = {}
    for key in sorted(set(hours_in) - set(WEEKDAYS)):
        errors.append({"field": f"calendar.hours.{key}", "message": "is not a weekday (mon..sun)"})
    hours = tuple(_parse_spans(hours_in.get(d), f"calendar.hours.{d}", errors) for d in WEEKDAYS)
    if hours_in and not any(hours) and not any(e["field"].startswith("calendar.hours.") for e in errors):
        errors.append({"field": "calendar.hours", "message": "needs working hours on at least one day"})
    holidays, annual, names = _parse_holidays(data.get("holidays"), errors)
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 500:
        errors.append({"field": "calendar.description", "message": "must be text of at most 500 characters"})
        description = ""
    if errors:
        raise InvalidInput("invalid calendar", errors)
    return Calendar(
        name=name,
        timezone=tz,
        hours=hours,
        holidays=holidays,
        annual=annual,
        names=names,
        description=description,
    )


ALWAYS_OPEN = Calendar(
    name=ALWAYS,
    timezone="UTC",
    hours=tuple(((0, DAY),) for _ in WEEKDAYS),
    description="every hour of every day",
)


# --- saying durations -----------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def clock_span(amount: timedelta) -> str:
    """``1 h 05 min`` / ``42 min`` / ``12 s``: a short human reading of a duration."""
    seconds = int(amount.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours == 0:
        return f"{minutes} min"
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d} min"


def describe_target(calendar: Calendar, amount: timedelta) -> str:
    """``2 business days`` when it is whole working days of the calendar, else hours."""
    if calendar.name == ALWAYS or calendar.typical_day is None or calendar.typical_day == timedelta(days=1):
        return (
            clock_span(amount)
            if amount % timedelta(hours=1)
            else _plural(amount // timedelta(hours=1), "hour")
        )
    day = calendar.typical_day
    if amount >= day and amount % day == timedelta(0):
        return _plural(amount // day, "business day")
    if amount % timedelta(hours=1) == timedelta(0):
        return _plural(amount // timedelta(hours=1), "business hour")
    return f"{clock_span(amount)} of business time"
