"""What a case folder holds: notes (edited with history), tasks and checklist items, parties and
their relationships, links to other cases, merging. Every change needs ``If-Match``."""

from __future__ import annotations

import time

from flask_openapi3 import APIBlueprint, Tag

from casekit.contracts.cases import (
    LinkIn,
    MergeIn,
    NoteEdit,
    NoteIn,
    NoteOut,
    PartyAdd,
    RelationshipIn,
    TaskEdit,
    TaskIn,
)
from casekit.errors import NotFound
from gateway.clients import Call
from gateway.deps import BEARER, call, ctx, principal
from gateway.routes.cases import CHANGE_RESPONSES, change, with_etag
from gateway.schemas import (
    CaseChange,
    CasePath,
    IfMatchHeader,
    NotePath,
    PartyList,
    PartyQuery,
    Problem,
    TaskPath,
)
from gateway.schemas.gateway import FolderOut

bp = APIBlueprint(
    "case_folder",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="cases")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)

RESPONSES = {200: CaseChange, **CHANGE_RESPONSES}
RECENT_TIMELINE = 20


@bp.get("/cases/<case_id>/folder", responses={200: FolderOut, 404: Problem})
def case_folder(path: CasePath):
    """Everything about a case in one call: the case, parties, documents, assignment, SLA clocks,
    the recent timeline and external data panels, gathered in parallel within a time budget
    (``FOLDER_BUDGET``). Parts that are slow or down are named in ``missing``; only the case
    itself is required (404 when the caller may not see it)."""
    who = principal()
    settings = ctx().settings
    started = time.monotonic()
    parts = ("case", "documents", "assignment", "sla", "timeline")
    outcomes = dict(
        zip(
            parts,
            ctx().rpc.fanout(
                who,
                [
                    Call("cases", "get_case", (path.case_id,)),
                    Call("documents", "list_for_case", (path.case_id,)),
                    Call("routing", "get_work_item", (path.case_id,)),
                    Call("routing", "case_clocks", (path.case_id,)),
                    Call("cases", "timeline", (path.case_id,), {"limit": 200}),
                ],
                budget=settings.folder_budget,
            ),
            strict=True,
        )
    )
    case = outcomes.pop("case").unwrap()
    folder: dict = {"case": case, "parties": case.get("parties"), "missing": []}
    for name, outcome in outcomes.items():
        if outcome.error is None:
            folder[name] = outcome.value
        else:
            folder[name] = None
            if not (name in ("assignment", "sla") and isinstance(outcome.error, NotFound)):
                folder["missing"].append(name)
    if isinstance(folder["timeline"], dict):
        folder["timeline"] = folder["timeline"].get("items", [])[-RECENT_TIMELINE:]
    if isinstance(folder["sla"], dict):
        folder["sla"] = folder["sla"].get("clocks", [folder["sla"]])
    remaining = settings.folder_budget - (time.monotonic() - started)
    folder["panels"], missing_panels = ctx().extras["panels"].gather(case, remaining)
    folder["missing"] += missing_panels
    return with_etag(folder)


@bp.post("/cases/<case_id>/notes", responses=RESPONSES)
def add_note(path: CasePath, body: NoteIn, header: IfMatchHeader):
    """Add an internal or customer-visible note."""
    return change("add_note", path.case_id, header, body.model_dump(mode="json"))


@bp.patch("/cases/<case_id>/notes/<note_id>", responses=RESPONSES)
def edit_note(path: NotePath, body: NoteEdit, header: IfMatchHeader):
    """Edit a note (its author or a supervisor); the previous revision is kept."""
    return change(
        "edit_note", path.case_id, header, path.note_id, body.model_dump(mode="json", exclude_unset=True)
    )


@bp.get("/cases/<case_id>/notes/<note_id>", responses={200: NoteOut, 404: Problem})
def note_history(path: NotePath):
    """A note with every earlier revision in ``history``."""
    return call("cases", "note_history", path.case_id, path.note_id)


@bp.post("/cases/<case_id>/tasks", responses=RESPONSES)
def add_task(path: CasePath, body: TaskIn, header: IfMatchHeader):
    """Add a task from the type's menu (``key``) or an ad-hoc task (``title``)."""
    return change("add_task", path.case_id, header, body.model_dump(mode="json", exclude_unset=True))


@bp.patch("/cases/<case_id>/tasks/<task_id>", responses=RESPONSES)
def edit_task(path: TaskPath, body: TaskEdit, header: IfMatchHeader):
    """Assign, reschedule, complete (``done: true``) or reopen a task or checklist item."""
    return change(
        "edit_task", path.case_id, header, path.task_id, body.model_dump(mode="json", exclude_unset=True)
    )


@bp.post("/cases/<case_id>/parties", responses=RESPONSES)
def add_party(path: CasePath, body: PartyAdd, header: IfMatchHeader):
    """Put a party on the case with a role: an existing party by id, or a described one (a known
    email finds the same party again, so one person is one party across cases)."""
    return change("add_party", path.case_id, header, body.model_dump(mode="json", exclude_unset=True))


@bp.post("/cases/<case_id>/relationships", responses=RESPONSES)
def add_relationship(path: CasePath, body: RelationshipIn, header: IfMatchHeader):
    """Relate two parties of the case (``from_party_id`` is ``kind`` of ``to_party_id``)."""
    return change("add_relationship", path.case_id, header, body.model_dump(mode="json"))


@bp.post("/cases/<case_id>/links", responses=RESPONSES)
def add_link(path: CasePath, body: LinkIn, header: IfMatchHeader):
    """Link to another case: related, parent_of, child_of or duplicate_of."""
    return change("add_link", path.case_id, header, body.model_dump(mode="json"))


@bp.post("/cases/<case_id>/merge", responses=RESPONSES)
def merge_case(path: CasePath, body: MergeIn, header: IfMatchHeader):
    """Merge this case into ``into``: notes, parties and (via the documents service) documents
    move to the survivor; this case closes as ``merged`` with a ``merged_into`` link."""
    return change("merge_case", path.case_id, header, body.model_dump(mode="json"))


@bp.get("/parties", responses={200: PartyList, 422: Problem})
def find_parties(query: PartyQuery):
    """Find parties by exact email or phone, or by name prefix, to reuse one on another case
    (``POST /cases/{id}/parties`` with ``party_id``; ``GET /cases?party_id=`` lists their cases)."""
    return {"items": call("cases", "find_parties", **query.model_dump())}
