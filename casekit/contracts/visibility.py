"""Who may see a case: the one rule that the cases service and the search index both apply.

A case carries ``team`` (``None``: any staff member) and ``restricted`` (a sensitive case).

- admins and auditors see every case;
- everyone else sees a case only when it has no team or they belong to its team;
- a restricted case is seen, within its team, only by supervisors.

An object the caller may not see answers "not found", never "forbidden".
"""

from __future__ import annotations

from typing import Any

from casekit.context import ROLE_ADMIN, ROLE_AUDITOR, ROLE_SUPERVISOR, Principal

SEE_ALL = (ROLE_ADMIN, ROLE_AUDITOR)


def can_see(principal: Principal, *, team: str | None, restricted: bool) -> bool:
    if not principal.authenticated or not principal.roles:
        return False
    if principal.has_role(*SEE_ALL):
        return True
    if team is not None and team not in principal.teams:
        return False
    return not restricted or principal.has_role(ROLE_SUPERVISOR)


def can_see_case(principal: Principal, case: dict[str, Any]) -> bool:
    """``can_see`` for a case snapshot (``team`` and ``restricted`` default to open)."""
    return can_see(principal, team=case.get("team"), restricted=bool(case.get("restricted")))
