"""One contract for every blob store: the local content-addressed store and S3 (moto's S3 server
on loopback, spoken to over real HTTP by the ``minio`` client)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from services.documents import s3 as s3mod
from services.documents.s3 import S3BlobStore, client_from_settings
from services.documents.storage import BlobMissing, BlobStore, LocalBlobStore, StagingMissing, put_bytes

pytestmark = pytest.mark.integration


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
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "docs")
    endpoint = request.getfixturevalue("s3_endpoint")
    client = client_from_settings(endpoint, "test", "test", None)
    return S3BlobStore(client, f"docs-{uuid.uuid4().hex[:12]}")


def new_id() -> str:
    return str(uuid.uuid4())


def put(store: BlobStore, data: bytes) -> str:
    return put_bytes(store, new_id(), [data])[0]


def test_staged_parts_commit_to_their_content_address(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"the letter ")
    store.stage_write(upload, 11, b"from the council")
    assert store.stage_size(upload) == 27
    assert store.stage_head(upload, 4) == b"the "
    sha, size = store.commit(upload, 27)
    assert (sha, size) == (hashlib.sha256(b"the letter from the council").hexdigest(), 27)
    assert store.exists(sha)
    assert b"".join(store.read(sha)) == b"the letter from the council"
    assert store.stage_size(upload) == 0
    assert [u for u, _ in store.staged()] == []


def test_a_retried_part_overwrites_instead_of_duplicating(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"abc")
    store.stage_write(upload, 3, b"def")
    store.stage_write(upload, 3, b"def")  # the gateway retried after a timeout
    sha, size = store.commit(upload, 6)
    assert size == 6 and b"".join(store.read(sha)) == b"abcdef"


def test_commit_takes_only_the_acknowledged_size(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"abc")
    store.stage_write(upload, 3, b"XYZ")  # written, but its database commit never happened
    sha, size = store.commit(upload, 3)
    assert (size, b"".join(store.read(sha))) == (3, b"abc")


def test_commit_refuses_fewer_bytes_than_promised(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"abc")
    with pytest.raises(StagingMissing):
        store.commit(upload, 10)


def test_the_same_bytes_twice_share_one_blob(store: BlobStore) -> None:
    first, second = put(store, b"same bytes"), put(store, b"same bytes")
    assert first == second
    assert [sha for sha, _ in store.blobs()] == [first]


def test_discard_forgets_the_staged_bytes(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"abc")
    assert [u for u, _ in store.staged()] == [upload]
    store.stage_discard(upload)
    store.stage_discard(upload)
    assert store.stage_size(upload) == 0 and store.stage_head(upload, 3) == b""
    assert list(store.staged()) == []


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [(0, 4, b"0123"), (5, None, b"56789"), (3, 2, b"34"), (8, 100, b"89"), (10, 5, b""), (2, 0, b"")],
)
def test_ranged_reads(store: BlobStore, offset: int, length: int | None, expected: bytes) -> None:
    sha = put(store, b"0123456789")
    assert b"".join(store.read(sha, offset, length)) == expected


def test_a_missing_blob_is_blob_missing(store: BlobStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(BlobMissing):
        b"".join(store.read(missing))
    with pytest.raises(BlobMissing):
        store.read("../../etc/passwd")


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "id with space", "x\x00y"])
def test_bad_upload_ids_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.stage_write(bad, 0, b"x")


def test_delete_and_list(store: BlobStore) -> None:
    keep, gone = put(store, b"keep"), put(store, b"gone")
    store.delete(gone)
    store.delete(gone)
    assert not store.exists(gone)
    listed = dict(store.blobs())
    assert set(listed) == {keep}
    assert abs(listed[keep] - datetime.now(UTC)) < timedelta(minutes=5)


def test_committing_existing_bytes_again_makes_the_blob_young(store: BlobStore) -> None:
    sha = put(store, b"reused")
    before = dict(store.blobs())[sha]
    if isinstance(store, LocalBlobStore):
        old = time.time() - 3600
        os.utime(store.blob_path(sha), (old, old))
        before = dict(store.blobs())[sha]
    else:
        time.sleep(1.1)  # S3 times have one-second resolution
    assert put(store, b"reused") == sha
    assert dict(store.blobs())[sha] > before


def test_a_large_file_goes_up_in_parts(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3mod, "PART_SIZE", 5 * 1024 * 1024)
    data = os.urandom(1024 * 1024) * 12  # 12 MiB: three S3 multipart parts
    upload, offset = new_id(), 0
    for i in range(0, len(data), 4 * 1024 * 1024):
        store.stage_write(upload, offset, data[i : i + 4 * 1024 * 1024])
        offset += len(data[i : i + 4 * 1024 * 1024])
    sha, size = store.commit(upload, len(data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert hashlib.sha256(b"".join(store.read(sha))).hexdigest() == sha
    assert (
        b"".join(store.read(sha, 5 * 1024 * 1024 - 2, 4)) == data[5 * 1024 * 1024 - 2 : 5 * 1024 * 1024 + 2]
    )


def test_presigned_urls_where_the_backend_has_them(store: BlobStore) -> None:
    sha = put(store, b"presigned bytes")
    url = store.presign_get(sha, filename="a b.txt", media_type="text/plain", seconds=60)
    upload = new_id()
    put_url = store.presign_put(upload, seconds=60)
    if isinstance(store, LocalBlobStore):
        assert url is None and put_url is None
        return
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.content == b"presigned bytes"
    assert got.headers["Content-Type"] == "text/plain"
    assert "a%20b.txt" in got.headers["Content-Disposition"]
    assert requests.put(put_url, data=b"sent directly", timeout=10).status_code == 200
    assert store.stage_size(upload) == 13
    sha2, _ = store.commit(upload, 13)
    assert b"".join(store.read(sha2)) == b"sent directly"


def test_a_commit_that_died_halfway_leaves_only_what_discard_removes(store: BlobStore) -> None:
    upload = new_id()
    store.stage_write(upload, 0, b"half committed")
    if isinstance(store, S3BlobStore):  # the concatenated copy was written, then the process died
        store.client.put_object(store.bucket, f"tmp/{upload}", io.BytesIO(b"half committed"), 14)
    assert [u for u, _ in store.staged()] == [upload]
    store.stage_discard(upload)
    assert list(store.staged()) == []
    if isinstance(store, S3BlobStore):
        assert list(store.client.list_objects(store.bucket, prefix="tmp/")) == []
