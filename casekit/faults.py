"""Named crash points for fault tests: ``CASEWORK_CRASHPOINT=name`` exits the process there."""

from __future__ import annotations

import os

_ENV = "CASEWORK_CRASHPOINT"


def crashpoint(name: str) -> None:
    if os.environ.get(_ENV) == name:
        os._exit(137)
