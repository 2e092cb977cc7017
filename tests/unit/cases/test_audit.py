"""The hash-chained audit trail: the hash rule and ``verify`` over in-memory entries."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from casekit.context import Principal
from services.cases import audit
from services.cases.models import AuditEntry

CASE = "3f1c9a2e-0d4b-4e5f-8a6b-7c8d9e0f1a2b"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def fields(**overrides: Any) -> dict[str, Any]:
    return {
        "case_id": CASE,
        "seq": 1,
        "at": T0.isoformat(),
        "actor_id": "u-1",
        "actor_roles": ["agent"],
        "action": "case_opened",
        "changes": {"title": "Boiler"},
        "correlation_id": "corr-1",
        **overrides,
    }


class FakeSession:
    """Just enough of a Session for ``audit.append`` and ``audit.verify`` on one case."""

    def __init__(self, entries: list[AuditEntry] | None = None) -> None:
        self.entries = entries or []

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def execute(self, _stmt: Any) -> Any:
        last = max(self.entries, key=lambda e: e.seq, default=None)
        return SimpleNamespace(first=lambda: last)

    def scalars(self, _stmt: Any) -> Any:
        return SimpleNamespace(all=lambda: sorted(self.entries, key=lambda e: e.seq))


def chain(n: int) -> list[AuditEntry]:
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        e = AuditEntry(
            case_id=CASE,
            seq=seq,
            at=T0 + timedelta(minutes=seq),
            actor_id=f"u-{seq}",
            actor_roles=["agent"],
            action="note_added",
            changes={"note": f"note {seq}"},
            correlation_id=f"corr-{seq}",
            prev_hash=prev,
        )
        e.hash = audit.chain_hash(audit.entry_fields(e), prev)
        entries.append(e)
        prev = e.hash
    return entries


def verify(entries: list[AuditEntry]) -> dict[str, Any]:
    return audit.verify(FakeSession(entries), CASE)


def test_chain_hash_is_deterministic() -> None:
    assert audit.chain_hash(fields(), audit.GENESIS) == audit.chain_hash(fields(), audit.GENESIS)


def test_chain_hash_follows_the_documented_rule() -> None:
    canonical = json.dumps(fields(), sort_keys=True, separators=(",", ":")).encode()
    expected = hashlib.sha256(b"\x00" + canonical + bytes.fromhex(audit.GENESIS)).hexdigest()

    assert audit.chain_hash(fields(), audit.GENESIS) == expected


def test_chain_hash_ignores_key_order() -> None:
    reordered = dict(reversed(list(fields().items())))

    assert audit.chain_hash(reordered, audit.GENESIS) == audit.chain_hash(fields(), audit.GENESIS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("case_id", "another-case"),
        ("seq", 2),
        ("at", (T0 + timedelta(microseconds=1)).isoformat()),
        ("actor_id", "u-2"),
        ("actor_roles", ["agent", "admin"]),
        ("action", "case_closed"),
        ("changes", {"title": "Boiler!"}),
        ("correlation_id", "corr-2"),
    ],
)
def test_chain_hash_changes_with_any_field(name: str, value: Any) -> None:
    assert audit.chain_hash(fields(**{name: value}), audit.GENESIS) != audit.chain_hash(
        fields(), audit.GENESIS
    )


def test_chain_hash_changes_with_the_previous_hash() -> None:
    assert audit.chain_hash(fields(), "1" * 64) != audit.chain_hash(fields(), audit.GENESIS)


def test_entry_time_is_hashed_in_utc_whatever_its_zone() -> None:
    (e,) = chain(1)
    same_instant = e.at.astimezone(timezone(timedelta(hours=5)))
    e.at = same_instant

    assert verify([e])["ok"]


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    entries = chain(5)

    result = verify(entries)

    assert result == {
        "ok": True,
        "entries": 5,
        "first_bad_seq": None,
        "reason": None,
        "head": entries[-1].hash,
    }


def test_an_empty_trail_verifies() -> None:
    assert verify([])["ok"] is True


@pytest.mark.parametrize("bad", [1, 3, 5])
@pytest.mark.parametrize(
    ("name", "value"),
    [("changes", {"note": "rewritten"}), ("actor_id", "mallory"), ("action", "case_closed")],
)
def test_changing_one_field_breaks_the_chain_exactly_at_that_entry(bad: int, name: str, value: Any) -> None:
    entries = chain(5)
    setattr(entries[bad - 1], name, value)

    result = verify(entries)

    assert result["ok"] is False
    assert result["first_bad_seq"] == bad
    assert result["reason"] == "hash does not match the entry's content"


def test_rehashing_a_changed_entry_breaks_the_next_one() -> None:
    entries = chain(5)
    entries[2].changes = {"note": "rewritten"}
    entries[2].hash = audit.chain_hash(audit.entry_fields(entries[2]), entries[2].prev_hash)

    result = verify(entries)

    assert result["first_bad_seq"] == 4
    assert result["reason"] == "prev_hash does not match the previous entry"


def test_a_removed_entry_is_detected() -> None:
    entries = chain(5)
    del entries[2]

    result = verify(entries)

    assert result["ok"] is False
    assert result["first_bad_seq"] == 4
    assert "sequence" in result["reason"]


def test_a_removed_first_entry_is_detected() -> None:
    assert verify(chain(3)[1:])["first_bad_seq"] == 2


def test_append_builds_a_chain_that_verifies() -> None:
    session = FakeSession()
    who = Principal("u-1", ("agent",), correlation_id="corr-1")

    first = audit.append(session, case_id=CASE, principal=who, action="case_opened", changes={"t": 1})
    second = audit.append(session, case_id=CASE, principal=who, action="note_added", changes={"n": "x"})

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.hash
    assert audit.verify(session, CASE)["ok"] is True


def test_append_stores_changes_as_plain_json() -> None:
    session = FakeSession()
    who = Principal("u-1", ("agent",))

    e = audit.append(session, case_id=CASE, principal=who, action="x", changes={"due": T0, "b": 1})

    assert e.changes == {"b": 1, "due": str(T0)}
    assert audit.verify(session, CASE)["ok"] is True


def test_as_dict_exposes_the_hashed_fields_and_both_hashes() -> None:
    (e,) = chain(1)

    out = audit.as_dict(e)

    assert out["hash"] == e.hash
    assert out["prev_hash"] == audit.GENESIS
    assert (
        audit.chain_hash({k: v for k, v in out.items() if k not in ("hash", "prev_hash")}, e.prev_hash)
        == e.hash
    )
