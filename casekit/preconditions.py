"""Optimistic concurrency for versioned resources: ``If-Match`` and ``If-None-Match``.

A versioned resource (notification preferences, templates, agent profiles, calendars, SLA
policies, the routing rule set) carries a version counter kept by the service that owns it: 1
when first stored, one more on every change. Before anything is stored its version is 0 (a read
then shows the default, inherited, file or built-in value with ``ETag: "0"``).

The gateway turns the two request headers into a ``Precondition`` (JSON, it crosses RPC) with
``from_headers``; the owning service checks it against the stored version with ``check``, under
a row lock taken by ``lock`` or by the unique key of the insert in ``create``, so the check and
the write are one atomic step: two writers naming the same version cannot both win.

The rules (the same for every such resource):

- no header: allowed while nothing is stored (creating); once stored, ``PreconditionRequired``
  (428): a change must name the version it was made from;
- ``If-Match: "<n>"`` (a list allowed): the stored version must be one of them, ``"0"``
  meaning nothing stored yet; otherwise ``StaleVersion`` (412);
- ``If-Match: *``: something must be stored (412 otherwise);
- ``If-None-Match: *``: nothing may be stored yet (create only; 412 otherwise);
- ``If-None-Match: "<n>"``: the stored version must not be one of them (412 otherwise).

A caller passing no precondition at all (``None``: seeding, administration tools, other services)
changes the resource unconditionally.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.errors import Conflict, InvalidInput, PreconditionRequired, StaleVersion

ANY = "*"
ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')  # as the cases' ETags are read (gateway/routes/cases.py)
NO_VERSION = -1  # an entity tag that names no version of ours: it never matches


class Precondition(TypedDict):
    """``if_match`` / ``if_none_match``: None (header absent), ``"*"`` or a list of versions."""

    if_match: str | list[int] | None
    if_none_match: str | list[int] | None


def etag(version: int | None) -> str:
    """The strong entity tag of a version (``"0"``: nothing stored)."""
    return f'"{int(version or 0)}"'


def _tags(header: str | None) -> str | list[int] | None:
    if header is None or not header.strip():
        return None
    if header.strip() == ANY:
        return ANY
    versions = []
    for tag in header.split(","):
        match = ETAG.match(tag.strip())
        versions.append(int(match.group(1)) if match else NO_VERSION)
    return versions


def from_headers(if_match: str | None, if_none_match: str | None = None) -> Precondition:
    """What the request's ``If-Match`` and ``If-None-Match`` headers ask for."""
    return {"if_match": _tags(if_match), "if_none_match": _tags(if_none_match)}


def _valid(value: Any) -> bool:
    return value is None or value == ANY or (isinstance(value, list) and all(type(v) is int for v in value))


def check(current: int, precondition: Precondition | None, what: str) -> None:
    """Raise unless ``precondition`` holds for a resource at version ``current`` (0: not stored)."""
    if precondition is None:
        return
    if not isinstance(precondition, dict) or not all(
        _valid(precondition.get(k)) for k in ("if_match", "if_none_match")
    ):
        raise InvalidInput.from_field("precondition", "if_match / if_none_match: null, \"*\" or versions")
    if_match, if_none_match = precondition.get("if_match"), precondition.get("if_none_match")
    if if_match is None and if_none_match is None:
        if current > 0:
            raise PreconditionRequired(
                f"the {what} exists (version {current}): send If-Match with its ETag {etag(current)}"
            )
        return
    if if_none_match == ANY and current > 0:
        raise StaleVersion(f"the {what} exists already (version {current}); If-None-Match: * refuses it")
    if isinstance(if_none_match, list) and current in if_none_match:
        raise StaleVersion(f"the {what} is at version {current}, which If-None-Match refuses")
    if if_match == ANY and current == 0:
        raise StaleVersion(f"there is no {what} yet; If-Match: * needs one (send no If-Match to create it)")
    if isinstance(if_match, list) and current not in if_match:
        raise StaleVersion(f"the {what} is at version {current}, not the one If-Match names")


def lock(session: Session, model: type, ident: Any, precondition: Precondition | None, what: str) -> Any:
    """The stored row of ``model`` with primary key ``ident``, locked ``FOR UPDATE`` once
    ``precondition`` holds for it; None when nothing is stored and the precondition allows
    creating it (then ``create`` it). The lock is held until the transaction ends."""
    row = session.get(model, ident, with_for_update=True, populate_existing=True)
    check(row.version if row is not None else 0, precondition, what)
    return row


def create(
    session: Session, model: type, values: dict[str, Any], precondition: Precondition | None, what: str
) -> Any:
    """Insert version 1 of a resource ``lock`` found absent, in one statement that fails over to
    the precondition's answer when another writer stored it meanwhile; the row is returned."""
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    inserted = session.execute(
        pg_insert(table)
        .values(**values, version=1)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(*table.primary_key.columns)
    ).first()
    if inserted is None:  # stored meanwhile: whatever allowed "absent" does not allow that
        if precondition is None:
            raise Conflict(f"the {what} was created meanwhile; try again")
        if precondition.get("if_match") is None and precondition.get("if_none_match") is None:
            raise PreconditionRequired(f"the {what} was created meanwhile: send If-Match with its ETag")
        raise StaleVersion(f"the {what} was created meanwhile")
    ident = tuple(inserted) if len(keys) > 1 else inserted[0]
    return session.get(model, ident, populate_existing=True)


def bump(row: Any, created: bool) -> None:
    """The next version of a changed row (a row ``create`` just stored stays at 1)."""
    if not created:
        row.version = row.version + 1
