"""Payloads of the documents service's events (``data`` of the v1 envelope), and its RPC names.

Consumers must accept unknown fields; producers keep every field listed here.

``document_added`` (also for attachments unpacked from an email, with ``parent_id`` set)::

    {"id", "case_id", "group_id", "version", "parent_id", "filename", "media_type",
     "declared_type", "extension_mismatch", "kind", "channel", "tags", "size", "sha256",
     "uploaded_by", "text_status", "text_error", "legal_hold", "created_at"}

``document_text_extracted`` (search indexes ``text`` under the envelope's ``case_id``)::

    {"document_id", "filename", "text"}

``document_removed`` (the tombstone: the cases service records it on the case's timeline)::

    {"document_id", "case_id", "group_id", "version", "filename", "sha256", "size",
     "deleted_by", "deleted_at", "reason"}

The documents service consumes ``cases.case_opened``, ``case_updated``, ``case_closed``,
``case_reopened`` (visibility and retention clocks from ``data.case``) and ``case_merged``
(on the survivor's event, the source case's documents move to the survivor).
"""

from __future__ import annotations

DOCUMENT_FIELDS = (
    "id",
    "case_id",
    "group_id",
    "version",
    "parent_id",
    "filename",
    "media_type",
    "declared_type",
    "extension_mismatch",
    "kind",
    "channel",
    "tags",
    "size",
    "sha256",
    "uploaded_by",
    "text_status",
    "text_error",
    "legal_hold",
    "created_at",
)
TEXT_EXTRACTED_FIELDS = ("document_id", "filename", "text")
REMOVED_FIELDS = (
    "document_id",
    "case_id",
    "group_id",
    "version",
    "filename",
    "sha256",
    "size",
    "deleted_by",
    "deleted_at",
    "reason",
)
KINDS = (
    "scanned_post",
    "email",
    "web_form",
    "sms",
    "photo",
    "video",
    "fax",
    "call_record",
    "third_party",
    "other",
)
TEXT_STATUSES = ("pending", "extracted", "unsupported", "unavailable", "failed")
