"""Identifiers on the wire: every object id is a random UUID string."""

from __future__ import annotations

import uuid


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)
