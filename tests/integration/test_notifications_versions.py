"""Versioned notifications resources on real PostgreSQL: a user's preferences and the admins'
templates check If-Match / If-None-Match atomically with the write (casekit.preconditions).

Writers racing with the same precondition, each on its own connection, leave exactly one winner.
(The same over HTTP: tests/e2e/test_versioned_api.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.db import make_engine
from casekit.errors import InvalidInput, PreconditionRequired, StaleVersion
from casekit.preconditions import from_headers
from services.notifications.logic import staff, templates
from tests.integration.helpers import versioned_change, versioned_race

pytestmark = pytest.mark.integration

ANN = Principal("ann", ("agent",))
WRITERS = 8


@pytest.fixture
def sessions(make_databases: Callable[..., dict[str, str]]) -> Iterator[sessionmaker]:
    engine = make_engine(make_databases("notifications")["notifications"], pool_size=WRITERS + 2)
    try:
        yield sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        engine.dispose()


def put_preferences(session: Session, precondition: Any, body: dict | None = None) -> dict:
    body = body or {"channels": {"mention": ["in_app"]}}
    return staff.set_preferences(session=session, principal=ANN, body=body, precondition=precondition)


def put_template(session: Session, precondition: Any) -> dict:
    body = {"subject": "[{{ case.reference }}] Merci", "text": "Bonjour {{ customer.name }}"}
    return templates.save(session, "acknowledgement", "fr", body, "admin-1", precondition)


CHANGES = {"preferences": put_preferences, "template": put_template}


def change(
    sessions: sessionmaker, name: str, if_match: str | None = None, if_none_match: str | None = None
) -> Any:
    return versioned_change(CHANGES, sessions, name, if_match, if_none_match)


def race(sessions: sessionmaker, name: str, if_match: str | None, if_none_match: str | None = None) -> list:
    return versioned_race(CHANGES, sessions, name, if_match, if_none_match, WRITERS)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_the_preconditions_of_each_versioned_resource(sessions: sessionmaker, name: str) -> None:
    assert change(sessions, name, if_match="*") is StaleVersion
    assert change(sessions, name) == 1
    assert change(sessions, name) is PreconditionRequired
    assert change(sessions, name, if_match='"2"') is StaleVersion
    assert change(sessions, name, if_none_match="*") is StaleVersion
    assert change(sessions, name, if_match='"1"') == 2
    assert change(sessions, name, if_match='"1"') is StaleVersion
    assert change(sessions, name, if_match='W/"2"') == 3  # read as the cases' ETags are


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_writers_naming_the_same_version_leave_exactly_one_winner(sessions: sessionmaker, name: str) -> None:
    created = race(sessions, name, None, if_none_match="*")
    assert sorted(created, key=str) == [1, *[StaleVersion] * (WRITERS - 1)], created
    changed = race(sessions, name, '"1"')
    assert sorted(changed, key=str) == [2, *[StaleVersion] * (WRITERS - 1)], changed


def test_reads_show_the_version_a_change_is_checked_against(sessions: sessionmaker) -> None:
    with sessions() as s:
        assert staff.preferences(s, "ann")["version"] == 0
        assert templates.load(s, "acknowledgement", "fr")["version"] == 0  # the file
    assert change(sessions, "template", if_match='"0"') == 1
    with sessions() as s:
        fr = templates.load(s, "acknowledgement", "fr")
        assert (fr["source"], fr["locale"], fr["version"]) == ("admin", "fr", 1)
        # another locale falling back to en shows en's file, and its own (absent) version
        assert templates.load(s, "acknowledgement", "de")["version"] == 0


def test_a_refused_body_is_422_and_the_state_needs_the_lock_first(sessions: sessionmaker) -> None:
    assert change(sessions, "preferences") == 1
    with sessions() as s, pytest.raises(InvalidInput):  # email needs an address, stored or given
        put_preferences(s, from_headers('"1"'), {"channels": {"mention": ["email"]}})
    with sessions() as s:
        body = {"channels": {"mention": ["email"]}, "email": "ann@example.org"}
        assert put_preferences(s, from_headers('"1"'), body)["version"] == 2
        s.commit()
    with sessions() as s:  # now stored: the address need not be given again
        out = put_preferences(s, from_headers('"2"'), {"channels": {"case_assigned": ["email"]}})
        assert out["version"] == 3 and out["channels"]["mention"] == ["email"]
