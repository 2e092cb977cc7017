"""The S3 blob store (MinIO or any S3) through the ``minio`` SDK.

Layout in the bucket:

- ``staging/<upload_id>/<offset:016d>``: one object per staged part (parts may land on any
  replica of the service; a retried part overwrites its own key). A presigned PUT writes the
  whole file as the part at offset 0.
- ``tmp/<upload_id>``: the staged parts concatenated while hashing, uploaded with multipart
  (``PART_SIZE``) when larger than one part.
- ``blobs/ab/cd/<sha256>``: the content address, a server-side copy of ``tmp/<upload_id>``.
  Copying again over an existing blob refreshes its time, so the sweep never removes a blob
  that a new upload is reusing.

Vendor errors are translated: a missing object is ``BlobMissing``, anything else ``StoreError``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import MinioException, S3Error

from services.documents.storage import (
    CHUNK,
    BlobMissing,
    StagingMissing,
    StoreError,
    check_sha,
    check_upload_id,
)

PART_SIZE = 16 * 1024 * 1024  # multipart above this size (S3's minimum part is 5 MiB)
MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket")


def client_from_settings(endpoint: str, access_key: str, secret_key: str, secure: bool | None) -> Minio:
    """A client for ``endpoint`` (``http://host:port`` or ``host:port``)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    if secure is None:
        secure = parts.scheme == "https"
    return Minio(
        parts.netloc, access_key=access_key, secret_key=secret_key, secure=secure, region="us-east-1"
    )


class _Concatenated:
    """A file-like ``read(n)`` over the staged parts, hashing as it goes, stopping at ``size``."""

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self.chunks, self.remaining = chunks, size
        self.buffer = b""
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self.remaining if n is None or n < 0 else min(n, self.remaining)
        while len(self.buffer) < want:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        out, self.buffer = self.buffer[:want], self.buffer[want:]
        self.remaining -= len(out)
        self.digest.update(out)
        return out


class S3BlobStore:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        try:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
        except MinioException as exc:
            raise StoreError(f"bucket {bucket}: {exc}") from exc

    # --- keys ---------------------------------------------------------------------------------

    @staticmethod
    def _stage_prefix(upload_id: str) -> str:
        return f"staging/{check_upload_id(upload_id)}/"

    @staticmethod
    def blob_key(sha256: str) -> str:
        sha = check_sha(sha256)
        return f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"

    def _parts(self, upload_id: str) -> list[tuple[int, str, int]]:
        """(offset, key, size) of the staged parts that form one contiguous run from 0."""
        found = []
        try:
            for obj in self.client.list_objects(self.bucket, prefix=self._stage_prefix(upload_id)):
                name = obj.object_name or ""
                tail = name.rsplit("/", 1)[-1]
                if tail.isdigit():
                    found.append((int(tail), name, int(obj.size or 0)))
        except MinioException as exc:
            raise StoreError(str(exc)) from exc
        run, end = [], 0
        for offset, key, size in sorted(found):
            if offset != end:
                break  # a gap: parts past it were never acknowledged
            run.append((offset, key, size))
            end += size
        return run

    def _get(self, key: str, offset: int = 0, length: int = 0) -> Any:
        try:
            return self.client.get_object(self.bucket, key, offset=offset, length=length)
        except S3Error as exc:
            if exc.code in MISSING:
                raise BlobMissing(key) from None
            if exc.code == "InvalidRange":
                return None
            raise StoreError(str(exc)) from exc
        except MinioException as exc:
            raise StoreError(str(exc)) from exc

    @staticmethod
    def _stream(response: Any) -> Iterator[bytes]:
        if response is None:
            return
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    # --- staging ------------------------------------------------------------------------------

    def stage_write(self, upload_id: str, offset: int, data: bytes) -> None:

        key = f"{self._stage_prefix(upload_id)}{offset:016d}"
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data))
        except MinioException as exc:
            raise StoreError(str(exc)) from exc

    def stage_size(self, upload_id: str) -> int:
        return sum(size for _, _, size in self._parts(upload_id))

    def stage_head(self, upload_id: str, n: int) -> bytes:
        out = b""
        for _, key, _size in self._parts(upload_id):
            if len(out) >= n:
                break
            out += b"".join(self._stream(self._get(key, 0, n - len(out))))
        return out[:n]

    def stage_discard(self, upload_id: str) -> None:
        prefix = self._stage_prefix(upload_id)
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix):
                self.client.remove_object(self.bucket, obj.object_name)
            self.client.remove_object(self.bucket, f"tmp/{check_upload_id(upload_id)}")
        except MinioException as exc:
            raise StoreError(str(exc)) from exc

    def staged(self) -> Iterator[tuple[str, datetime]]:
        newest: dict[str, datetime] = {}
        try:
            for prefix in ("staging/", "tmp/"):  # tmp/: a commit that died before cleaning up
                for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                    upload_id = (obj.object_name or "").split("/")[1]
                    when = obj.last_modified
                    if when is not None and (upload_id not in newest or when > newest[upload_id]):
                        newest[upload_id] = when
        except MinioException as exc:
            raise StoreError(str(exc)) from exc
        yield from newest.items()

    def commit(self, upload_id: str, size: int) -> tuple[str, int]:
        parts = self._parts(upload_id)
        if sum(s for _, _, s in parts) < size:
            raise StagingMissing(f"upload {upload_id} has fewer than {size} staged bytes")

        def chunks() -> Iterator[bytes]:
            for _, key, _size in parts:
                yield from self._stream(self._get(key))

        source = _Concatenated(chunks(), size)
        tmp = f"tmp/{check_upload_id(upload_id)}"
        try:
            self.client.put_object(
                self.bucket, tmp, source, size, part_size=PART_SIZE, num_parallel_uploads=1
            )
            sha = source.digest.hexdigest()
            self.client.copy_object(self.bucket, self.blob_key(sha), CopySource(self.bucket, tmp))
        except MinioException as exc:
            raise StoreError(str(exc)) from exc
        self.stage_discard(upload_id)
        return sha, size

    # --- blobs --------------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        try:
            self.client.stat_object(self.bucket, self.blob_key(sha256))
        except S3Error as exc:
            if exc.code in MISSING:
                return False
            raise StoreError(str(exc)) from exc
        except MinioException as exc:
            raise StoreError(str(exc)) from exc
        return True

    def read(self, sha256: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        key = self.blob_key(sha256)
        if length == 0:
            if not self.exists(sha256):
                raise BlobMissing(sha256)
            return iter(())
        return self._stream(self._get(key, offset, length or 0))

    def delete(self, sha256: str) -> None:
        try:
            self.client.remove_object(self.bucket, self.blob_key(sha256))
        except MinioException as exc:
            raise StoreError(str(exc)) from exc

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        try:
            for obj in self.client.list_objects(self.bucket, prefix="blobs/", recursive=True):
                name = (obj.object_name or "").rsplit("/", 1)[-1]
                if obj.last_modified is not None and len(name) == 64:
                    yield name, obj.last_modified
        except MinioException as exc:
            raise StoreError(str(exc)) from exc

    def presign_get(self, sha256: str, *, filename: str, media_type: str, seconds: int) -> str | None:
        headers = {
            "response-content-type": media_type,
            "response-content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        }
        return self.client.get_presigned_url(
            "GET", self.bucket, self.blob_key(sha256), timedelta(seconds=seconds), response_headers=headers
        )

    def presign_put(self, upload_id: str, *, seconds: int) -> str | None:
        key = f"{self._stage_prefix(upload_id)}{0:016d}"
        return self.client.presigned_put_object(self.bucket, key, timedelta(seconds=seconds))
