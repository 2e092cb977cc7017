"""Gateway administration: ``python -m gateway.cli {create-user,seed-demo,migrate}``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from casekit.context import ROLE_ADMIN, Principal
from casekit.db import make_engine, migrate, transaction
from casekit.errors import CaseworkError
from gateway.clients import PooledRpc
from gateway.settings import Settings
from gateway.users import User, create_user

MIGRATIONS = Path(__file__).parent / "migrations"
DEMO_TYPE = Path(__file__).resolve().parents[1] / "deploy" / "demo" / "complaint.yaml"


def _sessions(settings: Settings) -> sessionmaker:
    return sessionmaker(bind=make_engine(settings.db_url, pool_size=1), expire_on_commit=False)


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password or os.environ.get("CASEWORK_PASSWORD") or getpass.getpass("Password: ")
    with transaction(_sessions(settings)) as session:
        user = create_user(
            session,
            username=args.username,
            password=password,
            roles=args.role,
            display_name=args.name,
            teams=args.team,
        )
        print(f"created user {user.username} ({user.id}) with roles {', '.join(user.roles)}")
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Create the demo admin (if missing), load the demo case type, staff the default queue."""
    with transaction(_sessions(settings)) as session:
        admin = session.scalars(select(User).where(User.username == args.username)).first()
        if admin is None:
            admin = create_user(
                session,
                username=args.username,
                password=args.password,
                roles=[ROLE_ADMIN, "supervisor", "agent"],
                display_name="Demo admin",
            )
            print(f"created demo user {admin.username}")
        admin_id = admin.id
    rpc = PooledRpc(settings.amqp_uri, timeout=30)
    system = Principal(user_id=admin_id, roles=(ROLE_ADMIN, "supervisor"))
    definition = yaml.safe_load(DEMO_TYPE.read_text())
    loaded = rpc.call(system, "cases", "load_case_type", definition)
    print(f"case type {loaded['key']} v{loaded['version']} loaded")
    rpc.call(system, "routing", "add_queue_member", "default", admin_id, "supervisor")
    print(f"{args.username} supervises the default queue")
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    migrate(MIGRATIONS, settings.db_url)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-user", help="create a built-in user")
    p.add_argument("username")
    p.add_argument("--role", action="append", required=True, help="agent, supervisor, admin, auditor")
    p.add_argument("--team", action="append", default=[], help="a team the user belongs to (repeatable)")
    p.add_argument("--name")
    p.add_argument("--password", help="default: $CASEWORK_PASSWORD or a prompt")
    p.set_defaults(func=cmd_create_user)
    p = sub.add_parser("seed-demo", help="demo admin user, demo case type, default queue staffing")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default=os.environ.get("CASEWORK_DEMO_PASSWORD", "casework-demo"))
    p.set_defaults(func=cmd_seed_demo)
    p = sub.add_parser("migrate", help="apply the gateway's migrations")
    p.set_defaults(func=cmd_migrate)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        return int(args.func(args, settings))
    except CaseworkError as exc:
        print(f"error: {exc.message} {getattr(exc, 'fields', '') or ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
