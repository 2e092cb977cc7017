"""Reading an upload as a stream: a raw body, or the ``file`` part of a multipart body.

Multipart bodies are decoded incrementally with werkzeug's sans-IO ``MultipartDecoder`` over
``request.stream``: the file part's bytes are handed on as they arrive, never spooled to a
temporary file or held whole in memory. Other parts are skipped (bounded in count and size).
Every byte read from the body is counted against the limit, so an oversized body ends in a 413
as soon as it crosses the limit, whatever its ``Content-Length`` said.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from gateway.errors import HttpProblem

READ = 64 * 1024
MAX_PARTS = 16
MAX_BUFFER = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers allowed beyond the file limit


def too_large(limit: int) -> HttpProblem:
    return HttpProblem(413, "PAYLOAD_TOO_LARGE", "Payload too large", f"the limit is {limit} bytes")


def invalid(detail: str, field: str = "file") -> HttpProblem:
    return HttpProblem(422, "INVALID_INPUT", "Invalid input", detail, [{"field": field, "message": detail}])


class CountedStream:
    """``read`` that raises 413 once more than ``limit`` bytes came through."""

    def __init__(self, raw: IO[bytes], limit: int, report: int | None = None) -> None:
        self.raw, self.limit, self.report, self.count = raw, limit, report or limit, 0

    def read(self, n: int) -> bytes:
        try:
            data = self.raw.read(n)
        except RequestEntityTooLarge:
            raise too_large(self.report) from None
        self.count += len(data)
        if self.count > self.limit:
            raise too_large(self.report)
        return data


class MultipartFile:
    """The ``file`` part of a multipart body, readable with ``read(n)``."""

    def __init__(self, stream: CountedStream, boundary: bytes) -> None:
        self.stream = stream
        self.decoder = MultipartDecoder(boundary, max_form_memory_size=MAX_BUFFER, max_parts=MAX_PARTS)
        self.buffer = bytearray()
        self.finished = False
        self.filename: str | None = None
        self.content_type: str | None = None

    def _event(self) -> object:
        while True:
            try:
                event = self.decoder.next_event()
            except ValueError as exc:  # a truncated or malformed body
                raise invalid(f"the multipart body is malformed: {exc}") from None
            except RequestEntityTooLarge:
                raise invalid("a multipart part header or field is too large") from None
            if not isinstance(event, NeedData):
                return event
            chunk = self.stream.read(READ)
            try:
                self.decoder.receive_data(chunk or None)
            except RequestEntityTooLarge:
                raise invalid("a multipart part header or field is too large") from None

    def open(self) -> MultipartFile:
        """Skip to the ``file`` part; 422 when there is none."""
        while True:
            event = self._event()
            if isinstance(event, File) and event.name == "file":
                self.filename = event.filename
                self.content_type = event.headers.get("Content-Type")
                return self
            if isinstance(event, Epilogue):
                raise invalid("multipart body needs a 'file' part")
            if isinstance(event, Field | File | Data):
                continue  # other parts are ignored (count-limited by the decoder)

    def read(self, n: int) -> bytes:
        while not self.finished and len(self.buffer) < n:
            event = self._event()
            if isinstance(event, Data):
                self.buffer += event.data
                if not event.more_data:
                    self.finished = True
            else:  # the next part or the end: the file part is over
                self.finished = True
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out


def chunks(source: CountedStream | MultipartFile, size: int) -> Iterator[bytes]:
    """Full ``size``-byte chunks (the last may be shorter) until the source is exhausted."""
    pending = bytearray()
    while True:
        data = source.read(READ if isinstance(source, MultipartFile) else min(READ * 4, size))
        if not data:
            break
        pending += data
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)
