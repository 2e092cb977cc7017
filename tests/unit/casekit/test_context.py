"""The Principal travels as RPC/event context data and is rebuilt from it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from casekit.context import ROLE_SYSTEM, Principal

name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-:0123456789", min_size=1, max_size=20)


def test_context_data_round_trips() -> None:
    who = Principal("u-1", ("agent", "supervisor"), ("team-a",), correlation_id="corr-9")

    assert Principal.from_context(who.context_data()) == who


@given(
    user_id=name,
    roles=st.lists(name, max_size=5).map(tuple),
    teams=st.lists(name, max_size=5).map(tuple),
    correlation_id=name,
)
def test_context_data_round_trips_for_any_names(
    user_id: str, roles: tuple[str, ...], teams: tuple[str, ...], correlation_id: str
) -> None:
    who = Principal(user_id, roles, teams, correlation_id)

    assert Principal.from_context(who.context_data()) == who


def test_context_data_is_plain_strings_for_the_wire() -> None:
    data = Principal("u-1", ("agent", "admin"), ("t1", "t2"), "c").context_data()

    assert data == {"user_id": "u-1", "roles": "agent,admin", "teams": "t1,t2", "correlation_id": "c"}


def test_roles_parse_from_a_comma_string() -> None:
    who = Principal.from_context({"user_id": "u", "roles": "agent,supervisor"})

    assert who.roles == ("agent", "supervisor")
    assert who.has_role("supervisor")
    assert not who.has_role("admin")


def test_roles_parse_from_a_list() -> None:
    assert Principal.from_context({"user_id": "u", "roles": ["agent", "auditor"]}).roles == (
        "agent",
        "auditor",
    )


def test_empty_items_in_a_comma_string_are_dropped() -> None:
    assert Principal.from_context({"roles": ",agent,,"}).roles == ("agent",)


def test_missing_or_odd_values_give_no_roles_and_no_user() -> None:
    who = Principal.from_context({"user_id": "", "roles": None, "teams": 5})

    assert who.user_id is None
    assert who.roles == ()
    assert who.teams == ()
    assert not who.authenticated


def test_missing_correlation_id_gets_a_fresh_one() -> None:
    first = Principal.from_context({})
    second = Principal.from_context({})

    assert first.correlation_id
    assert first.correlation_id != second.correlation_id


def test_system_principal_is_authenticated_with_the_system_role() -> None:
    who = Principal.system("relay", correlation_id="c1")

    assert who.user_id == "system:relay"
    assert who.roles == (ROLE_SYSTEM,)
    assert who.authenticated
    assert who.actor() == {"user_id": "system:relay", "roles": [ROLE_SYSTEM]}
