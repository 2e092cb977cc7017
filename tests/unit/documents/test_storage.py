"""What only the local store does (the shared contract is tested in test_documents_store_contract.py)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.documents import storage
from services.documents.storage import BlobMissing, LocalBlobStore, StoreError, put_bytes

UPLOAD = "0b7c6a2e-4f7e-4c59-9d0c-1d2b3c4d5e6f"


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "docs")


def test_blobs_live_at_their_content_address_and_staging_empties(store: LocalBlobStore) -> None:
    sha, size = put_bytes(store, UPLOAD, [b"the letter ", b"from the council"])
    assert sha == hashlib.sha256(b"the letter from the council").hexdigest() and size == 27
    assert store.blob_path(sha) == store.root / "blobs" / sha[:2] / sha[2:4] / sha
    assert store.blob_path(sha).read_bytes() == b"the letter from the council"
    assert list(store.staging.iterdir()) == []


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
        sha, _ = put_bytes(store, UPLOAD, [data])
        chunks = list(store.read(sha, offset, length))
    end = None if length is None else offset + length
    assert b"".join(chunks) == data[offset:end]
    assert all(0 < len(c) <= 7 for c in chunks)


@pytest.mark.parametrize(
    "bad", ["", "abc", "../" * 21 + "x", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../../" + "0" * 58]
)
def test_bad_hashes_are_rejected(store: LocalBlobStore, bad: str) -> None:
    with pytest.raises(BlobMissing):
        store.read(bad)
    with pytest.raises(BlobMissing):
        store.exists(bad)
    with pytest.raises(BlobMissing):
        store.delete(bad)


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "..", "id with space", "x\x00y"])
def test_bad_upload_ids_never_touch_the_filesystem(store: LocalBlobStore, bad: str, tmp_path: Path) -> None:
    for call in (lambda: store.stage_write(bad, 0, b"x"), lambda: store.stage_size(bad)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        store.commit(bad, 1)
    assert not (tmp_path / "escape").exists()


def test_commit_without_staged_bytes_is_a_store_error(store: LocalBlobStore) -> None:
    with pytest.raises(StoreError):
        store.commit(UPLOAD, 1)


def test_blobs_survive_a_new_store_object_on_the_same_root(store: LocalBlobStore) -> None:
    sha, _ = put_bytes(store, UPLOAD, [b"durable"])
    assert b"".join(LocalBlobStore(store.root).read(sha)) == b"durable"


def test_the_local_store_has_no_presigned_urls(store: LocalBlobStore) -> None:
    sha, _ = put_bytes(store, UPLOAD, [b"x"])
    assert store.presign_get(sha, filename="x", media_type="text/plain", seconds=5) is None
    assert store.presign_put(UPLOAD, seconds=5) is None
