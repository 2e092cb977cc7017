"""The chaos summary: ``python -m casekit.testing.report RESULTS.jsonl SUMMARY.md``.

Reads the verdicts the chaos tests appended (``checker.record``), prints the table and writes
it as Markdown (with the date and the run's settings) for the README's reliability section.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from casekit.testing.checker import table_from_rows


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    results, summary = Path(args[0]), Path(args[1])
    lines = results.read_text().splitlines() if results.exists() else []
    records = [json.loads(line) for line in lines if line.strip()]
    rows = [r["row"] for r in records]
    settings = ", ".join(
        f"{k}={os.environ[k]}"
        for k in ("CASEWORK_CHAOS_OPERATIONS", "CASEWORK_SOAK_SECONDS", "CASEWORK_SOAK_FAULT_EVERY")
        if k in os.environ
    )
    if not rows:
        print("no chaos results recorded")
        return 1
    print("\nChaos summary\n" + table_from_rows(rows))
    unclean = [r["row"][0] for r in records if not r["clean"]]
    head = f"Chaos run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC" + (f" ({settings})" if settings else "")
    body = table_from_rows(rows, markdown=True)
    tail = f"\n\nNot clean: {', '.join(unclean)}\n" if unclean else "\n\nEvery fault clean.\n"
    summary.write_text(f"{head}\n\n{body}{tail}")
    print(f"\nwritten to {summary}" + (f"; NOT CLEAN: {', '.join(unclean)}" if unclean else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
