"""Applying events to an engine, rebuilding beside the live index, measuring lag, repairing drift.

``Indexer`` is what the group commit wraps: every write is a read-modify-write of one case's
source (``mappings.apply_event``), so it is idempotent and ordered whatever order events
arrive in. During a rebuild every write also goes to the shadow index, and the copy of the
live index into the shadow skips cases a write has already touched, so nothing written while
the rebuild runs is lost when the shadow is swapped in.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from services.search import mappings
from services.search.index import SearchEngine
from services.search.queries import SearchRequest, Visibility


@dataclass
class RebuildState:
    running: bool = False
    total: int = 0
    copied: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "total": self.total,
            "copied": self.copied,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round((self.finished_at or time.time()) - self.started_at, 3)
            if self.started_at
            else None,
            "error": self.error,
        }


class Indexer:
    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine
        self.shadow: SearchEngine | None = None
        self.touched: set[str] = set()
        self.rebuild = RebuildState()
        self.collapsed = 0  # duplicate documents collapsed since start (status)

    # -- writes (called under the group-commit lock) --------------------------------------------
    def apply(self, envelope: dict[str, Any]) -> bool:
        """Apply one event; ``False`` when it changes nothing (stale, duplicate, unrelated)."""
        case_id = mappings.event_case_id(envelope)
        if not case_id:
            return False
        new = mappings.apply_event(self.engine.get_source(case_id), envelope)
        if new is None:
            return False
        self._put(new)
        return True

    def apply_many(self, envelopes: Iterable[dict[str, Any]]) -> int:
        return sum(1 for e in envelopes if self.apply(e))

    def remove_many(self, case_ids: Iterable[str]) -> None:
        for case_id in case_ids:
            self.remove(case_id)

    def remove(self, case_id: str) -> None:
        self.engine.delete(case_id)
        if self.shadow is not None:
            self.shadow.delete(case_id)
            self.touched.add(case_id)

    def forget_version(self, case_id: str) -> None:
        """Let the next snapshot replace the case whatever its version (drift repair)."""
        source = self.engine.get_source(case_id)
        if source is not None:
            self._put({**source, "case_version": 0})

    def _put(self, source: dict[str, Any]) -> None:
        self.engine.put_source(source)
        if self.shadow is not None:
            self.shadow.put_source(source)
            self.touched.add(source["case_id"])

    def collapse(self, case_ids: Iterable[str]) -> int:
        """Leave one document (the newest copy) for each of ``case_ids``; how many were rewritten."""
        done = 0
        for case_id in case_ids:
            source = self.engine.get_source(case_id)
            if source is not None:
                self._put(source)  # deletes every copy by case id, then adds one
                done += 1
        self.collapsed += done
        return done

    def commit(self) -> None:
        self.engine.commit()
        if self.shadow is not None:
            self.shadow.commit()

    def rollback(self) -> None:
        self.engine.rollback()
        if self.shadow is not None:
            self.shadow.rollback()

    # -- reads ----------------------------------------------------------------------------------
    def search(self, request: SearchRequest, visibility: Visibility) -> dict[str, Any]:
        return self.engine.search(request, visibility)

    def suggest(self, prefix: str, visibility: Visibility, limit: int = 8) -> dict[str, Any]:
        return self.engine.suggest(prefix, visibility, limit)

    def lookup(self, kind: str, value: str, visibility: Visibility) -> list[dict[str, Any]]:
        return self.engine.lookup(kind, value, visibility)

    def entry(self, case_id: str) -> dict[str, Any]:
        return self.engine.entry(case_id)

    def indexed_version(self, case_id: str) -> int | None:
        return self.engine.indexed_version(case_id)

    def count(self, kind: str | None = None) -> int:
        return self.engine.count(kind)

    def duplicates(self, limit: int = 500) -> list[str]:
        return self.engine.duplicates(limit)

    def versions(self) -> dict[str, int]:
        """Indexed version of every case that has a snapshot (drift checks)."""
        out: dict[str, int] = {}
        for batch in self.engine.iter_sources():
            for source in batch:
                if source.get("case"):
                    out[source["case_id"]] = int(source["case_version"])
        return out

    # -- rebuild steps (each under the group-commit lock) ----------------------------------------
    def begin_rebuild(self, batch: int = 500) -> Iterator[list[dict[str, Any]]]:
        if self.shadow is not None:
            raise RuntimeError("a rebuild is already running")
        self.engine.commit()
        self.rebuild = RebuildState(running=True, total=self.engine.count(), started_at=time.time())
        self.shadow = self.engine.create_shadow()
        self.touched = set()
        return self.engine.iter_sources(batch)

    def copy_batch(self, sources: list[dict[str, Any]]) -> None:
        assert self.shadow is not None
        for source in sources:
            if source["case_id"] not in self.touched:
                self.shadow.put_source(source)
        self.rebuild.copied += len(sources)

    def finish_rebuild(self) -> None:
        assert self.shadow is not None
        self.engine = self.engine.promote(self.shadow)
        self.shadow = None
        self.touched = set()
        self.rebuild.running = False
        self.rebuild.finished_at = time.time()

    def abort_rebuild(self, error: str) -> None:
        if self.shadow is not None:
            self.shadow.discard()
        self.shadow = None
        self.touched = set()
        self.rebuild.running = False
        self.rebuild.error = error
        self.rebuild.finished_at = time.time()


def rebuild(
    indexer: Indexer,
    locked: Callable[..., Any],
    *,
    batch: int = 500,
    commit_every: int = 20,
    progress: Callable[[RebuildState], None] | None = None,
) -> RebuildState:
    """Build a new index beside the live one and swap it in; ``locked(fn, *args)`` serialises steps
    with the writers (the group-commit lock); searches keep reading the live index meanwhile."""
    batches = locked(indexer.begin_rebuild, batch)
    try:
        for n, sources in enumerate(batches, 1):
            locked(indexer.copy_batch, sources)
            if n % commit_every == 0:
                locked(indexer.shadow.commit)  # type: ignore[union-attr]
            if progress:
                progress(indexer.rebuild)
        locked(indexer.finish_rebuild)
    except Exception as exc:
        locked(indexer.abort_rebuild, repr(exc))
        raise
    if progress:
        progress(indexer.rebuild)
    return indexer.rebuild


# --- lag -----------------------------------------------------------------------------------------


@dataclass
class Lag:
    """Events received but not yet durable in the index, and how late recent events were indexed."""

    inflight: dict[str, float] = field(default_factory=dict)  # event id -> occurred_at (epoch s)
    recent: deque = field(default_factory=lambda: deque(maxlen=2000))  # seconds, occurred -> indexed
    last_indexed_at: float | None = None
    clock: Callable[[], float] = time.time

    def started(self, envelope: dict[str, Any]) -> None:
        stamp = mappings.parse_time(envelope.get("occurred_at"))
        self.inflight[envelope["id"]] = stamp.timestamp() if stamp else self.clock()

    def finished(self, envelope: dict[str, Any]) -> None:
        occurred = self.inflight.pop(envelope["id"], None)
        now = self.clock()
        if occurred is not None:
            self.recent.append(max(0.0, now - occurred))
        self.last_indexed_at = now

    def abandoned(self, envelope: dict[str, Any]) -> None:
        self.inflight.pop(envelope["id"], None)

    def report(self, queued: int | None = None) -> dict[str, Any]:
        now = self.clock()
        oldest = min(self.inflight.values()) if self.inflight else None
        recent = sorted(self.recent)

        def pct(p: float) -> float | None:
            if not recent:
                return None
            return round(recent[min(len(recent) - 1, int(p * len(recent)))] * 1000, 1)

        return {
            "inflight": len(self.inflight),
            "queued": queued,
            "oldest_unindexed_age_s": round(now - oldest, 3) if oldest is not None else 0.0,
            "recent_events": len(recent),
            "lag_p50_ms": pct(0.5),
            "lag_p99_ms": pct(0.99),
            "lag_mean_ms": round(statistics.fmean(recent) * 1000, 1) if recent else None,
            "last_indexed_at": self.last_indexed_at,
        }


REPAIR_BATCH = 500
DUPLICATES_LIMIT = 10_000

# --- drift ---------------------------------------------------------------------------------------


def compare(indexed: dict[str, int], database: dict[str, int]) -> dict[str, list[str]]:
    """Cases missing from the index, indexed at another version, or indexed but not in the database."""
    return {
        "missing": sorted(set(database) - set(indexed)),
        "stale": sorted(c for c, v in database.items() if c in indexed and indexed[c] != v),
        "extra": sorted(set(indexed) - set(database)),
    }


def check_drift(
    indexer: Indexer,
    cases: Iterable[dict[str, Any]],
    *,
    write: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Compare the index with ``cases`` (snapshots from the cases service); repair when ``write``
    (the group commit's write) is given: missing and stale cases get their snapshot applied,
    extra ones are removed, duplicated ones keep their newest copy only."""
    snapshots = {str(c["id"]): c for c in cases}
    database = {case_id: int(c.get("version") or 1) for case_id, c in snapshots.items()}
    drift = compare(indexer.versions(), database)
    drift["duplicated"] = sorted(indexer.duplicates(limit=DUPLICATES_LIMIT))
    report: dict[str, Any] = {
        "cases": len(database),
        **{k: len(v) for k, v in drift.items()},
        "sample": {k: v[:20] for k, v in drift.items()},
        "repaired": 0,
    }
    if write is not None:
        for case_id in drift["stale"]:
            if (indexer.indexed_version(case_id) or 0) > database[case_id]:
                write("forget_version", case_id)  # indexed ahead of the database: the database wins
        envelopes = [mappings.snapshot_envelope(snapshots[c]) for c in drift["missing"] + drift["stale"]]
        for start in range(0, len(envelopes), REPAIR_BATCH):
            write("apply_many", envelopes[start : start + REPAIR_BATCH])
        for start in range(0, len(drift["extra"]), REPAIR_BATCH):
            write("remove_many", drift["extra"][start : start + REPAIR_BATCH])
        for start in range(0, len(drift["duplicated"]), REPAIR_BATCH):
            write("collapse", drift["duplicated"][start : start + REPAIR_BATCH])
        report["repaired"] = len(envelopes) + len(drift["extra"]) + len(drift["duplicated"])
    return report
