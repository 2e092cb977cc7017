"""Business rules of the cases service, as plain functions over a session, split by use case.

- ``types``: case type definitions, their versions, migrating open cases to a newer one;
- ``opening``: references, parties, opening a case;
- ``reading``: one case (reads are audited), lists with filters, sorts and cursors, the timeline;
- ``process``: field changes, stage transitions, overrides, closing and reopening;
- ``folder``: notes, tasks and checklist items, parties and their relationships;
- ``links``: links between cases and merging;
- ``intake``: inbound items to new or existing cases.

Every change locks the case, checks the version the caller expects, and goes through
``common.record_change``: one new version, one audit entry, one event.
"""

from services.cases.definitions import validate_definition
from services.cases.logic.common import require_reader, require_writer, snapshot
from services.cases.logic.folder import (
    add_note,
    add_party,
    add_relationship,
    add_task,
    edit_note,
    edit_task,
    find_parties,
    note_history,
)
from services.cases.logic.intake import intake
from services.cases.logic.links import add_link, merge_cases
from services.cases.logic.opening import (
    find_by_idempotency_key,
    find_or_create_party,
    next_reference,
    open_case,
)
from services.cases.logic.process import close_case, reopen_case, transition, update_case
from services.cases.logic.reading import (
    _decode_cursor,
    _encode_cursor,
    audit_entries,
    get_case,
    list_cases,
    timeline,
)
from services.cases.logic.types import current_type, get_type, list_types, load_case_type, migrate_open_cases

__all__ = [
    "_decode_cursor",
    "_encode_cursor",
    "add_link",
    "add_note",
    "add_party",
    "add_relationship",
    "add_task",
    "audit_entries",
    "close_case",
    "current_type",
    "edit_note",
    "edit_task",
    "find_by_idempotency_key",
    "find_or_create_party",
    "find_parties",
    "get_case",
    "get_type",
    "intake",
    "list_cases",
    "list_types",
    "load_case_type",
    "merge_cases",
    "migrate_open_cases",
    "next_reference",
    "note_history",
    "open_case",
    "reopen_case",
    "require_reader",
    "require_writer",
    "snapshot",
    "timeline",
    "transition",
    "update_case",
    "validate_definition",
]
