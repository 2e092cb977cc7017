"""The documents service with real files: chunked uploads into a content-addressed store."""

from __future__ import annotations

import base64
import hashlib
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nameko.testing.services import entrypoint_waiter

from casekit.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from casekit.relay import Relay
from services.documents.service import DocumentsService
from tests.integration.helpers import call, sql

pytestmark = pytest.mark.integration

MAX_UPLOAD = 64
TEXT = b"The quick brown fox jumps over the lazy dog\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.fixture
def documents(start_service: Callable[..., Any]) -> Any:
    return start_service(DocumentsService, db="documents", MAX_UPLOAD_BYTES=MAX_UPLOAD)


@pytest.fixture
def db_url(documents: Any) -> str:
    return documents.config["DB_URL"]


@pytest.fixture
def store_root(documents: Any) -> Path:
    return Path(documents.config["DOCUMENTS_DATA_DIR"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def begin(container: Any, filename: str = "letter.txt") -> str:
    return call(container, "begin_upload", str(uuid.uuid4()), filename=filename, kind="email")["upload_id"]


def upload(container: Any, *parts: bytes, filename: str = "letter.txt") -> dict[str, Any]:
    upload_id = begin(container, filename)
    for index, part in enumerate(parts):
        call(container, "upload_part", upload_id, index, b64(part))
    return call(container, "finish_upload", upload_id)


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


def staged_files(root: Path) -> list[Path]:
    return sorted((root / "staging").iterdir())


def test_a_chunked_upload_stores_one_blob_at_its_content_address(
    documents: Any, db_url: str, store_root: Path
) -> None:
    doc = upload(documents, TEXT[:20], TEXT[20:])
    sha = hashlib.sha256(TEXT).hexdigest()
    assert (doc["sha256"], doc["size"], doc["media_type"]) == (sha, len(TEXT), "text/plain")
    assert (doc["filename"], doc["kind"], doc["uploaded_by"], doc["text_status"]) == (
        "letter.txt",
        "email",
        "agent-1",
        "pending",
    )
    blob = store_root / "blobs" / sha[:2] / sha[2:4] / sha
    assert blob.read_bytes() == TEXT
    assert blob_files(store_root) == [blob]
    assert staged_files(store_root) == []
    assert sql(db_url, "SELECT id, sha256, size FROM documents") == [(doc["id"], sha, len(TEXT))]
    [(event,)] = sql(db_url, "SELECT payload FROM outbox WHERE type = 'document_added'")
    assert event["data"]["id"] == doc["id"] and event["case_id"] == doc["case_id"]
    assert [d["id"] for d in call(documents, "list_for_case", doc["case_id"])] == [doc["id"]]


def test_a_repeated_part_is_ignored_and_a_skipped_index_is_refused(documents: Any) -> None:
    upload_id = begin(documents)
    assert call(documents, "upload_part", upload_id, 0, b64(b"abc"))["size"] == 3
    assert call(documents, "upload_part", upload_id, 0, b64(b"abc")) == {
        "upload_id": upload_id,
        "parts": 1,
        "size": 3,
    }
    with pytest.raises(InvalidInput) as skipped:
        call(documents, "upload_part", upload_id, 2, b64(b"ghi"))
    assert [f["field"] for f in skipped.value.fields] == ["index"]
    assert call(documents, "upload_part", upload_id, 1, b64(b"def"))["size"] == 6
    doc = call(documents, "finish_upload", upload_id)
    assert (doc["size"], doc["sha256"]) == (6, hashlib.sha256(b"abcdef").hexdigest())


def test_an_upload_over_the_limit_is_aborted_without_a_trace(
    documents: Any, db_url: str, store_root: Path
) -> None:
    upload_id = begin(documents)
    call(documents, "upload_part", upload_id, 0, b64(b"x" * (MAX_UPLOAD - 10)))
    with pytest.raises(InvalidInput) as too_big:
        call(documents, "upload_part", upload_id, 1, b64(b"x" * 11))
    assert [f["field"] for f in too_big.value.fields] == ["file"]
    assert sql(db_url, "SELECT state, document_id FROM uploads") == [("aborted", None)]
    with pytest.raises(Conflict):
        call(documents, "finish_upload", upload_id)
    assert sql(db_url, "SELECT count(*) FROM documents") == [(0,)]
    assert sql(db_url, "SELECT count(*) FROM outbox") == [(0,)]
    assert blob_files(store_root) == []
    assert staged_files(store_root) == []


def test_only_the_uploader_may_add_parts(documents: Any) -> None:
    upload_id = begin(documents)
    with pytest.raises(NotFound):
        call(
            documents,
            "upload_part",
            upload_id,
            0,
            b64(b"x"),
            context={"user_id": "intruder", "roles": "agent"},
        )
    with pytest.raises(InvalidInput) as bad:
        call(documents, "upload_part", upload_id, 0, "%%% not base64")
    assert [f["field"] for f in bad.value.fields] == ["data"]
    with pytest.raises(PermissionDenied):
        call(documents, "begin_upload", str(uuid.uuid4()), context={"user_id": "a", "roles": "auditor"})


def test_an_empty_upload_is_refused(documents: Any, db_url: str, store_root: Path) -> None:
    upload_id = begin(documents)
    with pytest.raises(InvalidInput) as empty:
        call(documents, "finish_upload", upload_id)
    assert [f["field"] for f in empty.value.fields] == ["file"]
    assert sql(db_url, "SELECT state FROM uploads") == [("aborted",)]
    assert sql(db_url, "SELECT count(*) FROM documents") == [(0,)]
    assert blob_files(store_root) == []


def test_the_same_bytes_twice_share_one_blob_and_read_chunk_returns_ranges(
    documents: Any, store_root: Path
) -> None:
    first = upload(documents, TEXT, filename="a.txt")
    second = upload(documents, TEXT, filename="../../etc/b.txt")
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    assert second["filename"] == "b.txt"
    assert len(blob_files(store_root)) == 1
    assert staged_files(store_root) == []

    def chunk(offset: int, length: int) -> bytes:
        return base64.b64decode(call(documents, "read_chunk", second["id"], offset, length))

    assert chunk(0, len(TEXT)) == TEXT
    assert chunk(4, 5) == b"quick"
    assert chunk(len(TEXT) - 4, 100) == b"dog\n"
    assert chunk(len(TEXT), 10) == b""


def test_document_added_extracts_text_and_emits_document_text_extracted(documents: Any, db_url: str) -> None:
    text_doc = upload(documents, TEXT, filename="note.txt")
    image = upload(documents, PNG, filename="photo.png")
    assert image["media_type"] == "image/png"
    relay = Relay("documents", db_url, documents.config["AMQP_URI"])
    try:
        handled: list[str] = []

        def both_done(worker_ctx: Any, _result: Any, _exc_info: Any) -> bool:
            handled.append(worker_ctx.args[0]["data"]["id"])
            return len(handled) == 2

        with entrypoint_waiter(documents, "handle_document_added", timeout=10, callback=both_done):
            assert relay.run_once() == 2  # the real path: outbox → relay → broker → handler
    finally:
        relay.reset()
        relay.engine.dispose()

    statuses = dict(sql(db_url, "SELECT id, text_status FROM documents"))
    ocr = "unavailable" if shutil.which("tesseract") is None else "failed"  # the PNG has no pixels
    assert statuses == {text_doc["id"]: "extracted", image["id"]: ocr}
    [(event,)] = sql(db_url, "SELECT payload FROM outbox WHERE type = 'document_text_extracted'")
    assert event["case_id"] == text_doc["case_id"]
    assert event["data"] == {"document_id": text_doc["id"], "filename": "note.txt", "text": TEXT.decode()}
    # the uploader's principal travelled outbox → relay headers → handler → the next event
    assert event["actor"] == {"user_id": "agent-1", "roles": ["agent"]}
    assert event["correlation_id"] == "corr-agent-1"
