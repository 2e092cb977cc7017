"""Single byte ranges for document downloads (RFC 9110 section 14)."""

from __future__ import annotations

import pytest

from gateway.errors import HttpProblem
from gateway.routes.documents import _range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-19", 100, (10, 19)),
        ("bytes=-5", 100, (95, 99)),
        ("bytes=5-", 100, (5, 99)),
        ("bytes=0-0", 1, (0, 0)),
        ("bytes=90-200", 100, (90, 99)),
        ("bytes=-500", 100, (0, 99)),
        (" bytes=0-9 ", 100, (0, 9)),
    ],
)
def test_satisfiable_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    assert _range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=9-5", 100), ("bytes=-0", 100), ("bytes=0-", 0)],
)
def test_unsatisfiable_ranges_are_416_with_content_range(header: str, size: int) -> None:
    with pytest.raises(HttpProblem) as caught:
        _range(header, size)

    assert caught.value.status == 416
    assert caught.value.code == "RANGE_NOT_SATISFIABLE"
    assert caught.value.headers == {"Content-Range": f"bytes */{size}"}


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=", "bytes=-", "items=0-9", "bytes=0-9,20-29", "bytes=a-b", "bytes 0-9", "bytes=0x0-9"],
)
def test_malformed_or_absent_ranges_mean_the_whole_document(header: str | None) -> None:
    assert _range(header, 100) is None
