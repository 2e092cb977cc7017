"""Gateway administration: ``python -m gateway.cli {create-user,seed-demo,migrate,load-case-type,
migrate-cases}``."""

from __future__ import annotations

import argparse
import getpass
import json
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
DEMO_DIR = Path(__file__).resolve().parents[1] / "deploy" / "demo"
ROUTING_DEMO = DEMO_DIR / "routing" / "rules.yaml"  # queues and rules; admin.yaml beside it: the profile


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
    """Create the demo admin (if missing), load the demo case types, staff the default queue."""
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
    for path in sorted(DEMO_DIR.glob("*.yaml")):
        loaded = rpc.call(system, "cases", "load_case_type", yaml.safe_load(path.read_text()))
        print(f"case type {loaded['key']} v{loaded['version']} loaded")
    routing = yaml.safe_load(ROUTING_DEMO.read_text())
    routing["agents"] = {admin_id: yaml.safe_load(ROUTING_DEMO.with_name("admin.yaml").read_text())}
    routing["members"] = {q["name"]: {admin_id: "supervisor"} for q in routing.get("queues", [])}
    loaded = rpc.call(system, "routing", "load_routing", routing)
    print(f"routing rules v{loaded['rules_version']} in force ({len(loaded['queues'])} demo queues)")
    rpc.call(system, "routing", "add_queue_member", "default", admin_id, "supervisor")
    print(f"{args.username} supervises the default queue")
    return 0


def _admin_principal(settings: Settings, username: str) -> Principal:
    with transaction(_sessions(settings)) as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise SystemExit(f"error: no user {username!r}")
        return Principal(user_id=user.id, roles=tuple(user.roles or ()), teams=tuple(user.teams or ()))


def cmd_load_case_type(args: argparse.Namespace, settings: Settings) -> int:
    """Load a YAML (or JSON) case type definition; a changed one becomes the next version."""
    definition = yaml.safe_load(Path(args.path).read_text())
    rpc = PooledRpc(settings.amqp_uri, timeout=30)
    loaded = rpc.call(_admin_principal(settings, args.as_user), "cases", "load_case_type", definition)
    print(f"case type {loaded['key']} v{loaded['version']} loaded")
    return 0


def cmd_migrate_cases(args: argparse.Namespace, settings: Settings) -> int:
    """Move open cases of a type to a newer version; prints what changes (and what blocks) per case."""
    stage_map = dict(pair.split("=", 1) for pair in args.map)
    request = {"dry_run": not args.apply, "stage_map": stage_map, "to_version": args.to_version}
    rpc = PooledRpc(settings.amqp_uri, timeout=120)
    result = rpc.call(
        _admin_principal(settings, args.as_user), "cases", "migrate_case_type", args.key, request
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    verb = "would move" if result["dry_run"] else "moved"
    for plan in result["cases"]:
        state = "BLOCKED" if plan["problems"] else "ok"
        print(f"{plan['reference']}  v{plan['from_version']} -> v{plan['to_version']}  {state}")
        for change in plan["changes"]:
            print(f"    {change}")
        for problem in plan["problems"]:
            print(f"    blocked: {problem['field']}: {problem['message']}")
    moving = len(result["cases"]) - result["blocked"]
    print(
        f"{verb} {moving if result['dry_run'] else result['migrated']} case(s) to v{result['to_version']}; "
        f"{result['blocked']} blocked"
    )
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
    p = sub.add_parser("load-case-type", help="load a case type definition (YAML) as its next version")
    p.add_argument("path")
    p.add_argument("--as-user", default="admin", help="an admin or supervisor user (default: admin)")
    p.set_defaults(func=cmd_load_case_type)
    p = sub.add_parser(
        "migrate-cases", help="move open cases of a type to a newer version (dry run by default)"
    )
    p.add_argument("key")
    p.add_argument("--to-version", type=int)
    p.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="rename a stage (repeatable)"
    )
    p.add_argument("--apply", action="store_true", help="change the cases (default: a dry run)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--as-user", default="admin", help="an admin user (default: admin)")
    p.set_defaults(func=cmd_migrate_cases)
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
