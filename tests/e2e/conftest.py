"""One real suite per test session: every service, relay and the gateway as processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client, running_suite
from casekit.testing.waiting import eventually  # noqa: F401 - re-exported for the tests

pytestmark = pytest.mark.e2e

E2E_ENV = {
    "RPC_TIMEOUT": "4",  # a killed callee turns into a 503 quickly
    "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
    "GATEWAY_WORKERS": "2",
    "GATEWAY_ACCESS_LOG": "",
}
PASSWORD = "casework-e2e-password"


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with running_suite(tmp_path_factory.mktemp("suite"), extra_env=E2E_ENV) as running:
        for username, role in (("agent1", "agent"), ("auditor1", "auditor")):
            subprocess.run(
                [
                    running.python,
                    "-m",
                    "gateway.cli",
                    "create-user",
                    username,
                    "--role",
                    role,
                    "--password",
                    PASSWORD,
                ],
                cwd=infra.ROOT,
                env={**os.environ, **running.env},
                check=True,
                capture_output=True,
            )
        yield running


@pytest.fixture(scope="session")
def admin(suite: Suite) -> Client:
    return Client(suite.gateway_url)


@pytest.fixture(scope="session")
def agent(suite: Suite) -> Client:
    return Client(suite.gateway_url, "agent1", PASSWORD)


@pytest.fixture(scope="session")
def auditor(suite: Suite) -> Client:
    return Client(suite.gateway_url, "auditor1", PASSWORD)


@pytest.fixture(scope="session")
def anonymous(suite: Suite) -> Client:
    return Client(suite.gateway_url, username="")


@pytest.fixture(scope="session")
def sql(suite: Suite) -> Callable[[str, str, tuple], list[tuple]]:
    """Run a query against one service's database: ``sql("cases", "SELECT ...", params)``."""

    def run(service: str, query: str, params: tuple = ()) -> list[tuple]:
        url = suite.env[f"{service.upper()}_DB_URL"].replace("postgresql+psycopg2://", "postgresql://")
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run
