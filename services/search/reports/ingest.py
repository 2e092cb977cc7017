"""Apply events to the reports read model, idempotently.

One event, one transaction: record the event id (``processed_events``), store the event row
(a second copy of a cases event, by id or by ``(case_id, case_version)``, is dropped), then
re-derive the case from all its stored events under a per-case advisory lock and replace its
derived rows. The case row is upserted only over a row of the same or an older version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from casekit.outbox import first_delivery
from services.search.reports import derive
from services.search.reports.models import cases, events, processed_events, visits

CONSUMER = "reports"
EVENT_COLUMNS = [
    c.name for c in events.columns if c.name not in ("seq", "activity", "next_activity", "next_at")
]


def apply(session: Session, event: dict[str, Any]) -> bool:
    """Apply one envelope inside the caller's transaction; ``False`` if it was seen before."""
    if not first_delivery(session, processed_events, CONSUMER, str(event["id"])):
        return False
    row = derive.to_row(event)
    if row is None:
        return True
    stored = session.execute(
        pg_insert(events).values(row).on_conflict_do_nothing().returning(events.c.event_id)
    )
    if stored.first() is None:  # the same cases event under another id (e.g. replayed from history)
        return True
    refresh(session, row["case_id"])
    return True


def store_rows(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Insert event rows in bulk (rebuilds), dropping duplicates; derive nothing."""
    batch = list(rows)
    if batch:
        session.execute(pg_insert(events).on_conflict_do_nothing(), batch)


def refresh(session: Session, case_id: str) -> None:
    """Recompute and replace everything derived about one case."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(case_id))))
    rows = [
        dict(r._mapping)
        for r in session.execute(
            select(*[events.c[n] for n in EVENT_COLUMNS]).where(events.c.case_id == case_id)
        )
    ]
    result = derive.derive(case_id, rows)
    if result.case is None:
        return
    write_case(session, result)


def write_case(session: Session, result: derive.Derived) -> None:
    case = result.case
    assert case is not None
    case_id = case["case_id"]
    upsert = pg_insert(cases).values(case)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[cases.c.case_id],
            set_={c: upsert.excluded[c] for c in case if c != "case_id"},
            where=cases.c.version <= upsert.excluded.version,
        )
    )
    session.execute(delete(visits).where(visits.c.case_id == case_id))
    if result.visits:
        session.execute(visits.insert(), [{"case_id": case_id, **v} for v in result.visits])
    session.execute(
        update(events)
        .where(events.c.case_id == case_id)
        .values(seq=None, activity=None, next_activity=None, next_at=None)
    )
    if result.steps:
        session.execute(
            update(events)
            .where(events.c.event_id == bindparam("eid"))
            .values(
                seq=bindparam("s_seq"),
                activity=bindparam("s_activity"),
                next_activity=bindparam("s_next"),
                next_at=bindparam("s_next_at"),
            )
            .execution_options(synchronize_session=False),
            [
                {
                    "eid": s["event_id"],
                    "s_seq": s["seq"],
                    "s_activity": s["activity"],
                    "s_next": s["next_activity"],
                    "s_next_at": s["next_at"],
                }
                for s in result.steps
            ],
        )


def counts(session: Session) -> dict[str, int]:
    return {
        name: int(session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608 - fixed names
        for name in ("rp_cases", "rp_events", "rp_visits", "processed_events")
    }
