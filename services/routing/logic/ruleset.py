"""Storing the routing rule set: every change is a new version; the highest one is in force."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casekit import preconditions
from casekit.context import ROLE_ADMIN, Principal, require_authenticated, require_roles
from casekit.errors import Conflict, InvalidInput, StaleVersion
from services.routing.logic.common import iso
from services.routing.logic.rules import RuleSetDoc, parse_rules
from services.routing.models import RuleSet, WorkQueue

EMPTY = RuleSetDoc()
_cache: dict[tuple[str, int], RuleSetDoc] = {}


def current_rules(session: Session) -> tuple[int | None, RuleSetDoc]:
    """The rule set in force and its version (None and an empty set before any was stored)."""
    version = session.scalar(select(func.max(RuleSet.version)))
    if version is None:
        return None, EMPTY
    key = (str(session.get_bind().url), version)  # versions are per database
    doc = _cache.get(key)
    if doc is None:
        doc = RuleSetDoc.model_validate(session.get(RuleSet, version).document)
        _cache[key] = doc
    return version, doc


def rules_out(session: Session, version: int | None) -> dict[str, Any]:
    if version is None:
        return {"version": None, "created_at": None, "created_by": None, **EMPTY.model_dump()}
    row = session.get(RuleSet, version)
    return {
        "version": row.version,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        **row.document,
    }


def get_rules(*, session: Session, principal: Principal, version: int | None = None) -> dict[str, Any]:
    require_authenticated(principal)
    if version is None:
        version, _ = current_rules(session)
    elif session.get(RuleSet, version) is None:
        raise InvalidInput.from_field("version", f"no rule set version {version}")
    return rules_out(session, version)


def store_rules(
    *,
    session: Session,
    principal: Principal,
    document: Any,
    expected_version: int | None = None,
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Validate and store a new version (admins).

    ``precondition`` (If-Match / If-None-Match, version 0 before any rule set) or, for older
    callers, ``expected_version`` guards against lost updates. The check is atomic: the new
    version is the checked one plus one, and the version is the primary key, so of two writers
    that checked the same version only one can store its successor (the other gets 412).
    """
    require_roles(principal, ROLE_ADMIN, action="change the routing rules")
    doc = parse_rules(document)
    current, _ = current_rules(session)
    preconditions.check(current or 0, precondition, "routing rule set")
    if expected_version is not None and expected_version != current:
        raise StaleVersion(f"the rules are at version {current}, not {expected_version}")
    guarded = precondition is not None or expected_version is not None
    known = set(session.scalars(select(WorkQueue.name))) | {q.name for q in doc.queues}
    errors = [
        {"field": f"rules.{i}.then.queue", "message": f"unknown queue {rule.then.queue!r}"}
        for i, rule in enumerate(doc.rules)
        if rule.then.queue not in known
    ]
    if doc.default_queue not in known:
        errors.append({"field": "default_queue", "message": f"unknown queue {doc.default_queue!r}"})
    if errors:
        raise InvalidInput("the rule set names unknown queues", errors)
    for q in doc.queues:
        session.execute(
            pg_insert(WorkQueue)
            .values(name=q.name, title=q.title or q.name)
            .on_conflict_do_update(index_elements=["name"], set_={"title": q.title or q.name})
            if q.title
            else pg_insert(WorkQueue).values(name=q.name, title=q.name).on_conflict_do_nothing()
        )
    version = (current or 0) + 1
    try:
        with session.begin_nested():
            session.add(
                RuleSet(
                    version=version,
                    document=doc.model_dump(mode="json", exclude={"comment"}),
                    comment=doc.comment,
                    created_by=principal.user_id,
                )
            )
    except IntegrityError:
        meanwhile = StaleVersion if guarded else Conflict
        raise meanwhile("the rules changed meanwhile; reload and try again") from None
    return rules_out(session, version)
