"""Filenames made safe, and media types from content (never from the client's claim)."""

from __future__ import annotations

import re

import filetype
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.documents.logic import sanitize_filename, sniff

SAFE = re.compile(r"^[A-Za-z0-9._ -]{1,128}$")

names = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=st.sampled_from("./\\ \x00\u202e.-_aZ9é\u2025\uff0f\ufdfa"), max_size=300),
    st.none(),
)


@given(names)
@example("../../etc/passwd")
@example("\u2025\u2025/\u2025")
@example("\ufdfa" * 20)
def test_sanitized_name_only_uses_safe_characters(name: str | None) -> None:
    assert SAFE.match(sanitize_filename(name))


@given(names)
def test_sanitized_name_never_starts_with_a_dot_or_space(name: str | None) -> None:
    assert sanitize_filename(name)[0] not in ". "


@given(names)
def test_sanitized_name_has_no_path_separators(name: str | None) -> None:
    out = sanitize_filename(name)
    assert "/" not in out and "\\" not in out and out not in (".", "..")


@given(names)
def test_sanitizing_is_idempotent(name: str | None) -> None:
    once = sanitize_filename(name)
    assert sanitize_filename(once) == once


@given(st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._ -]{0,126}[A-Za-z0-9_-]", fullmatch=True))
def test_an_already_safe_name_is_kept(name: str) -> None:
    assert sanitize_filename(name) == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("letter\x00.txt", "letter.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("...hidden", "hidden"),
        ("  spaced out.txt  ", "spaced out.txt"),
        ("café menu.txt", "caf_ menu.txt"),
        ("ﬁle.txt", "file.txt"),
        ("dir/", "file"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
    ],
)
def test_hostile_and_odd_names(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_a_long_name_is_cut_to_128_keeping_its_end() -> None:
    out = sanitize_filename("a" * 996 + ".pdf")

    assert len(out) == 128
    assert out.endswith(".pdf")


def test_a_long_name_cut_at_a_dot_does_not_start_with_it() -> None:
    out = sanitize_filename("x" * 500 + "." * 10 + "y" * 120)

    assert not out.startswith(".")
    assert SAFE.match(out)


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


@pytest.mark.parametrize(
    ("head", "media_type"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")],
)
def test_magic_bytes_give_the_type(head: bytes, media_type: str) -> None:
    assert sniff(head) == media_type


def test_utf8_text_is_text_plain() -> None:
    assert sniff("Dear council,\nthe boiler in flat 3 — again — is broken. ✓\n".encode()) == "text/plain"


def test_html_bytes_are_not_pdf_whatever_the_name_says() -> None:
    # the upload claimed "invoice.pdf"; sniff never sees the claim, only the bytes
    assert sniff(b"<!doctype html><html><script>alert(1)</script></html>") != "application/pdf"


def test_text_cut_in_the_middle_of_a_multibyte_character_is_still_text() -> None:
    data = ("x" * 8190 + "€").encode()  # € is 3 bytes: the 8192-byte sample cuts it
    assert sniff(data[:8192]) == "text/plain"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")), st.data())
def test_any_utf8_text_cut_anywhere_is_text(text: str, data: st.DataObject) -> None:
    raw = text.encode()
    cut = data.draw(st.integers(min_value=1, max_value=max(1, len(raw))))
    head = raw[:cut]
    if not head:
        return
    assert sniff(head) in ("text/plain", *_magic_type(head))


def _magic_type(head: bytes) -> tuple[str, ...]:
    kind = filetype.guess(head)
    return (kind.mime,) if kind else ()


def test_binary_with_nul_bytes_is_octet_stream() -> None:
    assert sniff(b"\x01\x02\x00\x00\x07binary\x00blob") == "application/octet-stream"


def test_invalid_utf8_early_in_the_sample_is_octet_stream() -> None:
    assert sniff(b"\x80\x81\x82 not text at all, just some bytes after") == "application/octet-stream"


def test_a_byte_that_never_occurs_in_utf8_at_the_end_is_not_text() -> None:
    # 0xFF can never start or continue a UTF-8 character, so this is not a cut character
    assert sniff(b"payload\xff") == "application/octet-stream"


def test_empty_head_is_octet_stream() -> None:
    assert sniff(b"") == "application/octet-stream"
