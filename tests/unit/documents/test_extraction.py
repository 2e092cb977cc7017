"""Text extraction for every listed format, and hostile files that must fail in bounded, plain ways."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.documents.extraction import Limits, run_extractor
from services.documents.extractor import OCR_UNAVAILABLE, extract
from services.documents.logic import detect, extension_mismatch


def run(tmp_path: Path, data: bytes, media_type: str) -> dict:
    path = tmp_path / "input"
    path.write_bytes(data)
    return extract(path, media_type, tmp_path)


def minimal_pdf(text: str, ops: bytes | None = None) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(300, 300)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(ops or f"BT /F1 12 Tf 20 200 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_text(tmp_path: Path) -> None:
    result = run(tmp_path, minimal_pdf("Radiator leaking since May"), "application/pdf")
    assert result["status"] == "extracted" and "Radiator leaking" in result["text"]


def test_html_text_drops_scripts_and_tags(tmp_path: Path) -> None:
    html = b"<html><head><script>alert('x')</script></head><body><p>Boiler &amp; pipes</p></body></html>"
    result = run(tmp_path, html, "text/html")
    assert result["text"] == "Boiler & pipes"


def test_xml_text_and_billion_laughs_refused(tmp_path: Path) -> None:
    assert run(tmp_path, b"<?xml version='1.0'?><a><b>claim</b><c>42</c></a>", "application/xml")["text"] == (
        "claim 42"
    )
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>'
    result = run(tmp_path, bomb, "application/xml")
    assert result["status"] == "failed" and "XML refused" in result["error"]


def test_csv_and_plain_text(tmp_path: Path) -> None:
    assert run(tmp_path, b"name,amount\nAnn,120\n", "text/csv")["text"] == "name amount\nAnn 120"
    assert run(tmp_path, "caf\u00e9 bill".encode(), "text/plain")["text"] == "caf\u00e9 bill"


def test_email_body_and_attachments(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.org", "desk@example.org", "Gas bill"
    message.set_content("I was overcharged.")
    message.add_attachment(b"invoice text", maintype="text", subtype="plain", filename="../invoice.txt")
    result = run(tmp_path, message.as_bytes(), "message/rfc822")
    assert "Subject: Gas bill" in result["text"] and "overcharged" in result["text"]
    [attachment] = result["attachments"]
    assert attachment["filename"] == "../invoice.txt"
    assert Path(attachment["path"]).read_bytes() == b"invoice text"


def test_images_say_plainly_when_ocr_is_unavailable(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    result = run(tmp_path, png, "image/png")
    if shutil.which("tesseract") is None:
        assert result == {**result, "status": "unavailable", "error": OCR_UNAVAILABLE}
    else:
        assert result["status"] in ("extracted", "failed")


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_with_text_entries_is_read(tmp_path: Path) -> None:
    result = run(tmp_path, zip_of({"notes/a.txt": b"meter reading 1234"}), "application/zip")
    assert "meter reading 1234" in result["text"]


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    bomb = zip_of({"zeros.bin": b"\x00" * (20 * 1024 * 1024)})  # ratio ~1000
    result = run(tmp_path, bomb, "application/zip")
    assert result["status"] == "failed" and "compression ratio" in result["error"]


def test_deeply_nested_zips_are_refused(tmp_path: Path) -> None:
    inner = zip_of({"a.txt": b"x"})
    for level in range(4):
        inner = zip_of({f"level{level}.zip": inner})
    result = run(tmp_path, inner, "application/zip")
    assert result["status"] == "failed" and "nested deeper" in result["error"]


def test_a_zip_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    result = run(tmp_path, zip_of({f"{i}.txt": b"" for i in range(1001)}), "application/zip")
    assert result["status"] == "failed" and "entries" in result["error"]


def test_a_broken_pdf_fails_plainly(tmp_path: Path) -> None:
    result = run(tmp_path, b"%PDF-1.7\n garbage without objects", "application/pdf")
    assert result["status"] in ("failed", "extracted")
    assert result["status"] == "extracted" or result["error"]


def test_the_child_process_reports_its_result(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"hello from the child")
    outcome = run_extractor(path, "text/plain", tmp_path, Limits())
    assert (outcome.status, outcome.text) == ("extracted", "hello from the child")


def test_a_pdf_that_spins_the_extractor_is_stopped_by_its_cpu_limit(tmp_path: Path) -> None:
    path = tmp_path / "spin.pdf"
    path.write_bytes(minimal_pdf("", b"BT /F1 12 Tf " + b"(xy) Tj 0 -1 Td " * 1_000_000 + b"ET"))
    outcome = run_extractor(path, "application/pdf", tmp_path, Limits(cpu_seconds=1, wall_seconds=3))
    assert outcome.status == "failed"
    assert "limit" in outcome.error or "longer than" in outcome.error


def test_a_parser_that_eats_memory_is_stopped_by_its_memory_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * (8 * 1024 * 1024))
    outcome = run_extractor(path, "text/plain", tmp_path, Limits(memory_bytes=16 * 1024 * 1024))
    assert outcome.status == "failed" and outcome.error


@pytest.mark.parametrize(
    ("head", "name", "media_type"),
    [
        (b"<!DOCTYPE html><html><body>x</body></html>", "a.pdf", "text/html"),
        (b"<?xml version='1.0'?><claim/>", "a.xml", "application/xml"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>", "a.svg", "image/svg+xml"),
        (b"From: ann@example.org\nTo: desk@example.org\nSubject: hi\n\nbody", "mail", "message/rfc822"),
        (b"a,b\n1,2\n", "data.csv", "text/csv"),
        (b"just words", "notes.csv.txt", "text/plain"),
    ],
)
def test_text_formats_are_told_apart_by_their_bytes(head: bytes, name: str, media_type: str) -> None:
    assert detect(head, name) == media_type


@pytest.mark.parametrize(
    ("name", "media_type", "mismatch"),
    [
        ("invoice.pdf", "text/html", True),
        ("photo.jpg", "image/png", True),
        ("letter.txt", "text/csv", False),
        ("scan.pdf", "application/pdf", False),
        ("noextension", "image/png", False),
    ],
)
def test_extension_mismatch(name: str, media_type: str, mismatch: bool) -> None:
    assert extension_mismatch(name, media_type) is mismatch


def test_outcome_json_is_plain() -> None:
    json.dumps(Limits().__dict__)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="the tesseract OCR engine is not installed")
def test_ocr_reads_a_scanned_page_when_the_engine_is_installed(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (900, 200), 255)
    font = ImageFont.load_default(size=48)
    ImageDraw.Draw(image).text((20, 60), "METER READING 4711", fill=0, font=font)
    path = tmp_path / "scan.png"
    image.save(path)
    result = extract(path, "image/png", tmp_path)
    assert result["status"] == "extracted" and "4711" in result["text"]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="the tesseract OCR engine is not installed")
def test_a_pixel_bomb_image_fails_plainly(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "huge.png"
    Image.new("1", (50_000, 50_000)).save(path)  # 2.5 gigapixels, a few hundred KB on disk
    result = extract(path, "image/png", tmp_path)
    assert result["status"] == "failed" and "DecompressionBomb" in result["error"]
