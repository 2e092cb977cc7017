"""Throwaway databases and RabbitMQ vhosts, so each test run or benchmark starts clean."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import requests

from casekit.db import migrate
from casekit.launcher import SQL_DATABASES

ROOT = Path(__file__).resolve().parents[2]
PG_USER = os.environ.get("CASEWORK_DB_USER", "casework")
PG_PASSWORD = os.environ.get("CASEWORK_DB_PASSWORD", "casework")
PG_HOSTPORT = os.environ.get("CASEWORK_PG", "127.0.0.1:5432")
RABBIT_API = os.environ.get("RABBIT_API", "http://127.0.0.1:15672/api")
RABBIT_AUTH = ("guest", "guest")
AMQP_BASE = "pyamqp://guest:guest@127.0.0.1:5672"


def pg_url(db: str, hostport: str | None = None) -> str:
    return f"postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@{hostport or PG_HOSTPORT}/{db}"


def _admin(hostport: str | None = None) -> psycopg2.extensions.connection:
    host, port = (hostport or PG_HOSTPORT).split(":")
    conn = psycopg2.connect(host=host, port=port, user=PG_USER, password=PG_PASSWORD, dbname="postgres")
    conn.autocommit = True
    return conn


def create_database(name: str, hostport: str | None = None) -> str:
    conn = _admin(hostport)
    try:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return pg_url(name, hostport)


def drop_database(name: str, hostport: str | None = None) -> None:
    try:
        conn = _admin(hostport)
    except psycopg2.OperationalError:  # a cluster a fault test stopped may be gone
        return
    try:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def migrations_dir(service: str) -> Path:
    if service == "gateway":
        return ROOT / "gateway" / "migrations"
    return ROOT / "services" / service / "migrations"


@contextmanager
def databases(
    prefix: str,
    services: tuple[str, ...] = SQL_DATABASES,
    migrated: bool = False,
    hostport: str | None = None,
) -> Iterator[dict[str, str]]:
    """``{service: url}`` for fresh databases named ``<prefix>_<service>``, dropped afterwards."""
    urls = {s: create_database(f"{prefix}_{s}", hostport) for s in services}
    try:
        if migrated:
            for service, url in urls.items():
                migrate(migrations_dir(service), url)
        yield urls
    finally:
        for s in services:
            drop_database(f"{prefix}_{s}", hostport)


def create_vhost(name: str, api: str = RABBIT_API, amqp_base: str = AMQP_BASE) -> str:
    # vhost creation can take many seconds on a busy node
    requests.put(f"{api}/vhosts/{name}", auth=RABBIT_AUTH, timeout=90).raise_for_status()
    requests.put(
        f"{api}/permissions/{name}/guest",
        auth=RABBIT_AUTH,
        timeout=10,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    return f"{amqp_base}/{name}"


def delete_vhost(name: str, api: str = RABBIT_API) -> None:
    with contextlib.suppress(requests.RequestException):  # a broker a fault test killed may be gone
        requests.delete(f"{api}/vhosts/{name}", auth=RABBIT_AUTH, timeout=10)


@contextmanager
def vhost(prefix: str = "casework-test", api: str = RABBIT_API, amqp_base: str = AMQP_BASE) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    uri = create_vhost(name, api, amqp_base)
    try:
        yield uri
    finally:
        delete_vhost(name, api)


def queues(vhost_name: str) -> list[dict]:
    response = requests.get(f"{RABBIT_API}/queues/{vhost_name}", auth=RABBIT_AUTH, timeout=10)
    response.raise_for_status()
    return response.json()
