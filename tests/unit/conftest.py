"""Unit tier: no servers. Hypothesis has no per-example deadline: a loaded machine is not a failure."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("unit", deadline=None, print_blob=True)
settings.load_profile("unit")
