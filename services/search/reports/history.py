"""Rebuild the reports from the cases service's history (``cases.history_page``), with progress.

The cases part of the model is replaced: the stored cases events and every derived row are
dropped, each case's history is stored again page by page (event ids derived from case id and
version, so a live copy of the same change is still recognised as one), and each case is
re-derived. Routing events are kept: they are not part of the cases history.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.search.reports import derive, ingest

NAMESPACE = uuid.UUID("6f1c9a52-1c1e-4f7e-9d35-3c2a6b0e7f10")


def envelopes(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The cases events of one history item, as envelopes ``derive.to_row`` reads."""
    case = item["case"]
    out = []
    for e in item["events"]:
        closed = e["status"] == "closed"
        snap = {**case, "stage": e["stage"], "status": e["status"], "resolution": e["resolution"]}
        snap["closed_at"] = e["occurred_at"] if closed else None
        data: dict[str, Any] = {"case": snap}
        if e.get("task"):
            data["task"] = {"key": e["task"]}
        out.append(
            {
                "id": str(uuid.uuid5(NAMESPACE, f"{case['id']}:{e['case_version']}")),
                "type": e["type"],
                "v": 1,
                "occurred_at": e["occurred_at"],
                "producer": "cases",
                "case_id": case["id"],
                "case_version": e["case_version"],
                "data": data,
            }
        )
    if out and case.get("closed_at") and case.get("status") == "closed":
        out[-1]["data"]["case"]["closed_at"] = case["closed_at"]
    return out


def progress_bar(done: int, total: int | None, seconds: float, width: int = 40) -> str:
    share = 1.0 if not total else min(1.0, done / total)
    filled = int(share * width)
    rate = done / seconds if seconds > 0 else 0.0
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:6.1%} {done}/{total or '?'} cases {rate:8.0f}/s"


def rebuild(
    sessions: Callable[[], Session], fetch: Callable[[str | None], dict[str, Any]], out: TextIO | None = None
) -> dict[str, Any]:
    """Replace the cases part of the model from ``fetch(after) -> page``; returns counts."""
    started = time.monotonic()
    with sessions() as session, session.begin():
        session.execute(text("DELETE FROM rp_events WHERE source = 'cases'"))
        session.execute(text("TRUNCATE rp_cases, rp_visits"))
    done, events, total, after = 0, 0, None, None
    for page in _pages(fetch):
        total = page["total"] if page["total"] is not None else total
        with sessions() as session, session.begin():
            rows = [r for item in page["items"] for e in envelopes(item) if (r := derive.to_row(e))]
            ingest.store_rows(session, rows)
            for item in page["items"]:
                ingest.refresh(session, item["case"]["id"])
        done += len(page["items"])
        events += len(rows)
        after = page["next"]
        if out is not None:
            out.write("\r" + progress_bar(done, total, time.monotonic() - started))
            out.flush()
    if out is not None:
        out.write("\n")
    return {"cases": done, "events": events, "seconds": round(time.monotonic() - started, 3), "last": after}


def _pages(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = fetch(after)
        yield page
        after = page.get("next")
        if not after:
            return
