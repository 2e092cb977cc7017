"""Case types (versioned definitions), migrating open cases to a newer version, and intake."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from casekit.context import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR
from casekit.contracts.cases import IntakeIn, TypeMigrationIn
from gateway.deps import BEARER, call, principal
from gateway.schemas import (
    CaseTypeBody,
    CaseTypeList,
    CaseTypeMigrationOut,
    CaseTypeOut,
    CaseTypePath,
    CaseTypeQuery,
    IntakeResult,
    Problem,
)

bp = APIBlueprint(
    "case_types",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="case types")],
    abp_security=BEARER,
    abp_responses={401: Problem, 403: Problem, 503: Problem},
)


@bp.get("/case-types", responses={200: CaseTypeList})
def list_case_types():
    """The latest version of every case type."""
    return {"items": call("cases", "list_case_types")}


@bp.post("/case-types", responses={201: CaseTypeOut, 422: Problem})
def load_case_type(body: CaseTypeBody):
    """Load a definition; a changed one becomes the type's next version (supervisors, admins).
    Errors name the field and the rule (``definition.stages.1.key``)."""
    principal(ROLE_ADMIN, ROLE_SUPERVISOR)
    return call("cases", "load_case_type", body.model_dump()), 201


@bp.get("/case-types/<key>", responses={200: CaseTypeOut, 404: Problem})
def get_case_type(path: CaseTypePath, query: CaseTypeQuery):
    """One version of a case type with its definition (default: the latest)."""
    return call("cases", "get_case_type", path.key, query.version)


@bp.post("/case-types/<key>/migrations", responses={200: CaseTypeMigrationOut, 404: Problem, 422: Problem})
def migrate_case_type(path: CaseTypePath, body: TypeMigrationIn):
    """Move open cases of the type to a newer version (admins). ``dry_run`` (the default) lists
    what would change for each case and what blocks it; ``stage_map`` renames stages."""
    principal(ROLE_ADMIN)
    return call("cases", "migrate_case_type", path.key, body.model_dump(mode="json"))


@bp.post("/intake", responses={200: IntakeResult, 422: Problem})
def intake(body: IntakeIn):
    """Take in one inbound item: it joins the case it belongs to (reference in the subject,
    thread keys, or a known sender with one open case of the type) or opens a new case. A
    redelivery of the same provider id changes nothing."""
    principal(ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN)
    return call("cases", "intake", body.model_dump(mode="json"))
