"""Work queue views: an explicit, explainable score, filters and cursor pages.

Score (points; higher comes first)::

    10 per priority level  (low 1 .. urgent 4, after rule boosts and escalations)
  +  1 per hour past the SLA deadline (negative while time is left; a case with no running
       SLA clock counts as due 72 hours after it was opened)
  +  0.1 per hour since the case was opened

Written with absolute times, every item's "now" terms are equal, so the order never changes by
itself: the database keeps a time-invariant ``rank`` (trigger ``work_item_rank``) that an index
serves, and ``score = rank + 1.1 * (hours since the epoch, now)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import desc, func, select, tuple_
from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, require_authenticated
from casekit.contracts.validation import Contract, parse
from casekit.errors import InvalidInput, NotFound, PermissionDenied
from services.routing.logic.agents import agent_out
from services.routing.logic.claims import visibility_clause
from services.routing.logic.common import iso, now, priority_name, priority_rank
from services.routing.logic.queues import get_work_item, require_queue, work_item_out
from services.routing.models import Agent, Assignment, QueueMember, RoutingDecision, WorkItem

PRIORITY_POINTS = 10.0
SLA_POINTS_PER_HOUR = 1.0
AGE_POINTS_PER_HOUR = 0.1
NOMINAL_DUE = timedelta(hours=72)
MAX_PAGE = 200
STATUSES = {"queued": ("queued",), "assigned": ("assigned",), "open": ("queued", "assigned")}


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def score(item: WorkItem, at: datetime) -> dict[str, Any]:
    """The item's score at ``at`` and the sum that makes it, term by term."""
    born = item.case_created_at or item.created_at or at
    due = item.due_at or born + NOMINAL_DUE
    overdue_h = _hours(at - due)
    age_h = _hours(at - born)
    p_points = PRIORITY_POINTS * item.priority
    s_points = SLA_POINTS_PER_HOUR * overdue_h
    a_points = AGE_POINTS_PER_HOUR * age_h
    priority_why = f"{priority_name(item.priority)} ({item.priority}) x {PRIORITY_POINTS:g}"
    if item.priority_boost:
        priority_why += (
            f"; case priority {priority_name(item.base_priority)}, rule boost {item.priority_boost:+d}"
        )
    if item.escalated_priority and item.escalated_priority >= item.priority:
        priority_why += f"; raised to {priority_name(item.escalated_priority)} by an SLA escalation"
    if item.due_at is None:
        sla_why = f"no running SLA clock: counted as due {_hours(NOMINAL_DUE):g} h after opening"
    elif overdue_h >= 0:
        sla_why = f"SLA deadline passed {overdue_h:.1f} h ago"
    else:
        sla_why = f"{-overdue_h:.1f} h left on the SLA clock"
    return {
        "score": round(p_points + s_points + a_points, 3),
        "components": [
            {"term": "priority", "points": round(p_points, 3), "why": priority_why},
            {"term": "sla", "points": round(s_points, 3), "due_at": iso(item.due_at), "why": sla_why},
            {
                "term": "age",
                "points": round(a_points, 3),
                "why": f"opened {age_h:.1f} h ago x {AGE_POINTS_PER_HOUR:g}",
            },
        ],
    }


def item_with_score(item: WorkItem, at: datetime) -> dict[str, Any]:
    return {**work_item_out(item), "score": score(item, at)}


def encode_cursor(item: WorkItem) -> str:
    raw = json.dumps([item.rank, item.case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        rank, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(rank), str(case_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput.from_field("cursor", "not a cursor this API gave out") from None


class ViewFilter(Contract):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(default="queued", pattern="^(queued|assigned|open)$")
    assignee: str | None = Field(default=None, max_length=128)
    priority: str | None = Field(default=None, pattern="^(low|normal|high|urgent)$")
    case_type: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=32)
    skill: str | None = Field(default=None, max_length=64)
    overdue: bool | None = None
    cursor: str | None = Field(default=None, max_length=500)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


class BulkIn(Contract):
    model_config = ConfigDict(extra="forbid")
    case_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    from_assignee: str | None = Field(default=None, max_length=128)
    queue: str | None = Field(default=None, max_length=64)
    to_queue: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    assignees: list[str] | None = Field(default=None, min_length=1, max_length=200)
    unassign: bool = False
    force: bool = False
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _shape(self) -> BulkIn:
        if self.case_ids is None and self.from_assignee is None:
            raise ValueError("select cases with case_ids or from_assignee")
        if not (self.to_queue or self.assignees or self.unassign):
            raise ValueError("say what to do: to_queue, assignees or unassign")
        if self.assignees and self.unassign:
            raise ValueError("give assignees or unassign, not both")
        return self

    @classmethod
    def parse(cls, body: Any) -> BulkIn:
        return parse(cls, body)


def _page(session: Session, query: Any, spec: ViewFilter) -> dict[str, Any]:
    if spec.cursor:
        rank, case_id = decode_cursor(spec.cursor)
        query = query.where(tuple_(WorkItem.rank, WorkItem.case_id) < tuple_(rank, case_id))
    rows = list(
        session.scalars(query.order_by(desc(WorkItem.rank), desc(WorkItem.case_id)).limit(spec.limit + 1))
    )
    at = now()
    more = len(rows) > spec.limit
    rows = rows[: spec.limit]
    return {
        "items": [item_with_score(i, at) for i in rows],
        "next_cursor": encode_cursor(rows[-1]) if more else None,
        "scored_at": at.isoformat(),
    }


def _filtered(query: Any, spec: ViewFilter) -> Any:
    query = query.where(WorkItem.status.in_(STATUSES[spec.status]))
    for column, value in (
        (WorkItem.assigned_to, spec.assignee),
        (WorkItem.case_type, spec.case_type),
        (WorkItem.stage, spec.stage),
        (WorkItem.team, spec.team),
        (WorkItem.channel, spec.channel),
    ):
        if value is not None:
            query = query.where(column == value)
    if spec.priority is not None:
        query = query.where(WorkItem.priority == priority_rank(spec.priority))
    if spec.skill is not None:
        query = query.where(WorkItem.required_skills.contains([spec.skill]))
    if spec.overdue is not None:
        query = query.where(
            (WorkItem.due_at < func.now())
            if spec.overdue
            else (WorkItem.due_at.is_(None) | (WorkItem.due_at >= func.now()))
        )
    return query


def queue_items(
    *, session: Session, principal: Principal, queue: str, filters: dict[str, Any]
) -> dict[str, Any]:
    """A queue's work, best score first, filtered and paged by cursor."""
    require_authenticated(principal)
    require_queue(session, queue)
    spec = parse(ViewFilter, filters)
    query = _filtered(select(WorkItem).where(WorkItem.queue == queue, visibility_clause(principal)), spec)
    return _page(session, query, spec)


def my_work(*, session: Session, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    """The caller's assigned work, best score first."""
    require_authenticated(principal)
    spec = parse(ViewFilter, {"status": "assigned", **filters})
    spec.assignee = principal.user_id
    query = _filtered(select(WorkItem).where(visibility_clause(principal)), spec)
    return _page(session, query, spec)


def overview(*, session: Session, principal: Principal, queue: str) -> dict[str, Any]:
    """Counts and the load of each member (supervisors, admins and the queue's members)."""
    require_authenticated(principal)
    require_queue(session, queue)
    members = {
        m.user_id: m.role for m in session.scalars(select(QueueMember).where(QueueMember.queue == queue))
    }
    if not principal.has_role(ROLE_SUPERVISOR, ROLE_ADMIN) and principal.user_id not in members:
        raise PermissionDenied(f"only supervisors and members of {queue} see its overview")
    open_items = (WorkItem.queue == queue, WorkItem.status.in_(("queued", "assigned")))
    counts = dict(
        session.execute(
            select(WorkItem.status, func.count()).where(*open_items).group_by(WorkItem.status)
        ).all()
    )
    overdue = session.scalar(select(func.count()).where(*open_items, WorkItem.due_at < func.now()))
    oldest = session.scalar(
        select(func.min(WorkItem.queued_at)).where(WorkItem.queue == queue, WorkItem.status == "queued")
    )
    in_queue = dict(
        session.execute(
            select(WorkItem.assigned_to, func.count())
            .where(WorkItem.queue == queue, WorkItem.status == "assigned")
            .group_by(WorkItem.assigned_to)
        ).all()
    )
    agents = {
        a.user_id: a for a in session.scalars(select(Agent).where(Agent.user_id.in_(list(members) or [""])))
    }
    people = []
    for user_id in sorted(set(members) | set(in_queue)):
        out = agent_out(session, user_id, agents.get(user_id))
        people.append({**out, "role": members.get(user_id), "load_in_queue": in_queue.get(user_id, 0)})
    return {
        "queue": queue,
        "queued": counts.get("queued", 0),
        "assigned": counts.get("assigned", 0),
        "overdue": overdue,
        "oldest_queued_at": iso(oldest),
        "agents": people,
    }


def _decision_out(d: RoutingDecision) -> dict[str, Any]:
    return {
        "at": iso(d.at),
        "trigger": d.trigger,
        "queue": d.queue,
        "previous_queue": d.previous_queue,
        "rule": d.rule,
        "rule_set_version": d.rule_set_version,
        "actor": d.actor,
        "reason": d.reason,
    }


def _assignment_out(a: Assignment) -> dict[str, Any]:
    return {
        "at": iso(a.at),
        "action": a.action,
        "queue": a.queue,
        "assignee": a.assignee,
        "previous_assignee": a.previous_assignee,
        "by": a.by,
        "reason": a.reason,
        "lease_expires_at": iso(a.lease_expires_at),
    }


def explain_item(*, session: Session, principal: Principal, queue: str, case_id: str) -> dict[str, Any]:
    """Why this item sits where it does in the queue: its score, its position, its routing."""
    item = get_work_item(session=session, principal=principal, case_id=case_id)
    if item.queue != queue:
        raise NotFound(f"case {case_id} is not in queue {queue}")
    at = now()
    ahead = None
    if item.status == "queued":
        ahead = session.scalar(
            select(func.count()).where(
                WorkItem.queue == queue,
                WorkItem.status == "queued",
                visibility_clause(principal),
                tuple_(WorkItem.rank, WorkItem.case_id) > tuple_(item.rank, item.case_id),
            )
        )
    latest = session.scalars(
        select(RoutingDecision)
        .where(RoutingDecision.case_id == case_id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    ).first()
    s = score(item, at)
    return {
        **work_item_out(item),
        "score": s,
        "position": None if ahead is None else ahead + 1,
        "order": "score, highest first; ties by case id",
        "summary": (
            f"score {s['score']:g} = "
            + " + ".join(f"{c['term']} {c['points']:g}" for c in s["components"])
            + (f"; {ahead} queued item(s) ahead" if ahead is not None else f"; {item.status}")
        ),
        "routing": latest.explain if latest else None,
        "required_skills": list(item.required_skills or []),
    }


def case_routing(*, session: Session, principal: Principal, case_id: str) -> dict[str, Any]:
    """Everything routing knows about a case: item, score, the explanation, decisions, assignments."""
    item = get_work_item(session=session, principal=principal, case_id=case_id)
    decisions = list(
        session.scalars(
            select(RoutingDecision).where(RoutingDecision.case_id == case_id).order_by(RoutingDecision.id)
        )
    )
    history = list(
        session.scalars(select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.id))
    )
    routed = [d for d in decisions if d.explain]
    return {
        "work_item": work_item_out(item),
        "score": score(item, now()),
        "explain": routed[-1].explain if routed else None,
        "decisions": [_decision_out(d) for d in decisions],
        "assignments": [_assignment_out(a) for a in history],
    }
