"""Work claiming under contention: the safe claim never gives one item to two agents; the
select-then-update control does, and the claim checker must catch it (T21)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from casekit.db import green_psycopg
from casekit.testing import claims, infra

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    green_psycopg()  # the agents are green threads under `nameko test`: let them interleave
    name = f"casework_claims_{uuid.uuid4().hex[:8]}"
    url = infra.create_database(name)
    try:
        yield url.replace("postgresql+psycopg2://", "postgresql://")
    finally:
        infra.drop_database(name)


def test_single_statement_claiming_gives_every_item_to_exactly_one_agent(dsn: str) -> None:
    history = claims.run(dsn, claims.claim_next, agents=8, items=200)
    verdict = claims.check(dsn, history)
    assert verdict.claims == verdict.items == 200
    assert verdict.clean, verdict


def test_the_checker_catches_select_then_update_claiming(dsn: str) -> None:
    """Negative control: two agents told the same item is theirs."""
    history = claims.run(dsn, claims.select_then_update, agents=8, items=200)
    verdict = claims.check(dsn, history)
    assert not verdict.clean
    assert verdict.told_twice and verdict.overwritten
    assert verdict.claims > verdict.items
