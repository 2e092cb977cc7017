"""Transport for the cases service: nameko entrypoints that validate, call logic, dump."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from casekit.context import ROLE_ADMIN, ROLE_SUPERVISOR, Principal, PrincipalProvider, require_roles
from casekit.contracts.cases import (
    CaseCreate,
    CaseUpdate,
    CloseIn,
    IntakeIn,
    LinkIn,
    MergeIn,
    NoteEdit,
    NoteIn,
    PartyAdd,
    RelationshipIn,
    ReopenIn,
    TaskEdit,
    TaskIn,
    TransitionIn,
    TypeMigrationIn,
)
from casekit.contracts.validation import parse
from casekit.db import Database
from casekit.errors import EXPECTED, NotFound, StaleVersion
from casekit.faults import crashpoint
from casekit.outbox import EventWriter, Outbox
from casekit.rpc import rpc
from services.cases import audit, logic
from services.cases.logic.history import history_page as case_history
from services.cases.logic.intake import record_message
from services.cases.models import outbox


def type_out(t: Any) -> dict[str, Any]:
    return {"key": t.key, "version": t.version, "name": t.name, "prefix": t.prefix}


class CasesService:
    name = "cases"

    db = Database(migrations=Path(__file__).parent / "migrations")
    events: EventWriter = Outbox(outbox)
    principal: Principal = PrincipalProvider()

    def _commit(self, change: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one change in one transaction; a concurrent writer that got there first is stale."""
        try:
            result = change(session=self.db, principal=self.principal, events=self.events, **kwargs)
            self.db.commit()
        except StaleDataError:
            self.db.rollback()
            raise StaleVersion("the case changed while this change was being made") from None
        except BaseException:
            self.db.rollback()
            raise
        return result

    @rpc
    def health(self) -> dict[str, Any]:
        self.db.execute(text("SELECT 1"))
        return {"service": self.name, "ok": True}

    # --- case types ---------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def load_case_type(self, definition: dict[str, Any]) -> dict[str, Any]:
        require_roles(self.principal, ROLE_ADMIN, ROLE_SUPERVISOR, action="load case types")
        ctype = logic.load_case_type(session=self.db, definition=definition)
        self.db.commit()
        return {"key": ctype.key, "version": ctype.version, "name": ctype.name}

    @rpc(expected_exceptions=EXPECTED)
    def list_case_types(self) -> list[dict[str, Any]]:
        logic.require_reader(self.principal)
        return [type_out(t) for t in logic.list_types(session=self.db)]

    @rpc(expected_exceptions=EXPECTED)
    def get_case_type(self, key: str, version: int | None = None) -> dict[str, Any]:
        t = logic.get_type(session=self.db, principal=self.principal, key=key, version=version)
        return {**type_out(t), "definition": t.definition}

    @rpc(expected_exceptions=EXPECTED)
    def migrate_case_type(self, key: str, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(logic.migrate_open_cases, key=key, request=parse(TypeMigrationIn, request))

    # --- cases --------------------------------------------------------------------------------

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
        return {**logic.snapshot(self.db, case), "created": created}

    @rpc(expected_exceptions=EXPECTED)
    def get_case(self, case_id: str) -> dict[str, Any]:
        """The case snapshot; the read is recorded in the case's audit trail."""
        case = logic.get_case(session=self.db, principal=self.principal, case_id=case_id, record_read=True)
        out = logic.snapshot(self.db, case)
        self.db.commit()
        return out

    @rpc(expected_exceptions=EXPECTED)
    def list_cases(
        self,
        status: str | None = None,
        type: str | None = None,  # noqa: A002
        limit: int = 50,
        cursor: str | None = None,
        stage: str | None = None,
        priority: str | None = None,
        team: str | None = None,
        party_id: str | None = None,
        sort: str = "created",
    ) -> dict[str, Any]:
        items, next_cursor = logic.list_cases(
            session=self.db,
            principal=self.principal,
            status=status,
            type_key=type,
            stage=stage,
            priority=priority,
            team=team,
            party_id=party_id,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor}

    @rpc(expected_exceptions=EXPECTED)
    def update_case(self, case_id: str, expected_version: int, patch: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.update_case,
            case_id=case_id,
            expected_version=expected_version,
            patch=parse(CaseUpdate, patch),
        )

    @rpc(expected_exceptions=EXPECTED)
    def transition_case(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.transition,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(TransitionIn, request),
        )

    @rpc(expected_exceptions=EXPECTED)
    def close_case(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.close_case,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(CloseIn, request),
        )

    @rpc(expected_exceptions=EXPECTED)
    def reopen_case(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.reopen_case,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(ReopenIn, request),
        )

    # --- the folder ---------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def add_note(self, case_id: str, expected_version: int, note: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.add_note, case_id=case_id, expected_version=expected_version, note=parse(NoteIn, note)
        )

    @rpc(expected_exceptions=EXPECTED)
    def edit_note(
        self, case_id: str, expected_version: int, note_id: str, edit: dict[str, Any]
    ) -> dict[str, Any]:
        return self._commit(
            logic.edit_note,
            case_id=case_id,
            expected_version=expected_version,
            note_id=note_id,
            edit=parse(NoteEdit, edit),
        )

    @rpc(expected_exceptions=EXPECTED)
    def note_history(self, case_id: str, note_id: str) -> dict[str, Any]:
        return logic.note_history(session=self.db, principal=self.principal, case_id=case_id, note_id=note_id)

    @rpc(expected_exceptions=EXPECTED)
    def add_task(self, case_id: str, expected_version: int, task: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.add_task, case_id=case_id, expected_version=expected_version, task=parse(TaskIn, task)
        )

    @rpc(expected_exceptions=EXPECTED)
    def edit_task(
        self, case_id: str, expected_version: int, task_id: str, edit: dict[str, Any]
    ) -> dict[str, Any]:
        return self._commit(
            logic.edit_task,
            case_id=case_id,
            expected_version=expected_version,
            task_id=task_id,
            edit=parse(TaskEdit, edit),
        )

    @rpc(expected_exceptions=EXPECTED)
    def add_party(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.add_party,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(PartyAdd, request),
        )

    @rpc(expected_exceptions=EXPECTED)
    def find_parties(
        self, email: str | None = None, phone: str | None = None, name: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        return logic.find_parties(
            session=self.db, principal=self.principal, email=email, phone=phone, name=name, limit=limit
        )

    @rpc(expected_exceptions=EXPECTED)
    def add_relationship(
        self, case_id: str, expected_version: int, request: dict[str, Any]
    ) -> dict[str, Any]:
        return self._commit(
            logic.add_relationship,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(RelationshipIn, request),
        )

    @rpc(expected_exceptions=EXPECTED)
    def add_link(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.add_link, case_id=case_id, expected_version=expected_version, request=parse(LinkIn, request)
        )

    @rpc(expected_exceptions=EXPECTED)
    def merge_case(self, case_id: str, expected_version: int, request: dict[str, Any]) -> dict[str, Any]:
        return self._commit(
            logic.merge_cases,
            case_id=case_id,
            expected_version=expected_version,
            request=parse(MergeIn, request),
        )

    @rpc(expected_exceptions=EXPECTED)
    def timeline(self, case_id: str, after: int = 0, limit: int = 200) -> dict[str, Any]:
        return logic.timeline(
            session=self.db, principal=self.principal, case_id=case_id, after=after, limit=limit
        )

    @rpc(expected_exceptions=EXPECTED)
    def intake(self, item: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a case for an inbound item or append it to its case; idempotent by provider id."""
        payload = parse(IntakeIn, item)
        try:
            return self._commit(logic.intake, item=payload, meta=meta)
        except IntegrityError:  # the same item delivered twice at once: the other one won
            return self._commit(logic.intake, item=payload, meta=meta)

    @rpc(expected_exceptions=EXPECTED)
    def record_message(self, case_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A message staff sent: on the timeline, its Message-ID a thread key; idempotent by id."""
        try:
            return self._commit(record_message, case_id=case_id, message=message)
        except IntegrityError:
            return self._commit(record_message, case_id=case_id, message=message)

    @rpc(expected_exceptions=EXPECTED)
    def history_page(self, after: str | None = None, limit: int = 200) -> dict[str, Any]:
        """Every case with its changes as events, paged by case id (read models rebuild from it)."""
        return case_history(session=self.db, principal=self.principal, after=after, limit=limit)

    # --- audit --------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def audit_trail(self, case_id: str) -> list[dict[str, Any]]:
        case = logic.get_case(session=self.db, principal=self.principal, case_id=case_id)
        return [audit.as_dict(e) for e in logic.audit_entries(session=self.db, case_id=case.id)]

    @rpc(expected_exceptions=EXPECTED)
    def verify_audit(self, case_id: str) -> dict[str, Any]:
        case = logic.get_case(session=self.db, principal=self.principal, case_id=case_id)
        result = audit.verify(self.db, case.id)
        if result["entries"] == 0:
            raise NotFound(f"case {case_id} has no audit trail")
        return result
