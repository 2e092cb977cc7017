"""One real suite per test session: every service, relay and the gateway as processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg2
import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client, create_user, running_suite
from casekit.testing.waiting import eventually  # noqa: F401 - re-exported for the tests

pytestmark = pytest.mark.e2e

E2E_ENV = {
    "RPC_TIMEOUT": "4",  # a killed callee turns into a 503 quickly
    "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
    "GATEWAY_WORKERS": "2",
    "GATEWAY_ACCESS_LOG": "",
    "SLA_TIMER_INTERVAL": "1",  # routing looks for due SLA warnings and breaches every second
    # the suite drives the gateway hard from one address; the limits are tested in tests/unit/gateway
    "RATE_LIMIT_IP": "100000/minute",
    "RATE_LIMIT_USER": "100000/minute",
    "RATE_LIMIT_AUTH": "10000/minute",
    "WEBHOOK_BACKOFF": "0.2",  # webhook retries within a test's patience
    "WEBHOOK_POLL": "0.2",
    # channels (issue 6): quick retries, a short dispatcher lease, a webhook secret, local media
    "DISPATCH_BACKOFF": "0.3",
    "DISPATCH_LEASE": "3",
    "DISPATCH_POLL": "0.2",
    "CASEWORK_MAIL_DOMAIN": "casework.test",
    "TWILIO_AUTH_TOKEN": "e2e-twilio-auth-token",
    "MEDIA_URL_PREFIXES": "http://127.0.0.1:",
    "SMTP_RATE_PER_SENDER": "1000",
    "EMAIL_MAX_ATTACHMENTS": "10",
}
PASSWORD = "casework-e2e-password"


@pytest.fixture(scope="package")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with running_suite(tmp_path_factory.mktemp("suite"), extra_env=E2E_ENV) as running:
        add_users(running)
        yield running


def add_users(running: Suite) -> None:
    """agent1, auditor1 and supervisor1 with PASSWORD (tests/browser reuses this too)."""
    for username, role in (("agent1", "agent"), ("auditor1", "auditor"), ("supervisor1", "supervisor")):
        create_user(running, username, role, PASSWORD)


@pytest.fixture(scope="package")
def admin(suite: Suite) -> Client:
    return Client(suite.gateway_url)


@pytest.fixture(scope="package")
def agent(suite: Suite) -> Client:
    return Client(suite.gateway_url, "agent1", PASSWORD)


@pytest.fixture(scope="package")
def auditor(suite: Suite) -> Client:
    return Client(suite.gateway_url, "auditor1", PASSWORD)


@pytest.fixture(scope="package")
def supervisor(suite: Suite) -> Client:
    return Client(suite.gateway_url, "supervisor1", PASSWORD)


@pytest.fixture(scope="package")
def anonymous(suite: Suite) -> Client:
    return Client(suite.gateway_url, username="")


def superuser_connect(dbname: str) -> psycopg2.extensions.connection | None:
    """A connection as the PostgreSQL superuser ``postgres`` (trust auth on loopback), or None."""
    host, port = infra.PG_HOSTPORT.split(":")
    try:
        return psycopg2.connect(host=host, port=port, user="postgres", dbname=dbname, connect_timeout=5)
    except psycopg2.OperationalError:
        return None


@pytest.fixture(scope="package")
def sql(suite: Suite) -> Callable[[str, str, tuple], list[tuple]]:
    """Run a query against one service's database: ``sql("cases", "SELECT ...", params)``.

    Tests use it to look behind the services' backs and to simulate loss or forgery, so it runs
    as the PostgreSQL superuser with triggers off (``session_replication_role = replica``: no
    foreign-key checks, no append-only guard on the audit log) when one is reachable on loopback,
    and as the application's role otherwise (then such a simulation fails with the guard's
    message). ``app_sql`` always runs as the application's role.
    """

    def run(service: str, query: str, params: tuple = ()) -> list[tuple]:
        url = suite.env[f"{service.upper()}_DB_URL"].replace("postgresql+psycopg2://", "postgresql://")
        conn = superuser_connect(url.rsplit("/", 1)[1])
        if conn is None:
            conn = psycopg2.connect(url)
        try:
            with conn, conn.cursor() as cur:
                if conn.info.user == "postgres":
                    cur.execute("SET session_replication_role = replica")
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run


@pytest.fixture(scope="package")
def app_sql(suite: Suite) -> Callable[[str, str, tuple], list[tuple]]:
    """Like ``sql``, as the application's database role (what the services can and cannot do)."""

    def run(service: str, query: str, params: tuple = ()) -> list[tuple]:
        url = suite.env[f"{service.upper()}_DB_URL"].replace("postgresql+psycopg2://", "postgresql://")
        conn = psycopg2.connect(url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run
