"""Versioned routing resources on real PostgreSQL: agent profiles, calendars, SLA policies and the
rule set check If-Match / If-None-Match atomically with the write (casekit.preconditions).

Writers racing with the same precondition, each on its own connection, must leave exactly one
winner: the check runs under the row's lock (or the insert's unique key), never read-then-write.
(The same over HTTP: tests/e2e/test_versioned_api.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.db import make_engine
from casekit.errors import PreconditionRequired, StaleVersion
from services.routing.logic import agents, ruleset, sla_store
from tests.integration.helpers import versioned_change, versioned_race

pytestmark = pytest.mark.integration

ADMIN = Principal("admin-1", ("admin", "supervisor"))
WRITERS = 8
CALENDAR = {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}
POLICY = {"calendar": "24x7", "clocks": {"resolution": {"target_hours": 40}}}
RULES = {"queues": [{"name": "default"}], "rules": []}


@pytest.fixture
def sessions(make_databases: Callable[..., dict[str, str]]) -> Iterator[sessionmaker]:
    engine = make_engine(make_databases("routing")["routing"], pool_size=WRITERS + 2)
    try:
        yield sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        engine.dispose()


# each resource: its name, a change (session, precondition) -> its answer
def put_agent(session: Session, precondition: Any, capacity: int = 3) -> dict:
    body = {"capacity": capacity}
    return agents.put_agent(
        session=session, principal=ADMIN, user_id="ann", body=body, precondition=precondition
    )


def put_calendar(session: Session, precondition: Any) -> dict:
    return sla_store.put_calendar(
        session=session, principal=ADMIN, name="office", definition=CALENDAR, precondition=precondition
    )


def put_policy(session: Session, precondition: Any) -> dict:
    return sla_store.put_policy(
        session=session, principal=ADMIN, case_type="complaint", definition=POLICY, precondition=precondition
    )


def put_rules(session: Session, precondition: Any) -> dict:
    return ruleset.store_rules(session=session, principal=ADMIN, document=RULES, precondition=precondition)


CHANGES = {"agent": put_agent, "calendar": put_calendar, "policy": put_policy, "rules": put_rules}


def change(
    sessions: sessionmaker, name: str, if_match: str | None = None, if_none_match: str | None = None
) -> Any:
    return versioned_change(CHANGES, sessions, name, if_match, if_none_match)


def race(sessions: sessionmaker, name: str, if_match: str | None, if_none_match: str | None = None) -> list:
    return versioned_race(CHANGES, sessions, name, if_match, if_none_match, WRITERS)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_the_preconditions_of_each_versioned_resource(sessions: sessionmaker, name: str) -> None:
    assert change(sessions, name, if_match="*") is StaleVersion  # * needs something stored
    assert change(sessions, name) == 1  # creating needs no precondition
    assert change(sessions, name) is PreconditionRequired  # changing it does
    assert change(sessions, name, if_match='"7"') is StaleVersion
    assert change(sessions, name, if_none_match="*") is StaleVersion  # create only
    assert change(sessions, name, if_match='"1"') == 2
    assert change(sessions, name, if_match='"1"') is StaleVersion  # the same ETag again: stale
    assert change(sessions, name, if_match="*") == 3


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_writers_naming_the_same_version_leave_exactly_one_winner(sessions: sessionmaker, name: str) -> None:
    created = race(sessions, name, None, if_none_match="*")
    assert sorted(created, key=str) == [1, *[StaleVersion] * (WRITERS - 1)], created
    changed = race(sessions, name, '"1"')
    assert sorted(changed, key=str) == [2, *[StaleVersion] * (WRITERS - 1)], changed
    unconditional = race(sessions, name, None)  # once stored, a change without If-Match is refused
    assert unconditional == [PreconditionRequired] * WRITERS


def test_a_create_race_without_preconditions_tells_the_losers_to_send_if_match(
    sessions: sessionmaker,
) -> None:
    outcomes = race(sessions, "agent", None)
    assert sorted(outcomes, key=str) == [1, *[PreconditionRequired] * (WRITERS - 1)], outcomes


def test_reads_show_version_zero_until_something_is_stored(sessions: sessionmaker) -> None:
    with sessions() as s:
        assert agents.get_agent(session=s, principal=ADMIN, user_id="ann")["version"] == 0
        assert sla_store.get_policy(session=s, principal=ADMIN, case_type="complaint")["version"] == 0
        assert sla_store.get_calendar(session=s, principal=ADMIN, name="24x7")["version"] == 0
        assert ruleset.get_rules(session=s, principal=ADMIN)["version"] is None
    assert change(sessions, "agent", if_match='"0"') == 1  # "0": only while nothing is stored
    assert change(sessions, "agent", if_match='"0"') is StaleVersion
    with sessions() as s:
        profile = agents.get_agent(session=s, principal=ADMIN, user_id="ann")
        assert (profile["version"], profile["capacity"]) == (1, 3)


def test_internal_callers_change_unconditionally(sessions: sessionmaker) -> None:
    for capacity in (4, 5):
        with sessions() as s:
            assert put_agent(s, None, capacity)["capacity"] == capacity
            s.commit()
    with sessions() as s:
        assert agents.get_agent(session=s, principal=ADMIN, user_id="ann")["version"] == 2
