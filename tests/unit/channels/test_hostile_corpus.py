"""Every message of the hostile corpus parses without an exception, keeps its valid parts, and
every refusal or containment is explained in ``problems`` (or ``auto``/``loop``)."""

from __future__ import annotations

import pytest

from services.notifications.logic import email_in
from services.notifications.logic.ingest import email_provider_id, from_email
from tests.unit.channels import corpus

CORPUS = list(corpus.cases())


@pytest.mark.parametrize(("name", "raw"), CORPUS, ids=[n for n, _ in CORPUS])
def test_no_message_crashes_the_parser_and_the_raw_copy_is_kept(name: str, raw: bytes) -> None:
    assert name
    parsed = email_in.parse(raw, our_domain="casework.test")
    item = from_email(parsed)
    assert item.documents[0].kind == "email"
    assert len(item.documents[0].data) >= len(raw) - 200  # the whole message is on file
    assert item.provider_id
    item.intake_item()  # builds without error


def by_name(name: str) -> email_in.ParsedEmail:
    return email_in.parse(dict(CORPUS)[name], our_domain="casework.test")


def test_a_plain_message_is_read_fully() -> None:
    parsed = by_name("plain")
    assert (parsed.from_addr, parsed.from_name, parsed.subject) == ("ann@example.org", "Ann Smith", "Hello")
    assert parsed.text.strip() == "Body text"
    assert parsed.message_id == "<m1@example.org>"
    assert not parsed.verified and parsed.auto is None and parsed.loop is None


def test_unknown_charset_and_broken_encodings_still_yield_text() -> None:
    assert "body" in by_name("unknown charset").text.lower()
    assert by_name("broken base64").problems or by_name("broken base64").text is not None
    assert "J" in by_name("raw 8-bit headers").from_name or by_name("raw 8-bit headers").from_addr


def test_forged_authentication_results_are_renamed_and_the_sender_is_unverified() -> None:
    parsed = by_name("forged Authentication-Results")
    assert not parsed.verified
    assert b"\nAuthentication-Results:" not in parsed.raw
    assert b"X-Casework-Untrusted-Authentication-Results:" in parsed.raw
    assert any("Authentication-Results" in p for p in parsed.problems)


def test_our_own_authserv_id_verifies_only_the_topmost_header() -> None:
    raw = (
        b"Authentication-Results: mx.casework.test; dmarc=pass header.from=example.org\r\n"
        b"Authentication-Results: mx.casework.test; dmarc=fail\r\n" + corpus.plain()
    )
    parsed = email_in.parse(raw, trusted_authserv=("mx.casework.test",))
    assert parsed.verified
    assert parsed.raw.count(b"X-Casework-Untrusted-Authentication-Results:") == 1
    failing = email_in.parse(
        b"Authentication-Results: mx.casework.test; dmarc=fail\r\n" + corpus.plain(),
        trusted_authserv=("mx.casework.test",),
    )
    assert not failing.verified


@pytest.mark.parametrize("name", ["auto-reply", "bulk precedence", "bounce from mailer-daemon"])
def test_automatic_mail_is_taken_in_but_never_answered(name: str) -> None:
    parsed = by_name(name)
    assert parsed.auto
    assert not from_email(parsed).may_acknowledge


def test_our_own_message_coming_back_is_a_loop() -> None:
    raw = corpus.plain(message_id="<abc@casework.test>")
    assert "ours" in (email_in.parse(raw, our_domain="casework.test").loop or "")
    hops = b"".join(b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n" for _ in range(50))
    assert "Received" in (email_in.parse(hops + corpus.plain()).loop or "")


def test_too_many_attachments_keep_the_first_fifty_and_say_so() -> None:
    parsed = by_name("many attachments")
    assert len(parsed.attachments) == email_in.MAX_ATTACHMENTS
    assert any("more than" in p for p in parsed.problems)
    assert parsed.text.strip() == "see attached"


def test_a_huge_attachment_is_kept_only_in_the_raw_message() -> None:
    parsed = by_name("huge attachment")
    assert parsed.attachments == []
    assert any("limit" in p for p in parsed.problems)


def test_deep_nesting_is_cut_at_the_limit_and_explained() -> None:
    shallow = email_in.parse(corpus.nested(5))
    assert shallow.text.strip() == "the bottom"
    for name in ("deep nesting", "very deep nesting"):
        parsed = by_name(name)
        assert any("nesting" in p or "deep" in p for p in parsed.problems), name


def test_html_only_bodies_become_text_without_scripts() -> None:
    parsed = by_name("html only with script")
    assert "Hello there" in parsed.timeline_text and "alert" not in parsed.timeline_text


def test_attachment_names_cannot_climb_directories() -> None:
    parsed = by_name("attachment with path traversal name")
    assert [a.filename for a in parsed.attachments] == ["_.._etc_passwd"]
    assert parsed.text.strip() == "body"


def test_an_unterminated_multipart_keeps_its_text() -> None:
    assert "still here" in by_name("unterminated multipart").text


def test_provider_id_changes_with_the_content_not_only_the_message_id() -> None:
    a = email_in.parse(corpus.plain(body="one"))
    b = email_in.parse(corpus.plain(body="two"))
    assert a.message_id == b.message_id
    assert email_provider_id(a) != email_provider_id(b)
    relayed = email_in.parse(b"Received: from relay\r\n" + corpus.plain(body="one"))
    assert email_provider_id(relayed) == email_provider_id(a)


def test_quotes_and_signatures_are_stripped_for_the_timeline() -> None:
    text = "Thanks, that works.\n\nOn Mon, 1 Jan 2024, Casework wrote:\n> old text\n"
    assert email_in.strip_quotes(text) == "Thanks, that works."
    assert email_in.strip_quotes("New bit\n> quoted\nmore\n-- \nAnn\nPhone 123") == "New bit\nmore"
    assert email_in.strip_quotes("> only a quote") == "> only a quote"
