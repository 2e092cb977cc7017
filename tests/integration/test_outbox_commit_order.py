"""Commit order: the relay publishes only committed rows, and never skips one whose transaction
commits after a later row's (the trap of an ``id > last_seen`` relay), over fixed and random
interleavings of concurrent transactions on real PostgreSQL connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from casekit.relay import Relay
from tests.integration.helpers import Probe, connect, insert_row, row_state, sql

pytestmark = pytest.mark.integration


class NaiveRelay:
    """The bug the real relay avoids: ``WHERE id > last_seen`` skips rows that commit late."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last_seen = 0

    def step(self) -> list[str]:
        rows = sql(self.url, "SELECT id, event_id FROM outbox WHERE id > %s ORDER BY id", (self.last_seen,))
        if rows:
            self.last_seen = rows[-1][0]
        return [event_id for _, event_id in rows]


def run_schedule(
    url: str, ops: list[tuple[str, int]], steps: list[Callable[[], list[str]]]
) -> tuple[set[str], set[str], list[list[str]]]:
    """Play ``ops`` ("insert"/"commit"/"rollback" of transaction k, or "relay") on one
    connection per transaction; every "relay" op and a final drain call each of ``steps``.
    Returns (committed, rolled back, what each step published)."""
    conns: dict[int, Any] = {}
    pending: dict[int, str] = {}
    committed: set[str] = set()
    rolled_back: set[str] = set()
    published: list[list[str]] = [[] for _ in steps]

    def relay_all() -> None:
        for out, step in zip(published, steps, strict=True):
            out.extend(step())

    try:
        for op, k in ops:
            if op == "insert":
                conns[k] = connect(url)
                pending[k] = insert_row(conns[k])[1]
            elif op == "commit":
                conns[k].commit()
                committed.add(pending.pop(k))
            elif op == "rollback":
                conns[k].rollback()
                rolled_back.add(pending.pop(k))
            else:
                relay_all()
        for _ in range(3):  # the final drain: nothing is pending any more
            relay_all()
    finally:
        for conn in conns.values():
            conn.close()
    return committed, rolled_back, published


def relay_step(relay: Relay, probe: Probe) -> Callable[[], list[str]]:
    def step() -> list[str]:
        while relay.run_once():
            pass
        return [m.body["id"] for m in probe.drain()]

    return step


# T0 inserts first (lower id) but commits after T1 has committed and been relayed.
TRAP = [("insert", 0), ("insert", 1), ("commit", 1), ("relay", -1), ("commit", 0), ("relay", -1)]


def test_uncommitted_row_waits_and_an_out_of_order_commit_is_not_skipped(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    relay = make_relay()
    naive = NaiveRelay(outbox_db)
    seen: list[list[str]] = [[], []]
    real_step, naive_step = relay_step(relay, events_probe), naive.step
    conns = [connect(outbox_db), connect(outbox_db)]
    try:
        low_id, low = insert_row(conns[0])
        high_id, high = insert_row(conns[1])
        assert low_id < high_id
        conns[1].commit()
        seen[0] += real_step()
        seen[1] += naive_step()
        assert seen == [[high], [high]], "only the committed row may be published"
        conns[0].commit()
        seen[0] += real_step()
        seen[1] += naive_step()
    finally:
        for conn in conns:
            conn.close()
    assert seen[0] == [high, low]
    assert row_state(outbox_db, low)[0] is True
    # the negative control: a high-water-mark relay skips the late committer for good
    assert seen[1] == [high]


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[str, int]]:
    n = draw(st.integers(min_value=2, max_value=5))
    ends = draw(st.lists(st.sampled_from(["commit", "commit", "commit", "rollback"]), min_size=n, max_size=n))
    order = draw(st.permutations([k for k in range(n) for _ in (0, 1)]))
    relay_after = draw(st.lists(st.booleans(), min_size=2 * n, max_size=2 * n))
    ops: list[tuple[str, int]] = []
    started: set[int] = set()
    for k, relay in zip(order, relay_after, strict=True):
        ops.append(("insert", k) if k not in started else (ends[k], k))
        started.add(k)
        if relay:
            ops.append(("relay", -1))
    return ops


def test_random_interleavings_publish_every_committed_row_exactly_once(
    outbox_db: str, make_relay: Callable[..., Relay], events_probe: Probe
) -> None:
    relay = make_relay()
    naive_missed: list[set[str]] = []

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=schedules())
    @example(ops=TRAP)
    def check(ops: list[tuple[str, int]]) -> None:
        sql(outbox_db, "DELETE FROM outbox")
        events_probe.drain()
        naive = NaiveRelay(outbox_db)
        committed, rolled_back, (real, fake) = run_schedule(
            outbox_db, ops, [relay_step(relay, events_probe), naive.step]
        )
        assert sorted(real) == sorted(committed), "every committed row exactly once, nothing else"
        assert not rolled_back & set(real)
        naive_missed.append(committed - set(fake))

    check()
    assert any(naive_missed), "the negative control never skipped a row: the schedules prove nothing"
