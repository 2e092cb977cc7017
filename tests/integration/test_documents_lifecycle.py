"""The documents service on real PostgreSQL and RabbitMQ: versions, visibility from cases events,
retention and legal hold with tombstones, email attachments, crash consistency and the sweep, and
the same service on the S3 backend (moto's S3 server on loopback)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from casekit.contracts.documents import DOCUMENT_FIELDS, REMOVED_FIELDS
from casekit.contracts.events import make_envelope
from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from services.documents import logic
from services.documents.service import DocumentsService
from tests.integration.helpers import call, sql

pytestmark = pytest.mark.integration

SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor", "correlation_id": "corr-sup"}
ADMIN = {"user_id": "admin-1", "roles": "admin", "correlation_id": "corr-admin"}
OUTSIDER = {"user_id": "agent-2", "roles": "agent", "teams": "billing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def documents(request: pytest.FixtureRequest, start_service: Callable[..., Any]) -> Any:
    extra: dict[str, Any] = {}
    if request.param == "s3":
        extra = {
            "DOCUMENTS_BACKEND": "s3",
            "S3_ENDPOINT": request.getfixturevalue("s3_endpoint"),
            "S3_ACCESS_KEY": "test",
            "S3_SECRET_KEY": "test",
            "S3_BUCKET": f"docs-{uuid.uuid4().hex[:10]}",
        }
    return start_service(DocumentsService, db="documents", MAX_UPLOAD_BYTES=1024 * 1024, **extra)


@pytest.fixture
def db_url(documents: Any) -> str:
    return documents.config["DB_URL"]


def store(container: Any) -> Any:
    return next(iter(e for e in container.dependencies if e.attr_name == "store")).store


def upload(container: Any, case_id: str, data: bytes, *, context: dict | None = None, **kwargs: Any) -> dict:
    begun = call(container, "begin_upload", case_id, context=context, **{"filename": "f.txt", **kwargs})
    call(container, "upload_part", begun["upload_id"], 0, base64.b64encode(data).decode(), context=context)
    return call(container, "finish_upload", begun["upload_id"], context=context)


def case_event(container: Any, event_type: str, case_id: str, version: int, **case: Any) -> None:
    snapshot = {
        "id": case_id,
        "version": version,
        "status": "open",
        "team": None,
        "restricted": False,
        **case,
    }
    envelope = make_envelope(
        producer="cases", type=event_type, data={"case": snapshot}, case_id=case_id, case_version=version
    )
    method = {"case_opened": "handle_case_opened", "case_closed": "handle_case_closed"}.get(
        event_type, "handle_case_reopened"
    )
    call(container, method, envelope)


def extract(container: Any, db_url: str, doc_id: str) -> None:
    [(payload,)] = sql(
        db_url,
        "SELECT payload FROM outbox WHERE type = 'document_added' AND payload->'data'->>'id' = %s",
        (doc_id,),
    )
    call(container, "handle_document_added", payload)


def every_row_has_its_blob(container: Any, db_url: str) -> bool:
    return all(store(container).exists(sha) for (sha,) in sql(db_url, "SELECT sha256 FROM documents"))


def test_versions_share_a_group_and_listing_shows_the_latest(documents: Any) -> None:
    case_id = str(uuid.uuid4())
    first = upload(documents, case_id, b"v1", tags=["a", "a", "b"])
    second = upload(documents, case_id, b"v2", version_of=first["id"], filename=None)
    assert (second["group_id"], second["version"], second["filename"]) == (first["id"], 2, "f.txt")
    assert first["tags"] == ["a", "b"]
    assert [d["id"] for d in call(documents, "list_for_case", case_id)] == [second["id"]]
    assert len(call(documents, "list_for_case", case_id, True)) == 2
    assert [d["version"] for d in call(documents, "list_versions", first["id"])] == [1, 2]
    with pytest.raises(NotFound):  # a version must stay in its document's case
        call(documents, "begin_upload", str(uuid.uuid4()), version_of=first["id"])


def test_the_service_refuses_documents_of_cases_the_caller_may_not_see(documents: Any) -> None:
    case_id = str(uuid.uuid4())
    doc = upload(documents, case_id, b"fraud file")
    case_event(documents, "case_opened", case_id, 1, team="fraud")
    for method, args in (("get_document", (doc["id"],)), ("read_chunk", (doc["id"], 0, 5))):
        with pytest.raises(NotFound):
            call(documents, method, *args, context=OUTSIDER)
    with pytest.raises(NotFound):
        call(documents, "list_for_case", case_id, context=OUTSIDER)
    with pytest.raises(NotFound):
        call(documents, "begin_upload", case_id, context=OUTSIDER)
    assert (
        call(documents, "get_document", doc["id"], context={**OUTSIDER, "teams": "fraud"})["id"] == doc["id"]
    )


def test_stale_case_events_are_no_ops(documents: Any, db_url: str) -> None:
    case_id = str(uuid.uuid4())
    case_event(documents, "case_opened", case_id, 3, team="a")
    case_event(documents, "case_opened", case_id, 2, team="b")
    assert sql(db_url, "SELECT team, case_version FROM case_states WHERE case_id = %s", (case_id,)) == [
        ("a", 3)
    ]


def closed_long_ago(documents: Any, case_id: str, days: int = 30) -> None:
    closed = (datetime.now(UTC) - timedelta(days=days + 1)).isoformat()
    case_event(documents, "case_closed", case_id, 9, status="closed", closed_at=closed, retention_days=days)


def test_retention_hold_and_tombstones(documents: Any, db_url: str) -> None:
    case_id = str(uuid.uuid4())
    doc = upload(documents, case_id, b"keep me until retention ends")
    with pytest.raises(Conflict, match="not closed"):
        call(documents, "delete_document", doc["id"], "tidy up", context=SUPERVISOR)
    case_event(
        documents,
        "case_closed",
        case_id,
        2,
        status="closed",
        closed_at=datetime.now(UTC).isoformat(),
        retention_days=30,
    )
    with pytest.raises(Conflict, match="retention period"):
        call(documents, "delete_document", doc["id"], "tidy up", context=SUPERVISOR)
    closed_long_ago(documents, case_id)
    with pytest.raises(PermissionDenied):
        call(documents, "set_legal_hold", "case", case_id, True, "litigation")  # an agent
    with pytest.raises(InvalidInput):
        call(documents, "set_legal_hold", "case", case_id, True, "", context=SUPERVISOR)
    call(documents, "set_legal_hold", "case", case_id, True, "litigation 2026/14", context=SUPERVISOR)
    with pytest.raises(Conflict, match="legal hold"):
        call(documents, "delete_document", doc["id"], "tidy up", context=SUPERVISOR)
    assert call(documents, "dispose_expired", context=ADMIN) == {"removed": 0}
    call(documents, "set_legal_hold", "case", case_id, False, "settled", context=SUPERVISOR)
    call(documents, "set_legal_hold", "document", doc["id"], True, "evidence", context=SUPERVISOR)
    assert call(documents, "dispose_expired", context=ADMIN) == {"removed": 0}
    call(documents, "set_legal_hold", "document", doc["id"], False, "released", context=SUPERVISOR)
    holds = call(documents, "list_holds", case_id)
    assert [(h["target"], h["reason"], h["release_reason"]) for h in holds] == [
        ("case", "litigation 2026/14", "settled"),
        ("document", "evidence", "released"),
    ]

    removed = call(
        documents, "delete_document", doc["id"], "retention ended, file closed", context=SUPERVISOR
    )
    [stone] = removed["removed"]
    assert (stone["document_id"], stone["sha256"], stone["deleted_by"]) == (doc["id"], doc["sha256"], "sup-1")
    assert sql(db_url, "SELECT count(*) FROM documents") == [(0,)]
    assert sql(db_url, "SELECT deleted_by, reason, sha256 FROM tombstones") == [
        ("sup-1", "retention ended, file closed", doc["sha256"])
    ]
    [(event,)] = sql(db_url, "SELECT payload FROM outbox WHERE type = 'document_removed'")
    assert set(event["data"]) == set(REMOVED_FIELDS)
    [(added,)] = sql(db_url, "SELECT payload FROM outbox WHERE type = 'document_added'")
    assert set(added["data"]) == set(DOCUMENT_FIELDS)
    assert event["case_id"] == case_id and event["data"]["reason"] == "retention ended, file closed"
    assert not store(documents).exists(doc["sha256"])
    with pytest.raises(NotFound):
        call(documents, "get_document", doc["id"])


def test_the_retention_job_disposes_of_expired_unheld_documents(documents: Any, db_url: str) -> None:
    expired, held, shared = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    gone = upload(documents, expired, b"old bytes")
    kept_by_hold = upload(documents, held, b"held bytes")
    same_bytes = upload(documents, shared, b"old bytes")  # another case still points at the blob
    closed_long_ago(documents, expired)
    closed_long_ago(documents, held)
    call(documents, "set_legal_hold", "case", held, True, "regulator", context=ADMIN)
    assert call(documents, "dispose_expired", context=ADMIN) == {"removed": 1}
    assert call(documents, "dispose_expired", context=ADMIN) == {"removed": 0}
    ids = {r[0] for r in sql(db_url, "SELECT id FROM documents")}
    assert ids == {kept_by_hold["id"], same_bytes["id"]} and gone["id"] not in ids
    assert sql(db_url, "SELECT deleted_by FROM tombstones") == [("system:retention",)]
    assert store(documents).exists(gone["sha256"])  # shared with a live document


def test_an_email_s_attachments_become_linked_documents(documents: Any, db_url: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.org", "desk@example.org", "Bill"
    message.set_content("Please see the attached invoice.")
    message.add_attachment(b"invoice 42", maintype="text", subtype="plain", filename="../../invoice.txt")
    case_id = str(uuid.uuid4())
    mail = upload(documents, case_id, message.as_bytes(), filename="mail.eml", kind="email")
    assert mail["media_type"] == "message/rfc822"
    extract(documents, db_url, mail["id"])
    extract(documents, db_url, mail["id"])  # a redelivery changes nothing
    docs = call(documents, "list_for_case", case_id)
    [child] = [d for d in docs if d["parent_id"] == mail["id"]]
    assert (child["filename"], child["media_type"], child["size"]) == ("invoice.txt", "text/plain", 10)
    texts = dict(
        sql(
            db_url,
            "SELECT payload->'data'->>'document_id', payload->'data'->>'text' FROM outbox "
            "WHERE type = 'document_text_extracted'",
        )
    )
    assert "Please see the attached invoice." in texts[mail["id"]] and "Subject: Bill" in texts[mail["id"]]
    extract(documents, db_url, child["id"])
    assert call(documents, "get_document", child["id"])["text_status"] == "extracted"


def test_a_crash_after_the_blob_and_before_the_row_leaves_only_an_orphan_the_sweep_removes(
    documents: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(name: str) -> None:
        if name == "documents.after_blob_commit":
            raise RuntimeError("killed")  # the worker dies before its database commit

    monkeypatch.setattr(logic, "crashpoint", crash)
    data = b"bytes whose row never committed"
    begun = call(documents, "begin_upload", str(uuid.uuid4()))
    call(documents, "upload_part", begun["upload_id"], 0, base64.b64encode(data).decode())
    with pytest.raises(Exception):  # noqa: B017, PT011 - the worker died
        call(documents, "finish_upload", begun["upload_id"])
    sha = hashlib.sha256(data).hexdigest()
    assert sql(db_url, "SELECT count(*) FROM documents") == [(0,)]
    assert sql(db_url, "SELECT state FROM uploads") == [("open",)]  # the crash left it open
    assert store(documents).exists(sha)  # an orphan: nothing points at it
    assert every_row_has_its_blob(documents, db_url)
    monkeypatch.undo()
    with pytest.raises(InvalidInput, match="no longer staged"):  # the redelivered finish
        call(documents, "finish_upload", begun["upload_id"])
    assert call(documents, "sweep", 3600, context=ADMIN)["blobs_removed"] == 0  # still in its grace period
    swept = call(documents, "sweep", 0, 0, context=ADMIN)
    assert swept["blobs_removed"] == 1
    assert not store(documents).exists(sha)
    assert sql(db_url, "SELECT state FROM uploads") == [("aborted",)]


def test_the_sweep_never_removes_a_referenced_blob_and_a_swept_blob_fails_the_upload_cleanly(
    documents: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = upload(documents, str(uuid.uuid4()), b"referenced")
    assert call(documents, "sweep", 0, 0, context=ADMIN)["blobs_removed"] == 0
    assert store(documents).exists(doc["sha256"])

    def swept_meanwhile(_name: str) -> None:
        store(documents).delete(hashlib.sha256(b"raced").hexdigest())

    monkeypatch.setattr(logic, "crashpoint", swept_meanwhile)
    begun = call(documents, "begin_upload", str(uuid.uuid4()))
    call(documents, "upload_part", begun["upload_id"], 0, base64.b64encode(b"raced").decode())
    with pytest.raises(Unavailable):
        call(documents, "finish_upload", begun["upload_id"])
    assert sql(
        db_url, "SELECT count(*) FROM documents WHERE sha256 = %s", (hashlib.sha256(b"raced").hexdigest(),)
    ) == [(0,)]
    assert every_row_has_its_blob(documents, db_url)


def test_oversize_and_empty_uploads_leave_nothing(documents: Any, db_url: str) -> None:
    begun = call(documents, "begin_upload", str(uuid.uuid4()))
    with pytest.raises(InvalidInput):
        call(
            documents,
            "upload_part",
            begun["upload_id"],
            0,
            base64.b64encode(b"x" * (1024 * 1024 + 1)).decode(),
        )
    with pytest.raises(InvalidInput):
        call(documents, "finish_upload", call(documents, "begin_upload", str(uuid.uuid4()))["upload_id"])
    assert sql(db_url, "SELECT count(*) FROM documents") == [(0,)]
    assert list(store(documents).staged()) == []


def test_direct_uploads_and_download_urls_need_s3(documents: Any) -> None:
    case_id = str(uuid.uuid4())
    doc = upload(documents, case_id, b"downloadable")
    ticket = call(documents, "download_url", doc["id"])
    if documents.config.get("DOCUMENTS_BACKEND") != "s3":
        assert ticket == {"url": None, "expires_in": None}
        with pytest.raises(Conflict):
            call(documents, "begin_direct_upload", case_id)
        return
    import requests

    assert requests.get(ticket["url"], timeout=10).content == b"downloadable"
    direct = call(documents, "begin_direct_upload", case_id, filename="big.txt")
    assert requests.put(direct["url"], data=b"straight to the bucket", timeout=10).status_code == 200
    finished = call(documents, "finish_upload", direct["upload_id"])
    assert (finished["size"], finished["media_type"]) == (22, "text/plain")
    assert (
        base64.b64decode(call(documents, "read_chunk", finished["id"], 0, 100)) == b"straight to the bucket"
    )


def test_a_merge_moves_the_source_s_documents_to_the_survivor_once(documents: Any) -> None:
    source, survivor = str(uuid.uuid4()), str(uuid.uuid4())
    doc = upload(documents, source, b"from the merged case")
    call(documents, "set_legal_hold", "case", source, True, "held before the merge", context=SUPERVISOR)
    for role, case_id in (("source", source), ("survivor", survivor)):
        merge = {"source_case_id": source, "survivor_case_id": survivor, "role": role}
        snapshot = {"id": case_id, "version": 5, "status": "closed" if role == "source" else "open"}
        envelope = make_envelope(
            producer="cases",
            type="case_merged",
            data={"case": snapshot, "merge": merge},
            case_id=case_id,
            case_version=5,
        )
        call(documents, "handle_case_merged", envelope)
        call(documents, "handle_case_merged", envelope)  # redelivered
    moved = call(documents, "get_document", doc["id"])
    assert moved["case_id"] == survivor and moved["legal_hold"] is True
    assert call(documents, "list_for_case", source) == []


def test_an_idempotency_key_replays_the_finished_upload(documents: Any, db_url: str) -> None:
    case_id = str(uuid.uuid4())
    first = call(documents, "begin_upload", case_id, idempotency_key="k-1")
    retry_before_finish = call(documents, "begin_upload", case_id, idempotency_key="k-1")
    assert retry_before_finish["upload_id"] != first["upload_id"]  # the unfinished attempt starts again
    upload_id = retry_before_finish["upload_id"]
    call(documents, "upload_part", upload_id, 0, base64.b64encode(b"once").decode())
    doc = call(documents, "finish_upload", upload_id)
    replay = call(documents, "begin_upload", case_id, idempotency_key="k-1")
    assert replay == {"upload_id": upload_id, "document": doc}
    with pytest.raises(InvalidInput):
        call(documents, "begin_upload", str(uuid.uuid4()), idempotency_key="k-1")
    other = call(documents, "begin_upload", case_id, idempotency_key="k-1", context=SUPERVISOR)
    assert "document" not in other  # keys are per caller
    assert sql(db_url, "SELECT count(*) FROM documents") == [(1,)]
