"""Migrations CLI: ``python -m casekit.migrate {upgrade,downgrade,revision,current} SERVICE``.

Services apply their migrations when they start; this command is for operators
and for writing new revisions (``revision --autogenerate -m "..."``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from alembic import command

from casekit.db import alembic_config, migrate

ROOT = Path(__file__).resolve().parents[1]
SQL_SERVICES = ("cases", "documents", "routing", "notifications", "gateway", "search")


def migrations_dir(service: str) -> Path:
    if service == "gateway":
        return ROOT / "gateway" / "migrations"
    return ROOT / "services" / service / "migrations"


def default_url(service: str) -> str:
    return os.environ.get(
        f"{service.upper()}_DB_URL",
        f"postgresql+psycopg2://casework:casework@127.0.0.1:5432/casework_{service}",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["upgrade", "downgrade", "revision", "current"])
    parser.add_argument("service", choices=SQL_SERVICES)
    parser.add_argument("--url")
    parser.add_argument("--to", default=None, help="target revision (upgrade: head, downgrade: base)")
    parser.add_argument("-m", "--message", default="change")
    parser.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    url = args.url or default_url(args.service)
    where = migrations_dir(args.service)
    cfg = alembic_config(where, url)
    if args.action == "upgrade":
        migrate(where, url, args.to or "heads")
    elif args.action == "downgrade":
        command.downgrade(cfg, args.to or "base")
    elif args.action == "revision":
        command.revision(cfg, message=args.message, autogenerate=args.autogenerate)
    else:
        command.current(cfg, verbose=True)


if __name__ == "__main__":
    main()
