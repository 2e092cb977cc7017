"""Small tools shared by the integration tests: polling, SQL, and a queue to read messages from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu
import psycopg2
from nameko.testing.services import entrypoint_hook

from casekit.contracts.events import make_envelope
from casekit.testing.waiting import eventually  # noqa: F401 - re-exported for the tests

AGENT = {"user_id": "agent-1", "roles": "agent", "correlation_id": "corr-agent-1"}


def sql(url: str, query: str, params: tuple | dict = ()) -> list[tuple]:
    """Run one statement in its own committed transaction; return the rows, if any."""
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def call(
    container: Any, method: str, *args: Any, context: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    """Call an entrypoint as ``context`` (an agent by default)."""
    with entrypoint_hook(container, method, context_data=dict(AGENT if context is None else context)) as hook:
        return hook(*args, **kwargs)


@dataclass
class Received:
    body: Any
    routing_key: str
    exchange: str
    properties: dict[str, Any]
    headers: dict[str, Any]


class Probe:
    """A durable queue bound to an events exchange, read with ``basic_get``."""

    def __init__(self, amqp_uri: str, exchange: str, routing_key: str = "#", queue: str | None = None):
        self.conn = kombu.Connection(amqp_uri, connect_timeout=5)
        self.conn.connect()
        self.channel = self.conn.connection.channel()
        self.exchange = exchange
        self.queue = queue or f"probe.{exchange}"
        self.channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        self.channel.queue_declare(self.queue, durable=True, auto_delete=False)
        self.channel.queue_bind(self.queue, exchange, routing_key)

    def drain(self) -> list[Received]:
        """Every message in the queue now, acknowledged."""
        out = []
        while (msg := self.channel.basic_get(self.queue, no_ack=True)) is not None:
            props = dict(msg.properties)
            out.append(
                Received(
                    body=json.loads(msg.body),
                    routing_key=msg.delivery_info["routing_key"],
                    exchange=msg.delivery_info["exchange"],
                    properties=props,
                    headers=dict(props.get("application_headers") or {}),
                )
            )
        return out

    def close(self) -> None:
        self.conn.release()


# --- outbox rows -----------------------------------------------------------------------------


def connect(url: str) -> Any:
    return psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))


def insert_row(conn: Any, event_type: str = "case_opened") -> tuple[int, str]:
    """Insert one outbox row in ``conn``'s open transaction; return (id, event_id)."""
    envelope = make_envelope(producer="cases", type=event_type, data={"n": uuid.uuid4().hex})
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO outbox (event_id, type, payload) VALUES (%s, %s, %s) RETURNING id",
            (envelope["id"], event_type, json.dumps(envelope)),
        )
        return cur.fetchone()[0], envelope["id"]


def commit_rows(url: str, n: int) -> list[str]:
    """Insert and commit ``n`` outbox rows in one transaction; return their event ids."""
    conn = connect(url)
    try:
        with conn:
            return [insert_row(conn)[1] for _ in range(n)]
    finally:
        conn.close()


def row_state(url: str, event_id: str) -> tuple:
    """(sent, attempts, last_error, still waiting for its backoff) of one outbox row."""
    rows = sql(
        url,
        "SELECT sent_at IS NOT NULL, attempts, last_error, next_attempt_at > now() "
        "FROM outbox WHERE event_id = %s",
        (event_id,),
    )
    return rows[0]


def versioned_change(
    changes: dict[str, Callable[..., dict]],
    sessions: Callable[[], Any],
    name: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> Any:
    """One change of a versioned resource in its own transaction, under the preconditions the
    headers ask for: the version it answered with, or the class of the error it raised."""
    from casekit.errors import PreconditionRequired, StaleVersion
    from casekit.preconditions import from_headers

    with sessions() as session:
        try:
            out = changes[name](session, from_headers(if_match, if_none_match))
        except (StaleVersion, PreconditionRequired) as exc:
            return type(exc)
        session.commit()
        return out["version"]


def versioned_race(
    changes: dict[str, Callable[..., dict]],
    sessions: Callable[[], Any],
    name: str,
    if_match: str | None,
    if_none_match: str | None = None,
    writers: int = 8,
) -> list:
    """``writers`` changes started at once, each on its own connection; what each was told."""
    import threading

    start = threading.Barrier(writers)
    outcomes: list[Any] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            outcomes.append(versioned_change(changes, sessions, name, if_match, if_none_match))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    return outcomes
