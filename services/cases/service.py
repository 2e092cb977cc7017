"""Transport for the cases service: nameko entrypoints that validate, call logic, dump."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from casekit.context import Principal, PrincipalProvider
from casekit.contracts.cases import CaseCreate
from casekit.contracts.validation import parse
from casekit.db import Database
from casekit.errors import EXPECTED, NotFound
from casekit.faults import crashpoint
from casekit.outbox import EventWriter, Outbox
from services.cases import audit, logic
from services.cases.models import outbox
from services.cases.schemas import case_out


class CasesService:
    name = "cases"

    db = Database(migrations=Path(__file__).parent / "migrations")
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    @rpc(expected_exceptions=EXPECTED)
    def create_case(self, data: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        payload = parse(CaseCreate, data)
        try:
            case, created = logic.open_case(
                session=self.db,
                principal=self.principal,
                data=payload,
                events=self.events,
                idempotency_key=idempotency_key,
            )
            self.db.commit()
        except IntegrityError:
            # a concurrent request with the same idempotency key won the race
            self.db.rollback()
            case = logic.find_by_idempotency_key(
                session=self.db, principal=self.principal, key=idempotency_key or ""
            )
            if case is None:
                raise
            created = False
        crashpoint("cases_after_commit_before_reply")
        return {**case_out(case), "created": created}

    @rpc(expected_exceptions=EXPECTED)
    def get_case(self, case_id: str) -> dict[str, Any]:
        return case_out(logic.get_case(session=self.db, principal=self.principal, case_id=case_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_cases(
        self,
        status: str | None = None,
        type: str | None = None,  # noqa: A002
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        rows, next_cursor = logic.list_cases(
            session=self.db,
            principal=self.principal,
            status=status,
            type_key=type,
            limit=limit,
            cursor=cursor,
        )
        return {"items": [case_out(c) for c in rows], "next_cursor": next_cursor}

    @rpc(expected_exceptions=EXPECTED)
    def load_case_type(self, definition: dict[str, Any]) -> dict[str, Any]:
        logic.require_writer(self.principal)
        ctype = logic.load_case_type(session=self.db, definition=definition)
        self.db.commit()
        return {"key": ctype.key, "version": ctype.version, "name": ctype.name}

    @rpc(expected_exceptions=EXPECTED)
    def list_case_types(self) -> list[dict[str, Any]]:
        logic.require_reader(self.principal)
        return [
            {"key": t.key, "version": t.version, "name": t.name, "prefix": t.prefix}
            for t in logic.list_types(session=self.db)
        ]

    @rpc(expected_exceptions=EXPECTED)
    def audit_trail(self, case_id: str) -> list[dict[str, Any]]:
        logic.get_case(session=self.db, principal=self.principal, case_id=case_id)
        return [audit.as_dict(e) for e in logic.audit_entries(session=self.db, case_id=case_id)]

    @rpc(expected_exceptions=EXPECTED)
    def verify_audit(self, case_id: str) -> dict[str, Any]:
        logic.get_case(session=self.db, principal=self.principal, case_id=case_id)
        result = audit.verify(self.db, case_id)
        if result["entries"] == 0:
            raise NotFound(f"case {case_id} has no audit trail")
        return result
