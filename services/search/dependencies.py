"""The search index as a nameko dependency, with group commit.

A handler's write is applied at once but acknowledged only after the commit that
makes it durable; one committer greenthread commits every ``interval`` seconds
whatever has accumulated, so many handlers share one fsync.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import eventlet
from eventlet import tpool
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.events import EventHandler as NamekoEventHandler
from nameko.extensions import DependencyProvider

from services.search.index import open_engine
from services.search.indexing import Indexer, Lag, RebuildState, rebuild

log = logging.getLogger(__name__)


class GroupCommit:
    def __init__(self, index: Any, interval: float = 0.05) -> None:
        self.index = index
        self.lag = Lag()
        self.queued: Any = lambda: None
        self.rebuilding: Any = None
        self.interval = interval
        self.lock = Semaphore(1)
        self.batch = Event()
        self.dirty = False
        self.running = True
        self.thread = eventlet.spawn(self._loop)

    def write(self, method: str, *args: Any) -> Any:
        """Call ``index.<method>(*args)`` and return once the change is committed."""
        with self.lock:
            result = getattr(self.index, method)(*args)
            self.dirty = True
            batch = self.batch
        batch.wait()
        return result

    def read(self, method: str, *args: Any) -> Any:
        return getattr(self.index, method)(*args)

    def locked(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in a native thread, serialised with the writers; committed in the next batch."""
        with self.lock:
            result = tpool.execute(fn, *args)
            self.dirty = True
            return result

    def start_rebuild(self, batch: int = 500) -> bool:
        """Rebuild the index beside the live one in the background; ``False`` if one is running."""
        if self.rebuilding is not None and not self.rebuilding.dead:
            return False
        self.index.rebuild = RebuildState(running=True, started_at=time.time())
        self.rebuilding = eventlet.spawn(self._rebuild, batch)
        return True

    def sweep(self) -> int:
        """Find cases the index holds more than once and keep only the newest copy of each.

        Every write deletes by case id before it adds, so a second copy should never exist; the
        embedded engine has no unique key to guarantee it, so this checks (one aggregation, off
        the event loop) and repairs. Returns how many cases it rewrote."""
        found = tpool.execute(self.index.duplicates)
        if not found:
            return 0
        log.warning(
            "collapsing duplicated search documents", extra={"cases": len(found), "sample": found[:5]}
        )
        return int(self.write("collapse", found))

    def _rebuild(self, batch: int) -> None:
        try:
            rebuild(self.index, self.locked, batch=batch)
        except Exception:  # noqa: BLE001 - the state says what failed; the live index is untouched
            log.exception("index rebuild failed")

    def _commit(self) -> None:
        with self.lock:
            if not self.dirty:
                return
            batch, self.batch, self.dirty = self.batch, Event(), False
            try:
                tpool.execute(self.index.commit)
            except Exception as exc:  # noqa: BLE001 - every waiter must hear of the failure
                log.exception("index commit failed; rolling back the batch")
                self.index.rollback()
                batch.send_exception(exc)
                return
            batch.send(True)

    def _loop(self) -> None:
        while self.running:
            eventlet.sleep(self.interval)
            self._commit()

    def stop(self) -> None:
        if self.rebuilding is not None and not self.rebuilding.dead:
            self.rebuilding.kill()  # the shadow is abandoned; the live index is untouched
            with self.lock:
                self.index.abort_rebuild("the service stopped")
        self.running = False
        self._commit()


class Index(DependencyProvider):
    """The group-committed index of ``SEARCH_ENGINE``; also tells how many events wait in its queues."""

    def setup(self) -> None:
        config = self.container.config
        self.group = GroupCommit(Indexer(open_engine(config)))
        self.group.queued = self.queued

    def queued(self) -> int | None:
        """Events not yet delivered to this service (ready messages in its event queues)."""
        names = sorted(
            {
                ep.queue.name
                for ep in self.container.entrypoints
                if isinstance(ep, NamekoEventHandler) and ep.queue
            }
        )
        try:
            with Connection(self.container.config["AMQP_URI"], connect_timeout=5) as conn:
                channel = conn.channel()
                return sum(
                    int(channel.queue_declare(queue=name, passive=True).message_count) for name in names
                )
        except Exception:  # noqa: BLE001 - a status read must not fail because the broker is busy
            log.warning("could not read the event queue depths", exc_info=True)
            return None

    def stop(self) -> None:
        self.group.stop()

    def get_dependency(self, worker_ctx: Any) -> GroupCommit:
        return self.group
