"""Turn pydantic validation errors into the typed ``InvalidInput`` error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, field_validator

from casekit.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def contains_nul(value: Any) -> bool:
    """True when a string anywhere in ``value`` (keys included) holds a NUL character.

    PostgreSQL refuses NUL in text and in JSONB, so such input must be turned away as
    invalid before it reaches the database instead of failing there.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class Contract(BaseModel):
    """Base of every RPC input schema: no NUL characters anywhere in a field."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


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
