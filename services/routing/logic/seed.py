"""Load a whole routing document at once (seed-demo, deployment tools); safe to run again."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from casekit.context import ROLE_ADMIN, Principal, require_roles
from casekit.errors import InvalidInput
from services.routing.logic.agents import put_agent
from services.routing.logic.queues import add_member
from services.routing.logic.rules import parse_rules
from services.routing.logic.ruleset import current_rules, store_rules


def load_document(*, session: Session, principal: Principal, document: Any) -> dict[str, Any]:
    """``queues``, ``default_queue`` and ``rules`` (a new rule set version only when they changed),
    ``agents`` (profiles by user id) and ``members`` (``{queue: {user_id: agent|supervisor}}``)."""
    require_roles(principal, ROLE_ADMIN, action="load routing configuration")
    if not isinstance(document, dict):
        raise InvalidInput.from_field("document", "must be a mapping")
    agents = document.get("agents") or {}
    members = document.get("members") or {}
    rules_doc = {k: v for k, v in document.items() if k not in ("agents", "members")}
    _, current = current_rules(session)
    wanted = parse_rules(rules_doc)
    version = None
    if wanted.model_dump(exclude={"comment"}) != current.model_dump(exclude={"comment"}):
        version = store_rules(session=session, principal=principal, document=rules_doc)["version"]
    for user_id, profile in agents.items():
        put_agent(session=session, principal=principal, user_id=str(user_id), body=profile)
    for queue, people in members.items():
        for user_id, role in (people or {}).items():
            add_member(session=session, principal=principal, queue=queue, user_id=str(user_id), role=role)
    return {
        "rules_version": version or current_rules(session)[0],
        "rules_changed": version is not None,
        "queues": [q.name for q in wanted.queues],
        "agents": len(agents),
    }
