"""Permission trimming: hits, totals, facets, suggestions and lookups show only what can_see() allows."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casekit.context import Principal
from casekit.contracts.visibility import can_see
from services.search.indexing import Indexer
from services.search.queries import Visibility, build_request, visibility_for
from services.search.tantivy_index import TantivyEngine
from tests.unit.search.factories import case_event, document_event, note_event, snapshot

TEAMS = (None, "north", "south")
TYPES = ("complaint", "claim")
ROLES = ("agent", "supervisor", "admin", "auditor")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Indexer, list[dict[str, Any]]]]:
    """Every (team, restricted, type) combination twice; the canary is in each title, note and document."""
    indexer = Indexer(TantivyEngine(tmp_path_factory.mktemp("perm"), heap_bytes=15_000_000))
    cases = []
    for n, (team, restricted, kind) in enumerate(itertools.product(TEAMS, (False, True), TYPES * 2)):
        case = snapshot(
            title=f"Canary case {n} secret{n}",
            team=team,
            restricted=restricted,
            type=kind,
            parties=[
                {"id": f"p{n}", "name": "Shared Person", "emails": ["shared@example.org"], "phones": []}
            ],
        )
        indexer.apply(case_event(case, 1, type="case_opened"))
        indexer.apply(note_event(case, 2, f"canary note{n}"))
        indexer.apply(document_event(case["id"], str(uuid.uuid4()), f"canary document{n}"))
        cases.append(case)
    indexer.commit()
    yield indexer, cases


def visible(principal: Principal, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cases if can_see(principal, team=c["team"], restricted=c["restricted"])]


def observe(indexer: Indexer, principal: Principal) -> dict[str, Any]:
    vis = visibility_for(principal)
    result = indexer.search(build_request("canary", limit=100, facets=True), vis)
    return {
        "hits": {i["case_id"] for i in result["items"]},
        "total": result["total_hits"],
        "types": {b["value"]: b["count"] for b in result["facets"]["type"]},
        "suggested_terms": {t["text"]: t["count"] for t in indexer.suggest("canar", vis, limit=20)["terms"]},
        "suggested_cases": {c["case_id"] for c in indexer.suggest("canary case", vis, limit=20)["cases"]},
        "lookup": {h["case_id"] for h in indexer.lookup("email", "shared@example.org", vis)},
    }


def expected(principal: Principal, cases: list[dict[str, Any]]) -> dict[str, Any]:
    seen = visible(principal, cases)
    return {
        "hits": {c["id"] for c in seen},
        "total": len(seen),
        "types": dict(Counter(c["type"] for c in seen)),
        "suggested_terms": {"canary": len(seen)} if seen else {},
        "suggested_cases": {c["id"] for c in seen},
        "lookup": {c["id"] for c in seen},
    }


def check(observed: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Equal, except that suggestions list at most 20 of the visible cases."""
    suggested = observed.pop("suggested_cases")
    allowed = wanted.pop("suggested_cases")
    assert observed == wanted
    assert suggested <= allowed and len(suggested) == min(20, len(allowed))


principals = st.builds(
    Principal,
    user_id=st.one_of(st.none(), st.just(""), st.text("abc", min_size=1, max_size=3)),
    roles=st.lists(st.sampled_from(ROLES), max_size=2, unique=True).map(tuple),
    teams=st.lists(st.sampled_from(("north", "south", "east")), max_size=3, unique=True).map(tuple),
)


@settings(max_examples=60)
@given(principal=principals)
def test_every_channel_shows_exactly_what_can_see_allows(world: Any, principal: Principal) -> None:
    indexer, cases = world

    check(observe(indexer, principal), expected(principal, cases))


@settings(max_examples=200)
@given(
    principal=principals,
    team=st.sampled_from(TEAMS),
    restricted=st.booleans(),
)
def test_the_index_filter_is_the_visibility_rule(
    principal: Principal, team: str | None, restricted: bool
) -> None:
    assert visibility_for(principal).allows(team, restricted) == can_see(
        principal, team=team, restricted=restricted
    )


def test_users_with_different_visibility_see_exactly_their_cases(world: Any) -> None:
    indexer, cases = world
    users = {
        "admin": Principal("u-admin", ("admin",)),
        "auditor": Principal("u-aud", ("auditor",)),
        "north agent": Principal("u-n", ("agent",), ("north",)),
        "north supervisor": Principal("u-ns", ("supervisor",), ("north",)),
        "teamless agent": Principal("u-t", ("agent",)),
        "no roles": Principal("u-x", ()),
    }
    seen = {name: observe(indexer, p) for name, p in users.items()}
    # 24 cases: 8 per team value, half of them restricted, half complaints
    assert {name: s["total"] for name, s in seen.items()} == {
        "admin": 24,
        "auditor": 24,
        "north agent": 8,  # unrestricted: no team + north
        "north supervisor": 16,  # and the restricted ones of both
        "teamless agent": 4,
        "no roles": 0,
    }
    assert seen["north agent"]["types"] == {"complaint": 4, "claim": 4}
    assert seen["teamless agent"]["suggested_terms"] == {"canary": 4}
    assert seen["no roles"]["suggested_terms"] == {} and seen["no roles"]["suggested_cases"] == set()
    assert seen["north agent"]["hits"] < seen["north supervisor"]["hits"] < seen["admin"]["hits"]
    for name, principal in users.items():
        check(seen[name], expected(principal, cases))


def test_a_restricted_canary_does_not_leak_through_any_channel(world: Any) -> None:
    indexer, cases = world
    agent = visibility_for(Principal("u-n", ("agent",), ("north",)))
    for n, case in enumerate(cases):
        if not case["restricted"]:
            continue
        for word in (f"secret{n}", f"note{n}", f"document{n}", case["reference"]):
            result = indexer.search(build_request(word, facets=True), agent)
            assert result["items"] == [] and result["total_hits"] == 0, word
            assert all(b["count"] == 0 for buckets in result["facets"].values() for b in buckets)
        assert indexer.suggest(f"secret{n}", agent)["terms"] == []
        assert indexer.lookup("reference", case["reference"], agent) == []


def test_nobody_sees_anything_without_identity() -> None:
    assert visibility_for(Principal(None, ("admin",))) == Visibility(nothing=True)
