"""Group commit: concurrent writers share commits and return only once their write is durable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import eventlet
import pytest

from services.search.dependencies import GroupCommit


class CommitFailed(Exception):
    pass


class FakeIndex:
    """Records staged and committed writes; a commit can be told to fail."""

    def __init__(self) -> None:
        self.staged: list[Any] = []
        self.durable: list[Any] = []
        self.commits = 0
        self.rollbacks = 0
        self.fail_next = 0

    def upsert(self, doc: Any) -> bool:
        self.staged.append(doc)
        return True

    def commit(self) -> None:
        self.commits += 1
        if self.fail_next:
            self.fail_next -= 1
            raise CommitFailed("disk full")
        self.durable.extend(self.staged)
        self.staged.clear()

    def rollback(self) -> None:
        self.rollbacks += 1
        self.staged.clear()

    def count(self, kind: str | None = None) -> int:
        return len(self.durable)


@pytest.fixture
def index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def group(index: FakeIndex) -> Iterator[GroupCommit]:
    g = GroupCommit(index, interval=0.01)
    yield g
    g.stop()
    g.thread.kill()


def test_a_write_returns_its_result_after_the_commit(group: GroupCommit, index: FakeIndex) -> None:
    assert group.write("upsert", "doc-1") is True

    assert index.durable == ["doc-1"]
    assert index.commits == 1


def test_a_writer_is_not_released_before_the_commit(index: FakeIndex) -> None:
    group = GroupCommit(index, interval=0.2)
    try:
        writer = eventlet.spawn(group.write, "upsert", "doc-1")
        eventlet.sleep(0.05)

        assert index.staged == ["doc-1"]  # applied at once ...
        assert not writer.dead  # ... but not yet acknowledged
        assert writer.wait() is True
        assert index.durable == ["doc-1"]
    finally:
        group.stop()
        group.thread.kill()


def test_many_concurrent_writers_share_few_commits(group: GroupCommit, index: FakeIndex) -> None:
    writers = [eventlet.spawn(group.write, "upsert", n) for n in range(200)]

    assert [w.wait() for w in writers] == [True] * 200
    assert sorted(index.durable) == list(range(200))
    assert 1 <= index.commits <= 3


def test_every_writer_sees_its_own_write_committed_on_return(group: GroupCommit, index: FakeIndex) -> None:
    seen: list[bool] = []

    def writer(n: int) -> None:
        group.write("upsert", n)
        seen.append(n in index.durable)

    pool = eventlet.GreenPool()
    for n in range(50):
        pool.spawn(writer, n)
        if n % 10 == 0:
            eventlet.sleep(0.015)  # spread writers over several commit intervals
    pool.waitall()

    assert seen == [True] * 50
    assert index.commits < 50


@pytest.mark.usefixtures("group")
def test_no_commit_without_writes(index: FakeIndex) -> None:
    eventlet.sleep(0.05)

    assert index.commits == 0


def test_reads_do_not_wait_for_a_commit(group: GroupCommit, index: FakeIndex) -> None:
    index.durable.append("x")

    with eventlet.Timeout(0.005):
        assert group.read("count") == 1


def test_a_failing_commit_raises_in_every_waiter_of_the_batch(group: GroupCommit, index: FakeIndex) -> None:
    index.fail_next = 1
    writers = [eventlet.spawn(group.write, "upsert", n) for n in range(5)]

    outcomes = []
    for w in writers:
        try:
            w.wait()
            outcomes.append("ok")
        except CommitFailed:
            outcomes.append("failed")

    assert outcomes == ["failed"] * 5
    assert index.rollbacks == 1
    assert index.staged == []
    assert index.durable == []


def test_writes_after_a_failed_commit_succeed(group: GroupCommit, index: FakeIndex) -> None:
    index.fail_next = 1
    with pytest.raises(CommitFailed):
        group.write("upsert", "lost")

    assert group.write("upsert", "kept") is True
    assert index.durable == ["kept"]


def test_stop_commits_what_is_pending_and_releases_its_writer(index: FakeIndex) -> None:
    group = GroupCommit(index, interval=10)
    writer = eventlet.spawn(group.write, "upsert", "pending")
    eventlet.sleep(0.01)
    assert not writer.dead

    group.stop()
    group.thread.kill()

    assert writer.wait() is True
    assert index.durable == ["pending"]


# --- a rebuild under the group commit, with writers running ----------------------------------------


def test_a_rebuild_runs_beside_writers_and_searches_and_loses_nothing(tmp_path: Any) -> None:
    from services.search.indexing import Indexer
    from services.search.queries import Visibility, build_request
    from services.search.tantivy_index import TantivyEngine
    from tests.unit.search.factories import case_event, snapshot

    indexer = Indexer(TantivyEngine(tmp_path, heap_bytes=15_000_000))
    group = GroupCommit(indexer, interval=0.01)
    try:
        first = [snapshot() for _ in range(60)]
        for case in first:
            indexer.apply(case_event(case, 1))
        indexer.commit()
        old_directory = indexer.engine.path

        assert group.start_rebuild(batch=7) is True
        assert group.start_rebuild(batch=7) is False  # one at a time
        later = [snapshot(title="Arrived during the rebuild") for _ in range(20)]
        writers = [eventlet.spawn(group.write, "apply", case_event(c, 1)) for c in later]
        renamed = eventlet.spawn(
            group.write, "apply", case_event({**first[0], "title": "Renamed meanwhile"}, 2)
        )
        answers = []
        while not group.rebuilding.dead:
            answers.append(indexer.search(build_request("boiler"), Visibility(everything=True))["total_hits"])
            eventlet.sleep(0.001)
        assert all(w.wait() for w in writers) and renamed.wait()
        group.rebuilding.wait()
        eventlet.sleep(0.05)

        assert indexer.rebuild.running is False and indexer.rebuild.error is None
        assert indexer.rebuild.copied == 60
        assert indexer.engine.path != old_directory and not old_directory.exists()
        assert (tmp_path / "current").resolve() == indexer.engine.path.resolve()
        assert indexer.count("case") == 80
        assert indexer.indexed_version(first[0]["id"]) == 2
        assert answers and min(answers) >= 59  # searches answered throughout
    finally:
        group.stop()
        group.thread.kill()
