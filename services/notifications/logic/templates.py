"""Templates per event and locale: files under ``templates/`` overridden by rows an admin saved.

Rendered in Jinja2's sandbox (no access to underscored or unsafe attributes, no calls to
arbitrary methods) with ``StrictUndefined`` so a typo is an error at save time, not a blank in a
customer's letter. HTML bodies are autoescaped; text bodies and subjects are not (they are never
interpreted as HTML), and subjects lose line breaks (no header injection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.orm import Session

from casekit import preconditions
from casekit.db import utcnow
from casekit.errors import InvalidInput, NotFound
from services.notifications.models import Template

FILES = Path(__file__).resolve().parents[1] / "templates"
PARTS = ("subject", "text", "html")
_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_html_env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def _from_files(event: str, locale: str) -> dict[str, str | None] | None:
    found: dict[str, str | None] = {}
    for part in PARTS:
        path = FILES / event / f"{locale}.{part}"
        found[part] = path.read_text(encoding="utf-8") if path.is_file() else None
    return found if found["text"] is not None else None


def load(session: Session, event: str, locale: str = "en") -> dict[str, Any]:
    """The template for ``event`` in ``locale`` (falling back to ``en``): database, then files.

    ``version`` is that of the admin's template stored under this event and locale (0: none, the
    file or the fallback is shown); it is what ``save``'s precondition is checked against.
    """
    for loc in dict.fromkeys([locale, "en"]):
        row = session.get(Template, (event, loc))
        if row is not None:
            return {
                "event": event,
                "locale": loc,
                "subject": row.subject,
                "text": row.text,
                "html": row.html,
                "source": "admin",
                "updated_by": row.updated_by,
                "version": row.version if loc == locale else 0,
            }
        files = _from_files(event, loc)
        if files is not None:
            return {
                "event": event,
                "locale": loc,
                **{k: files[k] or "" for k in ("subject", "text")},
                "html": files["html"],
                "source": "file",
                "updated_by": None,
                "version": 0,
            }
    raise NotFound(f"no template for {event!r}")


def render(template: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    try:
        subject = _text_env.from_string(template.get("subject") or "").render(variables)
        text = _text_env.from_string(template.get("text") or "").render(variables)
        html = _html_env.from_string(template["html"]).render(variables) if template.get("html") else None
    except TemplateError as exc:
        raise InvalidInput.from_field("template", f"cannot be rendered: {exc}") from None
    return {"subject": " ".join(subject.split())[:998], "text": text, "html": html}


SAMPLE = {
    "case": {
        "id": "00000000-0000-0000-0000-000000000000",
        "reference": "CMP-2026-000001",
        "title": "Sample",
        "stage": "received",
        "status": "open",
        "priority": "normal",
        "type": "complaint",
    },
    "customer": {"name": "Ann Smith", "email": "ann@example.org", "phone": None},
    "sender": {"name": "Staff", "user_id": "staff"},
    "message": "",
    "event": {},
}


def save(
    session: Session,
    event: str,
    locale: str,
    body: dict[str, Any],
    user_id: str | None,
    precondition: preconditions.Precondition | None = None,
) -> dict[str, Any]:
    """Store an admin's template after proving it renders against sample variables.

    ``precondition`` (If-Match / If-None-Match) is checked against the stored template's version
    (0 while the file or the fallback applies) under its row lock."""
    draft = {"subject": body.get("subject") or "", "text": body.get("text") or "", "html": body.get("html")}
    render(draft, SAMPLE)
    what = f"template {event}/{locale}"
    values = {**draft, "updated_by": user_id, "updated_at": utcnow()}
    row = preconditions.lock(session, Template, (event, locale), precondition, what)
    created = row is None
    if created:
        key = {"event": event, "locale": locale}
        row = preconditions.create(session, Template, {**key, **values}, precondition, what)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        preconditions.bump(row, created)
    session.flush()
    return load(session, event, locale)


def variables(
    case: dict[str, Any], *, message: str = "", sender: dict[str, Any] | None = None
) -> dict[str, Any]:
    customer = next((p for p in case.get("parties") or [] if p.get("role") == "customer"), None)
    customer = customer or (case.get("parties") or [{}])[0]
    return {
        "case": {k: case.get(k) for k in ("id", "reference", "title", "stage", "status", "priority", "type")},
        "customer": {
            "name": customer.get("name"),
            "email": (customer.get("emails") or [None])[0],
            "phone": (customer.get("phones") or [None])[0],
        },
        "sender": sender or {},
        "message": message,
        "event": {},
    }
