"""Work claiming under contention, and a checker for it (T21's control, on a table of our own).

``claim_next`` is the safe form the routing service must use: one statement,
``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id``.
``select_then_update`` is the classic bug: read a free item, then take it, with nothing
stopping a second agent from taking the same one in between. The history records what each
agent was told; ``check`` reports items two agents were told are theirs, items whose owner
in the table is not the agent that was told, and items nobody claimed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2

SCHEMA = """
CREATE TABLE IF NOT EXISTS claim_items (id serial PRIMARY KEY, assignee text, claimed_at timestamptz);
TRUNCATE claim_items;
INSERT INTO claim_items (id) SELECT generate_series(1, %(n)s);
"""
THINK = "SELECT pg_sleep(0.002)"  # the little work an agent's request does around the claim


def claim_next(cur: psycopg2.extensions.cursor, agent: str) -> int | None:
    cur.execute(
        """UPDATE claim_items SET assignee = %s, claimed_at = now()
           WHERE id = (SELECT id FROM claim_items WHERE assignee IS NULL ORDER BY id
                       FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING id""",
        (agent,),
    )
    row = cur.fetchone()
    cur.execute(THINK)
    return row[0] if row else None


def select_then_update(cur: psycopg2.extensions.cursor, agent: str) -> int | None:
    """Broken on purpose: a negative control."""
    cur.execute("SELECT id FROM claim_items WHERE assignee IS NULL ORDER BY id LIMIT 1")
    row = cur.fetchone()
    if row is None:
        return None
    cur.execute(THINK)
    cur.execute("UPDATE claim_items SET assignee = %s, claimed_at = now() WHERE id = %s", (agent, row[0]))
    return row[0]


@dataclass
class ClaimVerdict:
    claims: int
    items: int
    told_twice: list[int] = field(default_factory=list)
    overwritten: list[int] = field(default_factory=list)
    unclaimed: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.told_twice or self.overwritten or self.unclaimed)


def run(dsn: str, claim: Callable, *, agents: int = 8, items: int = 200) -> list[tuple[str, int]]:
    """``agents`` threads claim until nothing is left; returns (agent, item) as each was told."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(SCHEMA, {"n": items})
    history: list[tuple[str, int]] = []
    lock = threading.Lock()

    def agent(name: str) -> None:
        conn = psycopg2.connect(dsn)
        conn.autocommit = False
        try:
            while True:
                with conn, conn.cursor() as cur:  # one transaction per claim
                    item = claim(cur, name)
                if item is None:
                    return
                with lock:
                    history.append((name, item))
        finally:
            conn.close()

    threads = [threading.Thread(target=agent, args=(f"agent-{i}",)) for i in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return history


def check(dsn: str, history: list[tuple[str, int]]) -> ClaimVerdict:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, assignee FROM claim_items")
        owner = dict(cur.fetchall())
    told = Counter(item for _, item in history)
    return ClaimVerdict(
        claims=len(history),
        items=len(owner),
        told_twice=sorted(item for item, n in told.items() if n > 1),
        overwritten=sorted({item for agent, item in history if owner.get(item) != agent}),
        unclaimed=sorted(item for item, who in owner.items() if who is None),
    )
