"""The local content-addressed blob store, on a real temporary directory."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.documents import storage
from services.documents.storage import BlobMissing, LocalBlobStore

UPLOAD = "0b7c6a2e-4f7e-4c59-9d0c-1d2b3c4d5e6f"
OTHER = "9f1e2d3c-4b5a-4697-8877-665544332211"


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "docs")


def put(store: LocalBlobStore, data: bytes, upload_id: str = UPLOAD) -> str:
    store.stage_append(upload_id, data)
    sha, _ = store.commit(upload_id)
    return sha


def test_stage_append_returns_the_growing_size(store: LocalBlobStore) -> None:
    assert store.stage_append(UPLOAD, b"hello ") == 6
    assert store.stage_append(UPLOAD, b"world") == 11
    assert store.stage_size(UPLOAD) == 11


def test_stage_head_returns_the_first_bytes(store: LocalBlobStore) -> None:
    store.stage_append(UPLOAD, b"%PDF-1.7")
    store.stage_append(UPLOAD, b" rest of file")

    assert store.stage_head(UPLOAD, 4) == b"%PDF"
    assert store.stage_head(UPLOAD, 1000) == b"%PDF-1.7 rest of file"


def test_an_unknown_upload_has_size_zero_and_an_empty_head(store: LocalBlobStore) -> None:
    assert store.stage_size(OTHER) == 0
    assert store.stage_head(OTHER, 10) == b""


def test_discard_removes_the_staged_bytes(store: LocalBlobStore) -> None:
    store.stage_append(UPLOAD, b"abc")
    store.stage_discard(UPLOAD)

    assert store.stage_size(UPLOAD) == 0
    store.stage_discard(UPLOAD)  # discarding twice is fine


def test_uploads_are_staged_separately(store: LocalBlobStore) -> None:
    store.stage_append(UPLOAD, b"one")
    store.stage_append(OTHER, b"other")

    assert store.stage_head(UPLOAD, 10) == b"one"
    assert store.stage_head(OTHER, 10) == b"other"


def test_commit_moves_the_bytes_to_their_content_address(store: LocalBlobStore) -> None:
    data = b"the letter from the council"
    store.stage_append(UPLOAD, data[:10])
    store.stage_append(UPLOAD, data[10:])

    sha, size = store.commit(UPLOAD)

    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.blob_path(sha) == store.root / "blobs" / sha[:2] / sha[2:4] / sha
    assert store.blob_path(sha).read_bytes() == data
    assert store.exists(sha)
    assert store.stage_size(UPLOAD) == 0
    assert list(store.staging.iterdir()) == []


def test_the_same_bytes_twice_share_one_blob(store: LocalBlobStore) -> None:
    first = put(store, b"same bytes", UPLOAD)
    second = put(store, b"same bytes", OTHER)

    assert first == second
    assert list(store.all_hashes()) == [first]
    assert list(store.staging.iterdir()) == []


def test_different_bytes_get_different_blobs(store: LocalBlobStore) -> None:
    hashes = {put(store, b"a", UPLOAD), put(store, b"b", OTHER)}

    assert set(store.all_hashes()) == hashes
    assert len(hashes) == 2


def test_read_returns_the_whole_blob(store: LocalBlobStore) -> None:
    sha = put(store, b"0123456789")

    assert b"".join(store.read(sha)) == b"0123456789"


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, 4, b"0123"),
        (5, None, b"56789"),
        (3, 2, b"34"),
        (8, 100, b"89"),
        (10, 5, b""),
        (20, None, b""),
        (2, 0, b""),
    ],
)
def test_ranged_reads(store: LocalBlobStore, offset: int, length: int | None, expected: bytes) -> None:
    sha = put(store, b"0123456789")

    assert b"".join(store.read(sha, offset, length)) == expected


@given(
    data=st.binary(max_size=64),
    offset=st.integers(min_value=0, max_value=80),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=80)),
)
def test_any_range_matches_slicing_across_chunk_boundaries(
    data: bytes, offset: int, length: int | None
) -> None:
    with tempfile.TemporaryDirectory() as root, mock.patch.object(storage, "CHUNK", 7):
        store = LocalBlobStore(root)
        sha = put(store, data)
        chunks = list(store.read(sha, offset, length))

    end = None if length is None else offset + length
    assert b"".join(chunks) == data[offset:end]
    assert all(0 < len(c) <= 7 for c in chunks)


def test_reading_a_missing_blob_raises_blob_missing(store: LocalBlobStore) -> None:
    with pytest.raises(BlobMissing):
        store.read(hashlib.sha256(b"never stored").hexdigest())


def test_blob_missing_is_a_file_not_found_error() -> None:
    assert issubclass(BlobMissing, FileNotFoundError)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "../" * 21 + "x", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../../" + "0" * 58],
)
def test_bad_hashes_are_rejected(store: LocalBlobStore, bad: str) -> None:
    with pytest.raises(BlobMissing):
        store.read(bad)
    with pytest.raises(BlobMissing):
        store.exists(bad)
    with pytest.raises(BlobMissing):
        store.delete(bad)


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "..", "id with space", "x\x00y"])
def test_bad_upload_ids_are_rejected(store: LocalBlobStore, bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        store.stage_append(bad, b"x")
    with pytest.raises(ValueError):
        store.stage_size(bad)
    with pytest.raises(ValueError):
        store.commit(bad)
    assert not (tmp_path / "escape").exists()


def test_delete_removes_the_blob(store: LocalBlobStore) -> None:
    sha = put(store, b"gone soon")
    store.delete(sha)

    assert not store.exists(sha)
    with pytest.raises(BlobMissing):
        store.read(sha)
    store.delete(sha)  # deleting twice is fine


def test_blobs_survive_a_new_store_object_on_the_same_root(store: LocalBlobStore) -> None:
    sha = put(store, b"durable")

    again = LocalBlobStore(store.root)

    assert b"".join(again.read(sha)) == b"durable"
