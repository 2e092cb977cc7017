"""The gateway's streaming multipart reader: the file part's bytes in order, other parts skipped,
malformed bodies 422, and the byte count enforced while reading."""

from __future__ import annotations

import io

import pytest

from gateway.errors import HttpProblem
from gateway.routes.document_stream import CountedStream, MultipartFile, chunks


def body(*parts: tuple[str, str | None, bytes], boundary: str = "XyZ") -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += b"Content-Type: application/pdf\r\n\r\n" if filename else b"\r\n"
        out += data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


class Trickle(io.BytesIO):
    """A stream that hands out at most 7 bytes per read, like a slow network."""

    def read(self, n: int = -1) -> bytes:
        return super().read(min(7, n if n >= 0 else 7))


def read_file(raw: bytes, limit: int = 10_000, stream: type = io.BytesIO) -> tuple[MultipartFile, bytes]:
    part = MultipartFile(CountedStream(stream(raw), limit), b"XyZ").open()
    return part, b"".join(chunks(part, 5))


def test_the_file_part_streams_through_with_its_claimed_name_and_type() -> None:
    data = bytes(range(256)) * 10 + b"\r\n--XyZ-not-a-boundary"
    raw = body(("note", None, b"a field"), ("file", "../a.pdf", data), ("after", None, b"x"))
    part, got = read_file(raw)
    assert got == data and (part.filename, part.content_type) == ("../a.pdf", "application/pdf")


def test_a_trickling_body_gives_the_same_bytes() -> None:
    data = b"0123456789" * 300
    assert read_file(body(("file", "a.txt", data)), stream=Trickle)[1] == data


def test_an_empty_file_part_reads_as_nothing() -> None:
    assert read_file(body(("file", "a.txt", b"")))[1] == b""


def test_no_file_part_is_422() -> None:
    with pytest.raises(HttpProblem) as missing:
        read_file(body(("other", "x.txt", b"x")))
    assert missing.value.status == 422


def test_a_truncated_body_is_422() -> None:
    raw = body(("file", "a.txt", b"x" * 100))[:-40]
    with pytest.raises(HttpProblem) as truncated:
        read_file(raw)
    assert truncated.value.status == 422


def test_the_limit_is_enforced_while_reading() -> None:
    with pytest.raises(HttpProblem) as too_big:
        read_file(body(("file", "a.bin", b"z" * 5000)), limit=1000)
    assert too_big.value.status == 413


def test_chunks_are_full_sized_until_the_last() -> None:
    sizes = [len(c) for c in chunks(CountedStream(io.BytesIO(b"a" * 23), 100), 5)]
    assert sizes == [5, 5, 5, 5, 3]
