"""What a report is asked about: a period, filters on the case, a grouping, a row limit.

Every figure is computed in SQL with bound parameters; only names from the fixed tables below are
ever placed into the statement text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.search.reports.derive import parse_time

# filter parameter -> the rp_cases column it matches (current values of the case)
FILTERS = {
    "case_type": "c.type",
    "queue": "c.queue",
    "team": "c.team",
    "agent": "c.assignee",
    "priority": "c.priority",
    "channel": "c.channel",
}
CASE_GROUPS = {**FILTERS, "stage": "c.stage", "status": "c.status"}
TIME_GROUPS = ("day", "week", "month")
DEFAULT_DAYS = 30
MAX_LIMIT = 1000
LAST = re.compile(r"^(\d{1,4})([hdw])$")


class ScopeError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass
class Scope:
    start: datetime
    end: datetime
    filters: dict[str, str] = field(default_factory=dict)
    by: str | None = None
    limit: int = 20
    level: str = "stage"

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "filters": dict(self.filters),
            "by": self.by,
        }

    def case_where(self, params: dict[str, Any]) -> str:
        """``AND ...`` clauses for the filters on ``rp_cases c``; fills ``params``."""
        parts = []
        for i, (name, value) in enumerate(sorted(self.filters.items())):
            params[f"f{i}"] = value
            parts.append(f" AND {FILTERS[name]} = :f{i}")
        params["start"], params["end"] = self.start, self.end
        return "".join(parts)


def group_expr(by: str, time_column: str, extra: dict[str, str] | None = None) -> str:
    if by in TIME_GROUPS:
        return f"to_char(date_trunc('{by}', {time_column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    groups = {**CASE_GROUPS, **(extra or {})}
    return f"coalesce({groups[by]}, '(none)')"


def parse_scope(params: dict[str, Any], now: datetime | None = None, groups: tuple[str, ...] = ()) -> Scope:
    """A scope from query parameters: ``from``/``to`` (ISO 8601) or ``last`` (5d, 12h, 2w)."""
    now = now or datetime.now(UTC)
    try:
        end = parse_time(params.get("to")) or now
    except ValueError:
        raise ScopeError("to", "must be an ISO 8601 date or time") from None
    last = params.get("last")
    if last:
        m = LAST.match(str(last))
        if not m:
            raise ScopeError("last", "must look like 5d, 12h or 2w")
        unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        start = end - timedelta(**{unit: int(m.group(1))})
    else:
        try:
            start = parse_time(params.get("from")) or end - timedelta(days=DEFAULT_DAYS)
        except ValueError:
            raise ScopeError("from", "must be an ISO 8601 date or time") from None
    if start >= end:
        raise ScopeError("from", "must be before to")
    filters = {}
    for name in FILTERS:
        value = params.get(name)
        if value not in (None, ""):
            if not isinstance(value, str) or len(value) > 128:
                raise ScopeError(name, "must be a string of at most 128 characters")
            filters[name] = value
    by = params.get("by") or None
    if by is not None and by not in groups:
        raise ScopeError("by", f"must be one of {', '.join(groups) or '(none: this view has no grouping)'}")
    try:
        limit = int(params.get("limit") or 20)
    except (TypeError, ValueError):
        raise ScopeError("limit", "must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ScopeError("limit", f"must be between 1 and {MAX_LIMIT}")
    level = params.get("level") or "stage"
    if level not in ("stage", "activity"):
        raise ScopeError("level", "must be stage or activity")
    return Scope(start=start, end=end, filters=filters, by=by, limit=limit, level=level)
