"""Random sequences of actions on one case, on a real database, checking the invariants:
one audit entry per change, versions strictly increasing (in the case and in its events), a closed
case refuses edits until reopened, a stale version changes nothing, the timeline is ordered, and
the audit chain verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casekit.context import Principal
from casekit.contracts.cases import (
    CaseCreate,
    CaseUpdate,
    CloseIn,
    NoteEdit,
    NoteIn,
    ReopenIn,
    TaskEdit,
    TaskIn,
    TransitionIn,
)
from casekit.db import make_engine
from casekit.errors import Conflict, InvalidInput, PermissionDenied, StaleVersion
from casekit.outbox import EventWriter
from casekit.testing import infra
from services.cases import audit, logic
from services.cases.models import AuditEntry, outbox
from tests.integration.test_cases_process import CLAIM

pytestmark = pytest.mark.integration

PEOPLE = {
    "agent": Principal("agent-1", ("agent",)),
    "supervisor": Principal("sup-1", ("supervisor",)),
}
REFUSED = (Conflict, PermissionDenied, InvalidInput)


@pytest.fixture(scope="module")
def sessions() -> Iterator[sessionmaker]:
    with infra.databases(f"cwst_{uuid.uuid4().hex[:8]}", ("cases",), migrated=True) as urls:
        engine = make_engine(urls["cases"], pool_size=2)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as session:
            logic.load_case_type(session=session, definition=CLAIM)
            session.commit()
        yield factory
        engine.dispose()


class CaseMachine(RuleBasedStateMachine):
    sessions: ClassVar[sessionmaker]

    @initialize()
    def open(self) -> None:
        self.session: Session = self.sessions()
        who = PEOPLE["agent"]
        case, _ = logic.open_case(
            session=self.session,
            principal=who,
            events=EventWriter("cases", outbox, who),
            data=CaseCreate(type="claim", title="random walk", data={"amount": 1}),
        )
        self.session.commit()
        self.case_id, self.version, self.changes, self.closed = case.id, 1, 1, False

    def teardown(self) -> None:
        self.session.close()

    def act(self, fn: Any, role: str = "agent", *, is_edit: bool = True, **kwargs: Any) -> Any:
        """Run one change; a closed case must refuse it (until reopened), a refusal changes nothing."""
        who = PEOPLE[role]
        try:
            result = fn(
                session=self.session,
                principal=who,
                events=EventWriter("cases", outbox, who),
                case_id=self.case_id,
                expected_version=self.version,
                **kwargs,
            )
            self.session.commit()
        except REFUSED as exc:
            self.session.rollback()
            if is_edit and self.closed:
                assert isinstance(exc, Conflict) and "closed" in exc.message
            return None
        assert not (is_edit and self.closed), "a closed case accepted an edit"
        snap = result.get("case", result)
        assert snap["version"] == self.version + 1, "one change, one version"
        self.version, self.changes = snap["version"], self.changes + 1
        self.closed = snap["status"] == "closed"
        return result

    def current(self) -> dict[str, Any]:
        return logic.snapshot(
            self.session,
            logic.get_case(session=self.session, principal=PEOPLE["supervisor"], case_id=self.case_id),
        )

    @rule(
        title=st.text(alphabet="abcdef ", min_size=1, max_size=20), priority=st.sampled_from(["low", "high"])
    )
    def update(self, title: str, priority: str) -> None:
        self.act(logic.update_case, patch=CaseUpdate(title=title, priority=priority))

    @rule(amount=st.one_of(st.integers(-5, 5000), st.just("many")))
    def change_data(self, amount: Any) -> None:
        self.act(logic.update_case, patch=CaseUpdate(data={"amount": amount}))

    @rule(body=st.text(alphabet="xyz", min_size=1, max_size=10))
    def add_note(self, body: str) -> None:
        self.act(logic.add_note, note=NoteIn(body=body))

    @rule(body=st.text(alphabet="xyz", min_size=1, max_size=10), pick=st.integers(0, 5))
    def edit_note(self, body: str, pick: int) -> None:
        notes = self.current()["notes"]
        if notes:
            self.act(logic.edit_note, note_id=notes[pick % len(notes)]["id"], edit=NoteEdit(body=body))

    @rule(title=st.sampled_from(["call", "write", "visit"]))
    def add_task(self, title: str) -> None:
        self.act(logic.add_task, task=TaskIn(title=title))

    @rule(pick=st.integers(0, 10))
    def complete_task(self, pick: int) -> None:
        tasks = [t for t in self.current()["tasks"] if t["done_at"] is None]
        if tasks:
            self.act(logic.edit_task, task_id=tasks[pick % len(tasks)]["id"], edit=TaskEdit(done=True))

    @rule(
        to=st.sampled_from(["received", "assessing", "approval", "done"]),
        role=st.sampled_from(["agent", "supervisor"]),
        reason=st.sampled_from([None, "because"]),
    )
    def transition(self, to: str, role: str, reason: str | None) -> None:
        self.act(logic.transition, role, request=TransitionIn(to=to, reason=reason))

    @rule(
        resolution=st.sampled_from(["paid", "rejected", "nonsense"]),
        role=st.sampled_from(["agent", "supervisor"]),
    )
    def close(self, resolution: str, role: str) -> None:
        self.act(logic.close_case, role, request=CloseIn(resolution=resolution, reason="done"))

    @rule()
    def reopen(self) -> None:
        was_closed = self.closed
        result = self.act(logic.reopen_case, is_edit=False, request=ReopenIn(reason="again"))
        assert (result is not None) == was_closed, "only a closed case reopens"

    @rule()
    def stale_change(self) -> None:
        who = PEOPLE["agent"]
        with pytest.raises(StaleVersion):
            logic.add_note(
                session=self.session,
                principal=who,
                events=EventWriter("cases", outbox, who),
                case_id=self.case_id,
                expected_version=self.version - 1,
                note=NoteIn(body="late"),
            )
        self.session.rollback()

    @rule()
    def read(self) -> None:
        logic.get_case(
            session=self.session, principal=PEOPLE["agent"], case_id=self.case_id, record_read=True
        )
        self.session.commit()

    @invariant()
    def one_audit_entry_per_change_and_a_valid_chain(self) -> None:
        if not hasattr(self, "case_id"):
            return
        entries = self.session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == self.case_id).order_by(AuditEntry.seq)
        ).all()
        assert len([e for e in entries if e.action != "case_read"]) == self.changes
        assert audit.verify(self.session, self.case_id)["ok"] is True
        self.session.rollback()

    @invariant()
    def versions_strictly_increase(self) -> None:
        if not hasattr(self, "case_id"):
            return
        rows = self.session.execute(
            select(outbox.c.payload)
            .where(outbox.c.payload["case_id"].astext == self.case_id)
            .order_by(outbox.c.id)
        ).all()
        versions = [p["case_version"] for (p,) in rows]
        assert versions == list(range(1, self.version + 1))
        assert all(p["data"]["case"]["version"] == p["case_version"] for (p,) in rows)
        self.session.rollback()

    @invariant()
    def the_timeline_is_ordered(self) -> None:
        if not hasattr(self, "case_id"):
            return
        items = logic.timeline(session=self.session, principal=PEOPLE["agent"], case_id=self.case_id)["items"]
        assert len(items) == self.changes
        assert [i["seq"] for i in items] == sorted({i["seq"] for i in items})
        assert [i["at"] for i in items] == sorted(i["at"] for i in items)
        self.session.rollback()


def test_random_action_sequences_keep_the_invariants(sessions: sessionmaker) -> None:
    CaseMachine.sessions = sessions
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        ),
    )
