"""Notifications to staff: who is told of what, on which channel, and the in-app inbox.

Subscriptions are implicit in the events (the assignee of a case, the supervisors of a queue) or
explicit (a user follows a case). Each user's preferences say, per kind, which channels a
notification goes to: ``in_app`` (the inbox and its live stream) and ``email`` (queued as an
outbound message to the address in the preferences). One notification per (user, source event):
a redelivered event changes nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit import preconditions
from casekit.context import Principal
from casekit.db import utcnow
from casekit.errors import InvalidInput, PermissionDenied
from services.notifications.logic import outbound, templates
from services.notifications.models import Notification, Preference, Subscription

KINDS = ("case_queued", "case_assigned", "sla_warning", "sla_breached", "new_message", "mention")
CHANNELS = ("in_app", "email")
DEFAULT_CHANNELS = ["in_app"]
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.\-]{0,127})")


def require_user(principal: Principal) -> str:
    if not principal.authenticated:
        raise PermissionDenied("authentication required")
    return str(principal.user_id)


# --- preferences and subscriptions ------------------------------------------------------------


def preferences(session: Session, user_id: str) -> dict[str, Any]:
    pref = session.get(Preference, user_id)
    channels = {k: list(DEFAULT_CHANNELS) for k in KINDS}
    if pref is not None:
        channels.update(pref.channels or {})
    return {
        "user_id": user_id,
        "channels": channels,
        "email": pref.email if pref else None,
        "locale": pref.locale if pref else "en",
        "version": pref.version if pref else 0,
    }


def set_preferences(
    *,
    session: Session,
    principal: Principal,
    body: dict[str, Any],
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Merge ``body`` into the caller's preferences. ``precondition`` (If-Match / If-None-Match) is
    checked against their version (0 while only the defaults apply) under the row's lock."""
    user_id = require_user(principal)
    channels = body.get("channels") or {}
    if not isinstance(channels, dict):
        raise InvalidInput.from_field("channels", "must be an object of kind -> list of channels")
    for kind, chosen in channels.items():
        if kind not in KINDS:
            raise InvalidInput.from_field(f"channels.{kind}", f"unknown kind; one of {', '.join(KINDS)}")
        if not isinstance(chosen, list) or any(c not in CHANNELS for c in chosen):
            raise InvalidInput.from_field(f"channels.{kind}", f"a list of {', '.join(CHANNELS)}")
    email = body.get("email")
    if email is not None and (
        not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)
    ):
        raise InvalidInput.from_field("email", "is not an email address")
    pref = preconditions.lock(session, Preference, user_id, precondition, "notification preferences")
    if any("email" in c for c in channels.values()) and not email and not (pref and pref.email):
        raise InvalidInput.from_field("email", "is required to be notified by email")
    created = pref is None
    if created:
        values = {"user_id": user_id, "channels": {}, "locale": "en", "updated_at": utcnow()}
        pref = preconditions.create(session, Preference, values, precondition, "notification preferences")
    pref.channels = {**(pref.channels or {}), **channels}
    if email is not None:
        pref.email = email
    if body.get("locale"):
        pref.locale = str(body["locale"])[:16]
    pref.updated_at = utcnow()
    preconditions.bump(pref, created)
    session.flush()
    return preferences(session, user_id)


def follow(*, session: Session, principal: Principal, case_id: str, on: bool = True) -> dict[str, Any]:
    user_id = require_user(principal)
    if on:
        session.execute(
            pg_insert(Subscription)
            .values(user_id=user_id, case_id=case_id, created_at=utcnow())
            .on_conflict_do_nothing()
        )
    else:
        session.execute(
            delete(Subscription).where(Subscription.user_id == user_id, Subscription.case_id == case_id)
        )
    return {"case_id": case_id, "following": on}


def followers(session: Session, case_id: str) -> list[str]:
    return list(session.scalars(select(Subscription.user_id).where(Subscription.case_id == case_id)))


# --- delivering a notification ----------------------------------------------------------------


def deliver(
    session: Session,
    *,
    user_id: str,
    kind: str,
    title: str,
    body: str,
    case_id: str | None,
    source_event_id: str,
    domain: str = "casework.invalid",
) -> int:
    """Notify one user on the channels they chose for ``kind``; 1 when it was new."""
    prefs = preferences(session, user_id)
    channels = prefs["channels"].get(kind, DEFAULT_CHANNELS)
    created = 0
    if "in_app" in channels:
        created = session.execute(
            pg_insert(Notification)
            .values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                case_id=case_id,
                kind=kind,
                title=title[:300],
                body=body[:4000],
                source_event_id=source_event_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        ).rowcount
    if "email" in channels and prefs["email"]:
        template = templates.load(session, "staff_notification", prefs["locale"])
        rendered = templates.render(template, {"event": {"title": title, "body": body}})
        outbound.queue(
            session,
            key=f"staff:{user_id}:{source_event_id}"[:255],
            case_id=case_id,
            channel="email",
            to=prefs["email"],
            subject=rendered["subject"],
            text=rendered["text"],
            html=rendered["html"],
            domain=domain,
            purpose="staff",
            recorded=True,
        )
        created = created or 1
    return int(created)


def _case(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("case") or {}


def on_event(session: Session, event: dict[str, Any], domain: str = "casework.invalid") -> int:
    """Turn one event into the notifications it implies; how many were created."""
    data, kind, case_id = event.get("data") or {}, event["type"], event.get("case_id")
    snap = _case(data)
    ref = data.get("reference") or snap.get("reference") or (case_id or "")[:8]
    title_of = data.get("title") or snap.get("title") or ""
    targets: list[tuple[str, str, str, str]] = []  # user, kind, title, body
    if kind == "case_queued":
        for user in data.get("supervisor_ids") or []:
            targets.append((user, kind, f"{ref} queued in {data.get('queue')}: {title_of}", ""))
    elif kind == "case_assigned":
        assignee = data.get("assignee")
        if assignee and data.get("by") != assignee:
            targets.append((assignee, kind, f"{ref} was assigned to you in {data.get('queue')}", ""))
    elif kind in ("sla_warning", "sla_breached"):
        word = "is close to breaching" if kind == "sla_warning" else "breached"
        text = f"{ref}: SLA clock {data.get('clock')} {word} in queue {data.get('queue')}"
        for user in {
            *(data.get("supervisor_ids") or []),
            *([data["assignee"]] if data.get("assignee") else []),
        }:
            targets.append((user, kind, text, f"due at {data.get('due_at')}"))
    elif kind == "intake_received" and case_id:
        item = data.get("item") or {}
        for user in followers(session, case_id):
            targets.append(
                (
                    user,
                    "new_message",
                    f"{ref}: new {item.get('channel')} from {item.get('from')}",
                    str(item.get("subject") or "")[:300],
                )
            )
    elif kind == "note_added" and case_id:
        note = data.get("note") or {}
        author = note.get("author")
        for user in dict.fromkeys(MENTION.findall(note.get("body") or "")):
            if user != author:
                targets.append(
                    (
                        user,
                        "mention",
                        f"{author or 'Someone'} mentioned you on {ref}",
                        str(note.get("body") or "")[:500],
                    )
                )
    created = 0
    for user, nkind, title, body in targets:
        created += deliver(
            session,
            user_id=user,
            kind=nkind,
            title=title,
            body=body,
            case_id=case_id,
            source_event_id=event["id"],
            domain=domain,
        )
    return created


# --- the inbox --------------------------------------------------------------------------------


def inbox(
    *,
    session: Session,
    principal: Principal,
    unread_only: bool = False,
    limit: int = 50,
    after: str | None = None,
) -> dict[str, Any]:
    """Newest first; with ``after`` (a notification id), only those created after it, oldest first."""
    user_id = require_user(principal)
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    limit = max(1, min(limit, 200))
    if after:
        anchor = session.get(Notification, after)
        if anchor is not None and anchor.user_id == user_id:
            stmt = stmt.where(
                (Notification.created_at > anchor.created_at)
                | ((Notification.created_at == anchor.created_at) & (Notification.id > anchor.id))
            )
        rows = session.scalars(stmt.order_by(Notification.created_at, Notification.id).limit(limit))
    else:
        rows = session.scalars(
            stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        )
    unread = session.scalar(
        select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return {"items": [notification_out(n) for n in rows], "unread": int(unread or 0)}


def mark_read(
    *, session: Session, principal: Principal, ids: list[str] | None = None, all: bool = False
) -> int:  # noqa: A002
    user_id = require_user(principal)
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if not all:
        stmt = stmt.where(Notification.id.in_(ids or []))
    return int(session.execute(stmt.values(read_at=utcnow())).rowcount)


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "case_id": n.case_id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
    }


def notify_queue_supervisors(*, session: Session, event: dict[str, Any]) -> int:
    """Kept for callers of the first version: a case_queued event."""
    return on_event(session, event)
