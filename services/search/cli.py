"""Operate the search index of a running suite over RPC (as an admin).

    python -m services.search.cli status            engine, size, lag, last rebuild
    python -m services.search.cli reindex [--batch N] rebuild beside the live index, swap, with a progress bar
    python -m services.search.cli check [--repair]   compare with the cases service; repair the drift
    python -m services.search.cli reports status     rows in the reports read model
    python -m services.search.cli reports rebuild    rebuild the reports from the cases history (progress bar)

``AMQP_URI`` names the broker (default: the local development one); ``reports`` also needs
``SEARCH_DB_URL`` (the reports database; default: the local development one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

from nameko.standalone.rpc import ClusterRpcProxy

from casekit.context import ROLE_ADMIN, Principal


def progress_bar(copied: int, total: int, seconds: float, width: int = 40) -> str:
    share = 1.0 if total <= 0 else min(1.0, copied / total)
    filled = int(share * width)
    rate = copied / seconds if seconds > 0 else 0.0
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {share:6.1%} {copied}/{total} cases {seconds:6.1f} s {rate:8.0f}/s"


def follow_rebuild(rpc: Any, out: TextIO, poll: float = 0.5, timeout: float = 24 * 3600) -> dict[str, Any]:
    """Draw the rebuild's progress until it finishes; return its final state."""
    deadline = time.monotonic() + timeout
    while True:
        state = rpc.search.status()["rebuild"]
        out.write("\r" + progress_bar(state["copied"], state["total"], state["seconds"] or 0.0))
        out.flush()
        if not state["running"] or time.monotonic() > deadline:
            out.write("\n")
            return state
        time.sleep(poll)


def reports_command(rpc: Any, action: str, page: int) -> int:
    from sqlalchemy.orm import sessionmaker

    from casekit.db import make_engine
    from services.search.reports import history, ingest

    url = os.environ.get(
        "SEARCH_DB_URL", "postgresql+psycopg2://casework:casework@127.0.0.1:5432/casework_search"
    )
    engine = make_engine(url, pool_size=1)
    sessions = sessionmaker(bind=engine)
    try:
        if action == "status":
            with sessions() as session:
                print(json.dumps(ingest.counts(session), indent=2))
        else:
            result = history.rebuild(sessions, lambda after: rpc.cases.history_page(after, page), sys.stderr)
            print(json.dumps(result, indent=2))
    finally:
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.search.cli", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status")
    reindex = sub.add_parser("reindex")
    reindex.add_argument("--batch", type=int, default=500, help="sources per bulk batch")
    check = sub.add_parser("check")
    check.add_argument("--repair", action="store_true")
    reports = sub.add_parser("reports")
    reports.add_argument("action", choices=["status", "rebuild"])
    reports.add_argument("--page", type=int, default=500, help="cases per history page")
    args = parser.parse_args(argv)

    config = {"AMQP_URI": os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")}
    principal = Principal(user_id="cli:search", roles=(ROLE_ADMIN,))
    with ClusterRpcProxy(config, timeout=3600, context_data=principal.context_data()) as rpc:
        if args.command == "status":
            print(json.dumps(rpc.search.status(), indent=2))
        elif args.command == "reindex":
            started = rpc.search.reindex(args.batch)
            if not started["started"]:
                print("a rebuild is already running; following it", file=sys.stderr)
            state = follow_rebuild(rpc, sys.stderr)
            print(json.dumps(state, indent=2))
            return 1 if state["error"] else 0
        elif args.command == "reports":
            return reports_command(rpc, args.action, args.page)
        else:
            print(json.dumps(rpc.search.check_drift(args.repair), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
