"""The long fault tier (``make chaos``): hundreds of operations per fault, and a summary table.

Not part of ``make test``. Prints: fault, operations, acknowledged, lost, duplicated,
phantoms, consumer effects missing/doubled, recovery time and drain time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from casekit.launcher import Suite
from casekit.testing import checker
from tests.e2e.test_faults import FAULT_TARGETS, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]
OPERATIONS = int(os.environ.get("CASEWORK_CHAOS_OPERATIONS", "600"))
RESULTS: list[checker.Verdict] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if RESULTS:
        print("\n\nChaos summary (make chaos)\n" + checker.table(RESULTS))
        print("\n" + checker.table(RESULTS, markdown=True))


@pytest.mark.parametrize("target", FAULT_TARGETS)
def test_chaos(suite: Suite, target: str) -> None:
    verdict, ops = run_fault(suite, target, count=OPERATIONS, threads=12)
    RESULTS.append(verdict)
    assert verdict.clean, checker.describe(verdict, ops)
