"""Blob stores behind one interface. The local store is content addressed by SHA-256.

Staging files hold uploads in progress; ``commit`` hashes a staged file and moves it
into place atomically (write, fsync, rename), so a crash never leaves a partial blob
under a content address. The same bytes uploaded twice share one blob.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class BlobMissing(FileNotFoundError):
    """No blob is stored under that hash."""


class BlobStore(Protocol):
    def stage_append(self, upload_id: str, data: bytes) -> int: ...
    def stage_size(self, upload_id: str) -> int: ...
    def stage_discard(self, upload_id: str) -> None: ...
    def stage_head(self, upload_id: str, n: int) -> bytes: ...
    def commit(self, upload_id: str) -> tuple[str, int]: ...
    def exists(self, sha256: str) -> bool: ...
    def read(self, sha256: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]: ...
    def delete(self, sha256: str) -> None: ...
    def all_hashes(self) -> Iterator[str]: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.staging = self.root / "staging"
        self.blobs = self.root / "blobs"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)

    def _stage_path(self, upload_id: str) -> Path:
        if not upload_id.replace("-", "").isalnum():
            raise ValueError("bad upload id")
        return self.staging / upload_id

    def blob_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise BlobMissing(sha256)
        return self.blobs / sha256[:2] / sha256[2:4] / sha256

    def stage_append(self, upload_id: str, data: bytes) -> int:
        path = self._stage_path(upload_id)
        with open(path, "ab") as fh:
            fh.write(data)
            return fh.tell()

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

    def commit(self, upload_id: str) -> tuple[str, int]:
        staged = self._stage_path(upload_id)
        digest = hashlib.sha256()
        size = 0
        with open(staged, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
            os.fsync(fh.fileno())
        sha = digest.hexdigest()
        target = self.blob_path(sha)
        if target.exists():
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

    def all_hashes(self) -> Iterator[str]:
        for path in self.blobs.glob("*/*/*"):
            yield path.name

    def wipe(self) -> None:
        """Remove every blob and staged file (tests only)."""
        shutil.rmtree(self.root, ignore_errors=True)
