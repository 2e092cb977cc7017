"""Shared bits of the routing integration tests: case snapshots as cases events carry them."""

from __future__ import annotations

import uuid
from typing import Any

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from casekit.contracts.events import make_envelope

ADMIN = {"user_id": "admin-1", "roles": "admin,supervisor"}
SUPERVISOR = {"user_id": "sup-1", "roles": "supervisor"}


def agent(user_id: str, teams: str = "") -> dict[str, Any]:
    return {"user_id": user_id, "roles": "agent", "teams": teams}


def a_case(**fields: Any) -> dict[str, Any]:
    case = {
        "id": str(uuid.uuid4()),
        "reference": "CMP-2030-000001",
        "type": "complaint",
        "title": "Overcharged",
        "priority": "normal",
        "status": "open",
        "stage": "received",
        "channel": "web",
        "team": None,
        "restricted": False,
        "data": {},
        "parties": [],
        "created_at": "2030-01-01T09:00:00+00:00",
    }
    case.update(fields)
    return case


def deliver(container: Any, entrypoint: str, event_type: str, case: dict[str, Any], version: int) -> None:
    """Publish a cases event with ``case`` as its snapshot; wait for ``entrypoint`` to finish."""
    envelope = make_envelope(
        producer="cases", type=event_type, case_id=case["id"], case_version=version, data={"case": case}
    )
    with entrypoint_waiter(container, entrypoint, timeout=10) as result:
        event_dispatcher(container.config)("cases", event_type, envelope)
    result.get()
