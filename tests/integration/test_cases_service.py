"""The cases service in a container on a fresh database: references, idempotency, validation,
permissions, pagination and the hash-chained audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy.orm import Session

from casekit.context import Principal
from casekit.db import make_engine
from casekit.errors import InvalidInput, NotFound, PermissionDenied
from casekit.testing.infra import PG_HOSTPORT
from services.cases import audit
from services.cases.service import CasesService
from tests.integration.helpers import AGENT, call, sql

pytestmark = pytest.mark.integration

YEAR = datetime.now(UTC).year
ADMIN = {"user_id": "admin-1", "roles": "admin", "correlation_id": "corr-admin-1"}
COMPLAINT = {
    "key": "complaint",
    "name": "Complaint",
    "prefix": "COMP",
    "stages": [{"key": "received"}, {"key": "investigating"}],
    "data_schema": {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number", "minimum": 0}, "store": {"type": "string"}},
    },
}


@pytest.fixture
def cases(start_service: Callable[..., Any]) -> Any:
    return start_service(CasesService, db="cases")


@pytest.fixture
def db_url(cases: Any) -> str:
    return cases.config["DB_URL"]


def new_case(container: Any, title: str = "A leaking roof", **fields: Any) -> dict[str, Any]:
    return call(container, "create_case", {"type": "general", "title": title, **fields})


def fields_of(exc: InvalidInput) -> set[str]:
    return {f["field"] for f in exc.fields}


def test_references_are_sequential_per_prefix(cases: Any) -> None:
    call(cases, "load_case_type", context=ADMIN, definition=COMPLAINT)
    general = [new_case(cases, f"general {i}")["reference"] for i in range(3)]
    complaint = call(cases, "create_case", {"type": "complaint", "title": "c", "data": {"amount": 3}})
    general.append(new_case(cases, "general 3")["reference"])
    assert general == [f"CASE-{YEAR}-{n:06d}" for n in (1, 2, 3, 4)]
    assert complaint["reference"] == f"COMP-{YEAR}-000001"
    assert complaint["stage"] == "received"


def test_create_case_writes_the_case_one_event_and_one_audit_entry_in_one_transaction(
    cases: Any, db_url: str
) -> None:
    case = new_case(cases, priority="high", customer={"name": "Ann", "email": "ann@example.org"})
    assert case["created"] is True
    assert (case["version"], case["status"], case["priority"]) == (1, "open", "high")
    assert case["created_by"] == "agent-1"
    events = sql(
        db_url,
        "SELECT type, payload, headers, xmin::text FROM outbox WHERE payload->>'case_id' = %s",
        (case["id"],),
    )
    assert len(events) == 1
    event_type, payload, headers, event_xid = events[0]
    assert event_type == "case_opened"
    assert (payload["case_version"], payload["producer"], payload["data"]["case"]["id"]) == (
        1,
        "cases",
        case["id"],
    )
    assert payload["actor"] == {"user_id": "agent-1", "roles": ["agent"]}
    assert headers["user_id"] == "agent-1"
    assert headers["correlation_id"] == payload["correlation_id"] == "corr-agent-1"
    entries = sql(
        db_url, "SELECT action, seq, xmin::text FROM audit_entries WHERE case_id = %s", (case["id"],)
    )
    assert [(a, s) for a, s, _ in entries] == [("case_opened", 1)]
    [(case_xid,)] = sql(db_url, "SELECT xmin::text FROM cases WHERE id = %s", (case["id"],))
    assert case_xid == event_xid == entries[0][2], "case, event and audit entry share one transaction"


def test_the_same_idempotency_key_returns_the_same_case_and_writes_nothing(cases: Any, db_url: str) -> None:
    data = {"type": "general", "title": "Once only"}
    first = call(cases, "create_case", data, idempotency_key="key-1")
    counts = (
        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM outbox),"
        " (SELECT count(*) FROM audit_entries)"
    )
    assert sql(db_url, counts) == [(1, 1, 1)]
    again = call(cases, "create_case", data, idempotency_key="key-1")
    assert again["created"] is False
    assert {**again, "created": True} == first
    assert sql(db_url, counts) == [(1, 1, 1)]
    assert sql(db_url, "SELECT last FROM reference_counters") == [(1,)], "no reference was used up"
    # the key belongs to the caller: another user with the same key opens a new case
    other = call(
        cases, "create_case", data, idempotency_key="key-1", context={"user_id": "u2", "roles": "agent"}
    )
    assert other["created"] is True and other["id"] != first["id"]


def test_concurrent_creates_get_gapless_references_and_share_an_idempotency_key(
    cases: Any, db_url: str
) -> None:
    # over real RPC: entrypoint_hook cannot tell concurrent calls of one method apart
    with ServiceRpcProxy("cases", cases.config, context_data=dict(AGENT)) as rpc:
        plain = [rpc.create_case.call_async({"type": "general", "title": f"c{i}"}) for i in range(4)]
        keyed = [
            rpc.create_case.call_async({"type": "general", "title": "k"}, idempotency_key="same")
            for _ in range(3)
        ]
        references = [reply.result()["reference"] for reply in plain]
        results = [reply.result() for reply in keyed]
    assert len({r["id"] for r in results}) == 1, "one case per idempotency key"
    assert sorted(r["created"] for r in results) == [False, False, True]
    references = sorted([*references, results[0]["reference"]])
    assert references == [f"CASE-{YEAR}-{n:06d}" for n in range(1, 6)], "no gaps, no duplicates"
    assert sql(db_url, "SELECT count(*) FROM cases") == [(5,)]
    assert sql(db_url, "SELECT count(*) FROM outbox") == [(5,)]


def test_invalid_input_names_every_bad_field(cases: Any, db_url: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        call(cases, "create_case", {"type": "general", "priority": "whenever", "surprise": 1})
    assert fields_of(bad.value) == {"title", "priority", "surprise"}
    with pytest.raises(InvalidInput) as unknown:
        call(cases, "create_case", {"type": "no_such_type", "title": "t"})
    assert fields_of(unknown.value) == {"type"}
    assert sql(db_url, "SELECT count(*) FROM cases") == [(0,)]


def test_custom_data_is_validated_against_the_type_schema(cases: Any) -> None:
    assert call(cases, "load_case_type", context=ADMIN, definition=COMPLAINT) == {
        "key": "complaint",
        "version": 1,
        "name": "Complaint",
    }
    with pytest.raises(InvalidInput) as wrong_type:
        call(
            cases, "create_case", {"type": "complaint", "title": "t", "data": {"amount": "lots", "store": 5}}
        )
    assert fields_of(wrong_type.value) == {"data.amount", "data.store"}
    with pytest.raises(InvalidInput) as missing:
        call(cases, "create_case", {"type": "complaint", "title": "t", "data": {}})
    assert fields_of(missing.value) == {"data"}
    ok = call(cases, "create_case", {"type": "complaint", "title": "t", "data": {"amount": 12.5}})
    assert (ok["data"], ok["type_version"]) == ({"amount": 12.5}, 1)
    assert call(cases, "load_case_type", context=ADMIN, definition=COMPLAINT)["version"] == 1, (
        "an unchanged type is no new version"
    )
    assert (
        call(cases, "load_case_type", context=ADMIN, definition={**COMPLAINT, "name": "Complaints"})[
            "version"
        ]
        == 2
    )


def test_only_writers_may_create_cases(cases: Any, db_url: str) -> None:
    assert new_case(cases)["created"] is True
    for context in ({"user_id": "u-nobody"}, {"user_id": "u-auditor", "roles": "auditor"}, {}):
        with pytest.raises(PermissionDenied):
            call(cases, "create_case", {"type": "general", "title": "t"}, context=context)
    assert sql(db_url, "SELECT count(*) FROM cases") == [(1,)]


def test_get_case_of_an_unknown_id_is_not_found(cases: Any) -> None:
    case = new_case(cases)
    assert call(cases, "get_case", case["id"])["reference"] == case["reference"]
    for case_id in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(NotFound):
            call(cases, "get_case", case_id)


def test_list_cases_pagination_walks_every_case_exactly_once(cases: Any) -> None:
    created = [new_case(cases, f"case {i}")["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = call(cases, "list_cases", limit=3, cursor=cursor)
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created)), "newest first, each case once"
    with pytest.raises(InvalidInput):
        call(cases, "list_cases", cursor="garbage!")


def append_entries(db_url: str, case_id: str, n: int) -> None:
    engine = make_engine(db_url, pool_size=1)
    try:
        with Session(engine) as session:
            for i in range(n):
                audit.append(
                    session,
                    case_id=case_id,
                    principal=Principal("agent-1", ("agent",)),
                    action="note_added",
                    changes={"note": f"note {i}"},
                )
                session.flush()
            session.commit()
    finally:
        engine.dispose()


def superuser_sql(db_url: str, query: str, params: tuple = ()) -> None:
    """Run ``query`` as the PostgreSQL superuser with ordinary triggers off (forging evidence).

    The audit table's trigger refuses UPDATE and DELETE to every role; only a superuser can
    switch triggers off for its session. Skips, saying why, when no superuser is reachable.
    """
    dbname = db_url.rsplit("/", 1)[1]
    host, port = PG_HOSTPORT.split(":")
    try:
        conn = psycopg2.connect(host=host, port=port, user="postgres", dbname=dbname, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"needs the PostgreSQL superuser 'postgres' (trust auth on {PG_HOSTPORT}): {exc}")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            cur.execute(query, params)
    finally:
        conn.close()


def test_the_application_role_cannot_change_or_delete_audit_entries(cases: Any, db_url: str) -> None:
    case = new_case(cases)
    for statement in (
        "UPDATE audit_entries SET action = 'forged' WHERE case_id = %s",
        "DELETE FROM audit_entries WHERE case_id = %s",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
            sql(db_url, statement, (case["id"],))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
        sql(db_url, "TRUNCATE audit_entries")
    assert call(cases, "verify_audit", case["id"])["ok"] is True


def test_verify_audit_names_the_first_tampered_entry(cases: Any, db_url: str) -> None:
    case = new_case(cases)
    append_entries(db_url, case["id"], 3)
    ok = call(cases, "verify_audit", case["id"])
    assert (ok["ok"], ok["entries"], ok["first_bad_seq"]) == (True, 4, None)
    assert [e["seq"] for e in call(cases, "audit_trail", case["id"])] == [1, 2, 3, 4]

    superuser_sql(
        db_url,
        'UPDATE audit_entries SET changes = \'{"note": "forged"}\'::jsonb WHERE case_id = %s AND seq = 3',
        (case["id"],),
    )
    bad = call(cases, "verify_audit", case["id"])
    assert (bad["ok"], bad["first_bad_seq"]) == (False, 3)
    assert "hash" in bad["reason"]


def test_verify_audit_reports_a_deleted_middle_entry(cases: Any, db_url: str) -> None:
    case = new_case(cases)
    append_entries(db_url, case["id"], 3)
    superuser_sql(db_url, "DELETE FROM audit_entries WHERE case_id = %s AND seq = 2", (case["id"],))
    bad = call(cases, "verify_audit", case["id"])
    assert (bad["ok"], bad["entries"], bad["first_bad_seq"]) == (False, 3, 3)
    with pytest.raises(NotFound):
        call(cases, "verify_audit", str(uuid.uuid4()))
