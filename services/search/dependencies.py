"""The search index as a nameko dependency, with group commit.

A handler's write is applied at once but acknowledged only after the commit that
makes it durable; one committer greenthread commits every ``interval`` seconds
whatever has accumulated, so many handlers share one fsync.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from eventlet import tpool
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from services.search.index import SearchIndex, TantivyIndex

log = logging.getLogger(__name__)


class GroupCommit:
    def __init__(self, index: SearchIndex, interval: float = 0.05) -> None:
        self.index = index
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
        self.running = False
        self._commit()


class Index(DependencyProvider):
    def setup(self) -> None:
        config = self.container.config
        engine = config.get("SEARCH_ENGINE", "embedded")
        if engine != "embedded":
            raise RuntimeError(f"unknown SEARCH_ENGINE {engine!r}")
        self.group = GroupCommit(TantivyIndex(config["SEARCH_DATA_DIR"]))

    def stop(self) -> None:
        self.group.stop()

    def get_dependency(self, worker_ctx: Any) -> GroupCommit:
        return self.group
