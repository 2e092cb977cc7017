"""Blob stores behind one interface, content addressed by SHA-256.

An upload is staged first (``stage_write`` at an offset, so a retried part overwrites rather
than duplicates), then ``commit`` hashes the staged bytes and moves them to their content
address. A crash never leaves a partial blob under a content address, and the same bytes
uploaded twice share one blob. A blob that nothing points at (a crash between ``commit`` and
the database commit) is found by ``blobs()`` and removed by the sweep after a grace period;
``commit`` refreshes an existing blob's time so the sweep never removes a blob being reused.

``LocalBlobStore`` is here; ``S3BlobStore`` (the ``minio`` SDK) is in ``services.documents.s3``.
Both pass the contract suite in ``tests/integration/test_documents_store_contract.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


class BlobMissing(FileNotFoundError):
    """No blob is stored under that hash."""


class StoreError(RuntimeError):
    """The store failed (vendor errors are translated to this)."""


class StagingMissing(StoreError):
    """Fewer bytes are staged for an upload than it acknowledged (committed already, or lost)."""


class BlobStore(Protocol):
    def stage_write(self, upload_id: str, offset: int, data: bytes) -> None: ...
    def stage_size(self, upload_id: str) -> int: ...
    def stage_head(self, upload_id: str, n: int) -> bytes: ...
    def stage_discard(self, upload_id: str) -> None: ...
    def staged(self) -> Iterator[tuple[str, datetime]]: ...
    def commit(self, upload_id: str, size: int) -> tuple[str, int]: ...
    def exists(self, sha256: str) -> bool: ...
    def read(self, sha256: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]: ...
    def delete(self, sha256: str) -> None: ...
    def blobs(self) -> Iterator[tuple[str, datetime]]: ...
    def presign_get(self, sha256: str, *, filename: str, media_type: str, seconds: int) -> str | None: ...
    def presign_put(self, upload_id: str, *, seconds: int) -> str | None: ...


def check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA.match(sha256):
        raise BlobMissing(sha256)
    return sha256


def check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise ValueError("bad upload id")
    return upload_id


def put_bytes(store: BlobStore, upload_id: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Stage ``chunks`` under ``upload_id`` and commit them (for blobs made by the service)."""
    offset = 0
    for chunk in chunks:
        store.stage_write(upload_id, offset, chunk)
        offset += len(chunk)
    return store.commit(upload_id, offset)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalBlobStore:
    """Blobs under ``<root>/blobs/ab/cd/<sha256>``; uploads staged under ``<root>/staging``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.staging = self.root / "staging"
        self.blobs_dir = self.root / "blobs"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)

    def _stage_path(self, upload_id: str) -> Path:
        return self.staging / check_upload_id(upload_id)

    def blob_path(self, sha256: str) -> Path:
        sha = check_sha(sha256)
        return self.blobs_dir / sha[:2] / sha[2:4] / sha

    def stage_write(self, upload_id: str, offset: int, data: bytes) -> None:
        fd = os.open(self._stage_path(upload_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, data, offset)
            os.ftruncate(fd, offset + len(data))
        finally:
            os.close(fd)

    def stage_size(self, upload_id: str) -> int:
        path = self._stage_path(upload_id)
        return path.stat().st_size if path.exists() else 0

    def stage_head(self, upload_id: str, n: int) -> bytes:
        path = self._stage_path(upload_id)
        if not path.exists():
            return b""
        with open(path, "rb") as fh:
            return fh.read(n)

    def stage_discard(self, upload_id: str) -> None:
        self._stage_path(upload_id).unlink(missing_ok=True)

    def staged(self) -> Iterator[tuple[str, datetime]]:
        for path in self.staging.iterdir():
            if path.is_file() and _UPLOAD_ID.match(path.name):
                yield path.name, _mtime(path)

    def commit(self, upload_id: str, size: int) -> tuple[str, int]:
        staged = self._stage_path(upload_id)
        if not staged.exists() or staged.stat().st_size < size:
            raise StagingMissing(f"upload {upload_id} has fewer than {size} staged bytes")
        digest = hashlib.sha256()
        with open(staged, "r+b") as fh:
            fh.truncate(size)
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
            os.fsync(fh.fileno())
        sha = digest.hexdigest()
        target = self.blob_path(sha)
        if target.exists():
            os.utime(target)  # a reused blob is young again for the sweep
            staged.unlink()
            return sha, size
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        _fsync_dir(target.parent)
        return sha, size

    def exists(self, sha256: str) -> bool:
        return self.blob_path(sha256).exists()

    def read(self, sha256: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self.blob_path(sha256)
        try:
            fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        return self._iter(fh, offset, length)

    @staticmethod
    def _iter(fh: BinaryIO, offset: int, length: int | None) -> Iterator[bytes]:
        with fh:
            fh.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, sha256: str) -> None:
        self.blob_path(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        for path in self.blobs_dir.glob("*/*/*"):
            if _SHA.match(path.name):
                yield path.name, _mtime(path)

    def presign_get(self, sha256: str, *, filename: str, media_type: str, seconds: int) -> str | None:
        return None  # the local store serves bytes through the gateway only

    def presign_put(self, upload_id: str, *, seconds: int) -> str | None:
        return None

    def wipe(self) -> None:
        """Remove every blob and staged file (tests only)."""
        shutil.rmtree(self.root, ignore_errors=True)
