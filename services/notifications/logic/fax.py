"""Faxes arrive as PDF or TIFF (by webhook or fax-to-email); each is stored as a PDF of kind fax."""

from __future__ import annotations

import io
import logging

import img2pdf
from PIL import Image

from services.notifications.logic.ingest import Document

log = logging.getLogger(__name__)
MAX_PAGES = 500
Image.MAX_IMAGE_PIXELS = 80_000_000  # a fax page is ~4 Mpx; refuse decompression bombs


def is_pdf(data: bytes) -> bool:
    return data[:5] == b"%PDF-"


def is_tiff(data: bytes) -> bool:
    return data[:4] in (b"II*\x00", b"MM\x00*")


def tiff_to_pdf(data: bytes) -> bytes:
    """Every page of a (multi-page) TIFF into one PDF. img2pdf embeds CCITT G4 losslessly;
    anything it refuses is re-encoded page by page through Pillow."""
    try:
        return img2pdf.convert(data)
    except Exception as exc:  # noqa: BLE001 - e.g. an unusual compression: fall back to Pillow
        log.info("img2pdf refused the TIFF; converting through Pillow", extra={"error": repr(exc)})
    pages = []
    with Image.open(io.BytesIO(data)) as image:
        for index in range(min(getattr(image, "n_frames", 1), MAX_PAGES)):
            image.seek(index)
            buffer = io.BytesIO()
            image.convert("L").save(buffer, format="PNG")
            pages.append(buffer.getvalue())
    return img2pdf.convert(pages)


def to_pdf_documents(docs: list[Document]) -> list[Document]:
    """Fax pages as PDF documents of kind fax; whatever cannot be converted is kept as it came."""
    out: list[Document] = []
    for doc in docs:
        if is_pdf(doc.data):
            out.append(Document(doc.filename, "fax", doc.data, "application/pdf"))
        elif is_tiff(doc.data):
            try:
                pdf = tiff_to_pdf(doc.data)
            except Exception as exc:  # noqa: BLE001 - never lose the fax: keep the TIFF
                log.warning("fax TIFF could not be converted; kept as TIFF", extra={"error": repr(exc)})
                out.append(Document(doc.filename, "fax", doc.data, "image/tiff"))
                continue
            name = doc.filename.rsplit(".", 1)[0] + ".pdf"
            out.append(Document(name, "fax", pdf, "application/pdf"))
        else:
            out.append(doc)
    return out
