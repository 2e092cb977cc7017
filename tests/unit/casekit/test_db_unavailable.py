"""A database that is down becomes DatabaseUnavailable (503 + Retry-After), never a 500."""

from __future__ import annotations

import json

import psycopg2
import pytest
from nameko.exceptions import deserialize, serialize
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from casekit.db import is_unavailable, make_engine, transaction, unavailable_from
from casekit.errors import DatabaseUnavailable, Unavailable
from casekit.testing.suite import free_port


def test_connection_failures_timeouts_and_exhausted_pools_are_unavailable() -> None:
    refused = sa_exc.OperationalError("SELECT 1", {}, psycopg2.OperationalError("connection refused"))
    assert is_unavailable(refused)
    assert is_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert is_unavailable(psycopg2.OperationalError("server closed the connection unexpectedly"))
    assert not is_unavailable(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_unavailable(ValueError("bad input"))
    assert not is_unavailable(None)


def test_the_typed_error_carries_retry_after_across_rpc() -> None:
    typed = unavailable_from(sa_exc.OperationalError("x", {}, psycopg2.OperationalError("down")))
    back = deserialize(json.loads(json.dumps(serialize(typed))))
    assert type(back) is DatabaseUnavailable and isinstance(back, Unavailable)
    assert back.retry_after == 5
    assert "OperationalError" in back.message


def test_a_transaction_against_a_dead_server_fails_fast_as_unavailable() -> None:
    url = f"postgresql+psycopg2://casework:casework@127.0.0.1:{free_port()}/nothing"  # nobody listens
    sessions = sessionmaker(bind=make_engine(url, pool_size=1))
    with pytest.raises(DatabaseUnavailable) as raised, transaction(sessions) as session:
        session.execute(text("SELECT 1"))
    assert raised.value.retry_after == 5


def test_the_gateway_answers_503_with_retry_after() -> None:
    from flask import Flask

    from gateway.errors import from_exception

    with Flask(__name__).test_request_context():
        response = from_exception(DatabaseUnavailable("the database is unavailable", 7))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert json.loads(response.get_data())["code"] == "UNAVAILABLE"
