"""Claim next and lease expiry under concurrency, straight against PostgreSQL (no broker needed).

50 claimers with their own connections race for one queue: the single ``UPDATE ... WHERE case_id =
(SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)`` must hand each item to exactly one of them. Two
sweepers racing over expired leases must return each item once. (The same through the gateway and
HTTP is tests/e2e/test_routing_claims.py.)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.db import make_engine
from casekit.outbox import EventWriter
from services.routing.logic import agents, claims, queues
from services.routing.models import outbox

pytestmark = pytest.mark.integration

ITEMS = 1000
CLAIMERS = 50
SUPERVISOR = Principal("sup-1", ("supervisor",))
SEED = """
INSERT INTO work_items (case_id, queue, reference, title, priority, base_priority, status, case_version,
                        case_created_at, queued_at)
SELECT md5(:tag || g)::uuid::text, 'default', 'C-' || g, 'item ' || g, 1 + g % 4, 1 + g % 4, 'queued', 1,
       now() - g * interval '1 minute', now()
FROM generate_series(1, :n) AS g
"""


@pytest.fixture
def sessions(make_databases: Callable[..., dict[str, str]]) -> Iterator[sessionmaker]:
    engine = make_engine(make_databases("routing")["routing"], pool_size=CLAIMERS + 2)
    try:
        yield sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        engine.dispose()


def writer(user: str) -> EventWriter:
    return EventWriter("routing", outbox, Principal(user, ("agent",)))


def setup_agents(session: Session, users: list[str]) -> None:
    for user in users:
        queues.add_member(session=session, principal=SUPERVISOR, queue="default", user_id=user, role="agent")
        agents.put_agent(session=session, principal=SUPERVISOR, user_id=user, body={"capacity": ITEMS})
    session.execute(text(SEED), {"tag": uuid.uuid4().hex, "n": ITEMS})
    session.commit()


def test_fifty_claimers_take_every_item_exactly_once(sessions: sessionmaker) -> None:
    users = [f"agent-{i}" for i in range(CLAIMERS)]
    with sessions() as session:
        setup_agents(session, users)
    got: dict[str, list[str]] = {u: [] for u in users}
    failures: list[BaseException] = []
    start = threading.Barrier(CLAIMERS)

    def claimer(user: str) -> None:
        principal = Principal(user, ("agent",))
        try:
            start.wait()
            with sessions() as session:
                while True:
                    item = claims.claim_next(session=session, events=writer(user), principal=principal)
                    session.commit()
                    if item is None:
                        return
                    got[user].append(item.case_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=claimer, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    every = [c for ids in got.values() for c in ids]
    assert len(every) == ITEMS and len(set(every)) == ITEMS
    with sessions() as session:
        rows = session.execute(text("SELECT status, count(*) FROM work_items GROUP BY status")).all()
        assert rows == [("assigned", ITEMS)]
        events = session.execute(
            text("SELECT count(DISTINCT payload->>'case_id'), count(*) FROM outbox")
        ).one()
        assert tuple(events) == (ITEMS, ITEMS), "one case_assigned per item"
        owners = dict(session.execute(text("SELECT case_id, assigned_to FROM work_items")).all())
    assert all(owners[c] == u for u, ids in got.items() for c in ids)


def test_two_sweepers_return_each_expired_lease_once(sessions: sessionmaker) -> None:
    with sessions() as session:
        setup_agents(session, ["ann"])
        ann = Principal("ann", ("agent",))
        for _ in range(300):
            claims.claim_next(session=session, events=writer("ann"), principal=ann, lease_seconds=60)
        session.commit()
        session.execute(text("UPDATE work_items SET lease_expires_at = now() - interval '1 second'"))
        session.commit()
    returned: list[int] = []

    def sweeper() -> None:
        with sessions() as session:
            while True:
                n = claims.expire_leases(session=session, events=writer("system"), limit=25)
                session.commit()
                returned.append(n)
                if n == 0:
                    return

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(returned) == 300
    with sessions() as session:
        expired = session.execute(
            text(
                "SELECT count(*), count(DISTINCT case_id) FROM assignment_history"
                " WHERE action = 'lease_expired'"
            )
        ).one()
        assert tuple(expired) == (300, 300)
        assert (
            session.execute(text("SELECT count(*) FROM work_items WHERE status = 'queued'")).scalar() == ITEMS
        )
