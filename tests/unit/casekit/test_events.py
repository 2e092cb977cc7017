"""The v1 event envelope: what producers build and what consumers accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from casekit.contracts import events as ev

ALL_PAIRS = [(producer, type_) for producer, types in ev.PRODUCERS.items() for type_ in types]


def test_make_envelope_fills_every_field() -> None:
    at = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    env = ev.make_envelope(
        producer="cases",
        type=ev.CASE_OPENED,
        data={"title": "Boiler"},
        case_id="c-1",
        case_version=3,
        actor={"user_id": "u-1", "roles": ["agent"]},
        correlation_id="corr-1",
        event_id="evt-1",
        occurred_at=at,
    )

    assert env == {
        "id": "evt-1",
        "type": "case_opened",
        "v": 1,
        "occurred_at": "2024-05-01T12:30:00+00:00",
        "producer": "cases",
        "case_id": "c-1",
        "case_version": 3,
        "actor": {"user_id": "u-1", "roles": ["agent"]},
        "correlation_id": "corr-1",
        "data": {"title": "Boiler"},
    }


def test_make_envelope_defaults_id_time_and_actor() -> None:
    first = ev.make_envelope(producer="documents", type=ev.DOCUMENT_ADDED, data={})
    second = ev.make_envelope(producer="documents", type=ev.DOCUMENT_ADDED, data={})

    assert first["id"] != second["id"]
    assert datetime.fromisoformat(first["occurred_at"]).tzinfo is not None
    assert first["actor"] == {"user_id": None, "roles": []}
    assert set(first) == {
        "id",
        "type",
        "v",
        "occurred_at",
        "producer",
        "case_id",
        "case_version",
        "actor",
        "correlation_id",
        "data",
    }


@pytest.mark.parametrize(("producer", "type_"), ALL_PAIRS)
def test_every_owned_event_survives_json_and_the_consumer_check(producer: str, type_: str) -> None:
    env = ev.make_envelope(producer=producer, type=type_, data={"k": 1}, case_id="c")

    assert ev.check_envelope(json.loads(json.dumps(env))) == env


def test_each_event_type_has_exactly_one_producer() -> None:
    types = [type_ for _, type_ in ALL_PAIRS]
    assert len(types) == len(set(types))


@pytest.mark.parametrize(
    ("producer", "type_"),
    [("cases", ev.DOCUMENT_ADDED), ("documents", ev.CASE_OPENED), ("search", ev.CASE_OPENED)],
)
def test_make_envelope_refuses_an_event_the_producer_does_not_own(producer: str, type_: str) -> None:
    with pytest.raises(ev.EnvelopeError, match=type_):
        ev.make_envelope(producer=producer, type=type_, data={})


def good() -> dict:
    return ev.make_envelope(producer="cases", type=ev.NOTE_ADDED, data={"note": "hi"})


def test_check_envelope_accepts_unknown_extra_fields() -> None:
    body = {**good(), "added_in_a_later_release": {"x": 1}, "trace": "abc"}

    assert ev.check_envelope(body) is body


@pytest.mark.parametrize("missing", ev.REQUIRED_FIELDS)
def test_check_envelope_rejects_a_missing_required_field(missing: str) -> None:
    body = good()
    del body[missing]

    with pytest.raises(ev.EnvelopeError, match=missing):
        ev.check_envelope(body)


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_check_envelope_rejects_another_version(version: object) -> None:
    with pytest.raises(ev.EnvelopeError, match="version"):
        ev.check_envelope({**good(), "v": version})


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_check_envelope_rejects_non_object_data(data: object) -> None:
    with pytest.raises(ev.EnvelopeError, match="data"):
        ev.check_envelope({**good(), "data": data})


@pytest.mark.parametrize("body", [None, [], "envelope", b"{}", 1])
def test_check_envelope_rejects_a_body_that_is_not_an_object(body: object) -> None:
    with pytest.raises(ev.EnvelopeError):
        ev.check_envelope(body)
