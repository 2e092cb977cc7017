"""Pure query building: the query language, the search request, cursors and the visibility filter.

Query language (one string, ``q``)::

    boiler leak            every word must match somewhere (typo tolerant on party names)
    "gas leak"             a phrase
    boil*                  a prefix
    -draft                 must not match
    status:open type:complaint queue:billing assignee:u1 sla:breached priority:high
    created:>=2024-01-01 created:2024-01-01..2024-03-31 priority:>=high
    CMP-2026-000001  ann@example.org  +44 20 7946 0000   exact reference, email, phone

Both engines turn a ``SearchRequest`` into their own query; everything here is engine-neutral.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casekit.context import ROLE_SUPERVISOR, Principal
from casekit.contracts.visibility import SEE_ALL
from services.search.mappings import NO_TEAM, NO_VALUE, PRIORITY_RANK, normalise_email, normalise_phone

FILTER_FIELDS = (
    "type",
    "stage",
    "status",
    "priority",
    "queue",
    "assignee",
    "sla",
    "channel",
    "team",
    "reference",
    "email",
    "phone",
)
FACET_FIELDS = ("type", "stage", "status", "queue", "assignee", "priority", "sla")
RANGE_FIELDS = {
    "created": "created_at",
    "updated": "updated_at",
    "closed": "closed_at",
    "priority": "priority_rank",
}
SORTS = {
    "relevance": None,
    "newest": ("sort_date", "desc"),
    "oldest": ("sort_date", "asc"),
    "priority": ("sort_priority", "desc"),
    "priority_asc": ("sort_priority", "asc"),
}
MAX_LIMIT = 100
PHONE_RUN = re.compile(r"(?<!\S)\+?\(?\d[\d ()\-]{5,}\d(?!\S)")
DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
TOKEN = re.compile(r'-?"[^"]*"?|\S+')


class QueryError(ValueError):
    """A request that cannot be searched (bad cursor, sort, range); names its field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass
class Range:
    field: str  # index field: created_at, updated_at, closed_at, priority_rank
    low: Any = None
    high: Any = None
    include_low: bool = True
    include_high: bool = True


@dataclass
class Parsed:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    ranges: list[Range] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases or self.prefixes or self.phones)


@dataclass
class SearchRequest:
    q: str = ""
    limit: int = 20
    sort: str = "relevance"
    cursor: str | None = None
    facets: bool = False
    filters: dict[str, list[str]] = field(default_factory=dict)
    ranges: list[Range] = field(default_factory=list)
    parsed: Parsed = field(default_factory=Parsed)

    @property
    def all_filters(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {k: list(v) for k, v in self.parsed.filters.items()}
        for key, values in self.filters.items():
            merged.setdefault(key, []).extend(values)
        return merged

    @property
    def all_ranges(self) -> list[Range]:
        return [*self.parsed.ranges, *self.ranges]


@dataclass(frozen=True)
class Visibility:
    """The visibility rule of ``casekit.contracts.visibility`` as an index filter."""

    everything: bool = False
    nothing: bool = False
    teams: tuple[str, ...] = ()
    restricted: bool = False  # may see restricted cases of those teams

    def allows(self, team: str | None, restricted: bool) -> bool:
        if self.nothing:
            return False
        if self.everything:
            return True
        return (team or NO_TEAM) in self.teams and (self.restricted or not restricted)


def visibility_for(principal: Principal) -> Visibility:
    if not principal.authenticated or not principal.roles:
        return Visibility(nothing=True)
    if principal.has_role(*SEE_ALL):
        return Visibility(everything=True)
    return Visibility(teams=(NO_TEAM, *principal.teams), restricted=principal.has_role(ROLE_SUPERVISOR))


# --- parsing -------------------------------------------------------------------------------------


def _range_value(name: str, raw: str) -> Any:
    if name == "priority":
        if raw in PRIORITY_RANK:
            return PRIORITY_RANK[raw]
        raise QueryError("q", f"unknown priority {raw!r}")
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError("q", f"{raw!r} is not a date") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def parse_range(name: str, expr: str) -> Range:
    """``>=v``, ``>v``, ``<=v``, ``<v``, ``a..b``, ``a..``, ``..b`` or ``v`` (exactly v)."""
    target = RANGE_FIELDS[name]
    for op, kwargs in ((">=", {}), ("<=", {}), (">", {"include_low": False}), ("<", {"include_high": False})):
        if expr.startswith(op):
            value = _range_value(name, expr[len(op) :])
            if op.startswith(">"):
                return Range(target, low=value, **kwargs)
            return Range(target, high=value, **kwargs)
    if ".." in expr:
        low, high = expr.split("..", 1)
        return Range(
            target,
            low=_range_value(name, low) if low else None,
            high=_range_value(name, high) if high else None,
        )
    value = _range_value(name, expr)
    return Range(target, low=value, high=value)


def _filter_value(name: str, value: str) -> str:
    if name == "email":
        return normalise_email(value)
    if name == "phone":
        return normalise_phone(value)
    return value


def parse(q: str, country_code: str = "44") -> Parsed:
    out = Parsed()
    text = (q or "").replace("\x00", " ").strip()

    def is_phone(run: str) -> bool:
        return sum(c.isdigit() for c in run) >= 7 and not DATE_LIKE.match(run.strip())

    for match in PHONE_RUN.finditer(text):
        if is_phone(match.group()):
            out.phones.append(normalise_phone(match.group(), country_code))
    text = PHONE_RUN.sub(lambda m: " " if is_phone(m.group()) else m.group(), text)
    for token in TOKEN.findall(text):
        negate = token.startswith("-") and len(token) > 1
        body = token[1:] if negate else token
        if body.startswith('"'):
            phrase = body.strip('"').strip()
            if phrase:
                (out.excluded if negate else out.phrases).append(phrase)
            continue
        name, sep, value = body.partition(":")
        if sep and value and not negate:
            key = name.lower()
            if key in RANGE_FIELDS and (key != "priority" or value[0] in "<>" or ".." in value):
                out.ranges.append(parse_range(key, value))
                continue
            if key in FILTER_FIELDS:
                out.filters.setdefault(key, []).append(_filter_value(key, value))
                continue
        if negate:
            out.excluded.append(body)
        elif body.endswith("*") and len(body) > 1:
            out.prefixes.append(body.rstrip("*"))
        elif body != "*":
            out.words.append(body)
    return out


def build_request(
    q: str = "",
    *,
    limit: int = 20,
    sort: str = "relevance",
    cursor: str | None = None,
    facets: bool = False,
    filters: dict[str, Any] | None = None,
    ranges: dict[str, str] | None = None,
    country_code: str = "44",
) -> SearchRequest:
    if sort not in SORTS:
        raise QueryError("sort", f"must be one of {', '.join(SORTS)}")
    clean_filters: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if value in (None, "", []):
            continue
        if key not in FILTER_FIELDS:
            raise QueryError(key, "is not a filter")
        values = value if isinstance(value, list) else [value]
        clean_filters[key] = [_filter_value(key, str(v)) for v in values]
    clean_ranges = []
    for key, expr in (ranges or {}).items():
        if not expr:
            continue
        if key not in RANGE_FIELDS:
            raise QueryError(key, "is not a range")
        clean_ranges.append(parse_range(key, str(expr)))
    request = SearchRequest(
        q=q or "",
        limit=max(1, min(int(limit), MAX_LIMIT)),
        sort=sort,
        cursor=cursor,
        facets=facets,
        filters=clean_filters,
        ranges=clean_ranges,
        parsed=parse(q or "", country_code),
    )
    decode_cursor(request)  # a bad cursor fails before the engine runs
    return request


# --- cursors -------------------------------------------------------------------------------------


def encode_cursor(sort: str, value: Any) -> str:
    raw = json.dumps({"s": sort, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(request: SearchRequest) -> Any:
    """The cursor's position: an offset or the last sort values seen (the engine's own)."""
    if not request.cursor:
        return None
    try:
        padded = request.cursor + "=" * (-len(request.cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, sort = body["v"], body["s"]
    except (ValueError, KeyError, TypeError):
        raise QueryError("cursor", "is not a cursor of this search") from None
    values = value if isinstance(value, list) else [value]
    if sort != request.sort or not values or not all(isinstance(v, int | float) and v >= 0 for v in values):
        raise QueryError("cursor", "is not a cursor of this search")
    return value


def facet_value(raw: str) -> str | None:
    return None if raw == NO_VALUE else raw
