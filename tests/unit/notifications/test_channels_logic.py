"""Pure parts of the channels: templates, intake pipeline with a fake bus, fax, webhooks, limits."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from casekit.errors import InvalidInput
from services.notifications.logic import email_in, fax, ingest, staff, templates, webhooks
from tests.unit.channels import corpus


class FakeBus:
    def __init__(self, acknowledge: bool = True, refuse_sender: bool = False) -> None:
        self.calls: list[tuple[str, str, tuple, dict]] = []
        self.acknowledge = acknowledge
        self.refuse_sender = refuse_sender
        self.uploads: dict[str, bytearray] = {}
        self.keys: dict[str, dict] = {}

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((service, method, args, kwargs))
        if (service, method) == ("cases", "intake"):
            if self.refuse_sender and args[0]["sender"].get("email"):
                raise InvalidInput.from_field("sender.email", "is not a valid email address")
            return {
                "case_id": "c1",
                "reference": "CMP-2026-000001",
                "created": True,
                "duplicate": False,
                "acknowledge": self.acknowledge,
            }
        if method == "begin_upload":
            key = kwargs["idempotency_key"]
            if key in self.keys:
                return {"upload_id": "x", "document": self.keys[key]}
            upload_id = f"u{len(self.uploads)}"
            self.uploads[upload_id] = bytearray()
            self.keys[key] = {"id": f"d-{upload_id}"}
            return {"upload_id": upload_id, "max_part": 4}
        if method == "upload_part":
            import base64

            self.uploads[args[0]] += base64.b64decode(args[2])
            return {}
        if method == "finish_upload":
            return {"id": f"d-{args[0]}"}
        return {"id": "m1"}

    def methods(self) -> list[str]:
        return [m for _, m, _, _ in self.calls]


def test_take_in_stores_raw_and_attachments_in_parts_and_acknowledges_once() -> None:
    parsed = email_in.parse(corpus.with_attachments(2, size=10))
    bus = FakeBus()
    result = ingest.take_in(bus, ingest.from_email(parsed))
    assert result["documents"] == ["d-u0"]  # the raw message; the documents service unpacks the rest
    assert bytes(bus.uploads["u0"]) == parsed.raw  # reassembled from 4-byte parts
    intake = next(c for c in bus.calls if c[1] == "intake")
    assert [a["filename"] for a in intake[3]["meta"]["attachments"]] == ["file0.bin", "file1.bin"]
    ack = [c for c in bus.calls if c[1] == "send_message"]
    assert len(ack) == 1 and ack[0][3]["idempotency_key"].startswith("ack:email:")
    again = ingest.take_in(bus, ingest.from_email(parsed))  # a redelivery: the same documents
    assert again["documents"] == result["documents"]


def test_automatic_mail_and_rate_limited_senders_get_no_acknowledgement() -> None:
    auto = email_in.parse(corpus.plain(Auto_Submitted="auto-replied"))
    bus = FakeBus()
    assert not ingest.take_in(bus, ingest.from_email(auto))["acknowledged"]
    limit = ingest.RateLimit(1, 3600)
    first = ingest.take_in(bus, ingest.from_email(email_in.parse(corpus.plain(body="a"))), ack_limit=limit)
    second = ingest.take_in(bus, ingest.from_email(email_in.parse(corpus.plain(body="b"))), ack_limit=limit)
    assert (first["acknowledged"], second["acknowledged"]) == (True, False)


def test_a_sender_address_intake_refuses_is_dropped_not_the_message() -> None:
    bus = FakeBus(refuse_sender=True)
    result = ingest.take_in(bus, ingest.from_email(email_in.parse(corpus.plain())))
    assert result["case_id"] == "c1" and not result["acknowledged"]
    intakes = [c for c in bus.calls if c[1] == "intake"]
    assert len(intakes) == 2 and "email" not in intakes[1][2][0]["sender"]


def test_rate_limit_counts_per_key() -> None:
    limit = ingest.RateLimit(2, 60)
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")] == [
        True,
        True,
        False,
        True,
    ]


def test_templates_render_sandboxed_with_autoescaped_html() -> None:
    variables = {**templates.SAMPLE, "customer": {"name": "<script>x</script>", "email": None, "phone": None}}
    out = templates.render(
        {
            "subject": "[{{ case.reference }}]\nBcc: evil",
            "text": "Hi {{ customer.name }}",
            "html": "<p>{{ customer.name }}</p>",
        },
        variables,
    )
    assert out["subject"] == "[CMP-2026-000001] Bcc: evil"  # no header injection
    assert out["text"] == "Hi <script>x</script>"
    assert out["html"] == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    for hostile in ("{{ case.__class__ }}", "{{ ''.__class__.__mro__ }}", "{{ nope }}", "{% for %}"):
        with pytest.raises(InvalidInput):
            templates.render({"text": hostile}, variables)


def test_file_templates_exist_for_the_acknowledgement() -> None:
    files = templates._from_files("acknowledgement", "en")
    assert files is not None and "{{ case.reference }}" in (files["subject"] or "")
    out = templates.render(dict(files.items()), templates.SAMPLE)
    assert "CMP-2026-000001" in out["subject"] and "CMP-2026-000001" in out["text"]


def tiff(pages: int) -> bytes:
    frames = [Image.new("1", (200, 100), color=1) for _ in range(pages)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", compression="group4", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def test_a_tiff_fax_becomes_one_pdf_of_kind_fax() -> None:
    data = tiff(3)
    (doc,) = fax.to_pdf_documents([ingest.Document("fax.tiff", "other", data)])
    assert (doc.kind, doc.filename, doc.data[:5]) == ("fax", "fax.pdf", b"%PDF-")
    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(doc.data)).pages) == 3
    (broken,) = fax.to_pdf_documents([ingest.Document("x.tiff", "other", b"II*\x00garbage")])
    assert (broken.kind, broken.data) == ("fax", b"II*\x00garbage")  # kept as it came


def test_sms_and_fax_webhooks_normalise_and_fetch_only_provider_media() -> None:
    fetched: list[str] = []

    def fetcher(url: str) -> bytes:
        fetched.append(url)
        return tiff(1)

    item = webhooks.sms(
        {"MessageSid": "SM" + "a" * 32, "From": "+447700900123", "To": "+441234", "Body": "hi"},
        fetcher=fetcher,
    )
    assert (item.channel, item.provider_id, item.sender_phone, item.body) == (
        "sms",
        "twilio:SM" + "a" * 32,
        "+447700900123",
        "hi",
    )
    faxed = webhooks.fax_in(
        {"FaxSid": "FX" + "b" * 32, "From": "+447700900124", "MediaUrl": "http://m/x"}, fetcher=fetcher
    )
    assert [d.kind for d in faxed.documents] == ["fax", "fax"] and faxed.documents[1].data[:5] == b"%PDF-"
    with pytest.raises(InvalidInput):
        webhooks.sms({"MessageSid": "bad", "From": "+44"}, fetcher=fetcher)
    with pytest.raises(InvalidInput):
        webhooks.fetch(
            "http://169.254.169.254/latest", prefixes=("https://api.twilio.com/",), auth=None, max_bytes=10
        )


def test_mentions_are_found_in_note_bodies() -> None:
    assert staff.MENTION.findall("ask @agent-1 and @sup.two, not mail@example.org") == ["agent-1", "sup.two"]


class FakeMailbox:
    """The part of imap-tools' MailBox the poller uses, over a dict of uid -> raw bytes."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.messages, self.seen, self.moved = messages, set(), []
        self.client = self

    def uids(self, criteria: Any) -> list[str]:
        return [u for u in self.messages if u not in self.seen]

    def uid(self, command: str, uid: str, what: str) -> tuple[str, list]:
        assert (command, what) == ("FETCH", "(BODY.PEEK[])")
        return "OK", [(b"1 (UID 1 BODY[] {3}", self.messages[uid]), b")"]

    def flag(self, uid: str, flag: Any, value: bool) -> None:
        self.seen.add(uid)

    def move(self, uid: str, folder: str) -> None:
        self.moved.append((uid, folder))


def test_the_imap_poller_flags_only_what_it_took_in() -> None:
    from services.notifications.adapters import imap_in

    config = {**imap_in.settings(), "domain": "casework.test", "done": "Done"}
    box = FakeMailbox(
        {
            "1": corpus.plain(body="first"),
            "2": corpus.plain(message_id="<x@casework.test>"),  # our own message came back: a loop
        }
    )
    bus = FakeBus()
    assert imap_in.Poller(bus, config).poll(box) == 2
    assert box.seen == {"1", "2"} and box.moved == [("1", "Done"), ("2", "Done")]
    assert [m for m in bus.methods() if m == "intake"] == ["intake"]  # the loop was not taken in

    failing = FakeMailbox({"3": corpus.plain(body="third")})

    class Down(FakeBus):
        def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("broker down")

    assert imap_in.Poller(Down(), config).poll(failing) == 0
    assert failing.seen == set()  # left unseen: retried on the next poll
