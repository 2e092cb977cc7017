"""Turn pydantic validation errors into the typed ``InvalidInput`` error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from casekit.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"])
        out.append(
            {"field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body", "message": err["msg"]}
        )
    return out


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; raise ``InvalidInput`` naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = field_errors(exc)
        raise InvalidInput("invalid input", fields) from None
