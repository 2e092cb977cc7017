"""A whole suite on fresh databases and a fresh vhost, for e2e tests, faults and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from casekit.launcher import Suite, default_env
from casekit.testing import infra

ADMIN = ("admin", "casework-test-admin")
# with CASEWORK_OWN_BROKER=1 every suite runs on a RabbitMQ node of its own (bin/chaos sets it),
# so a long fault run neither disturbs nor depends on the machine's broker
OWN_BROKER_ENV = "CASEWORK_OWN_BROKER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# tests and benchmarks drive the gateway hard from one address and a few users: the rate limits
# are tested on their own (tests/unit/gateway); here they must not shape the figures
LOAD_LIMITS = {
    "RATE_LIMIT_IP": "1000000/minute",
    "RATE_LIMIT_USER": "1000000/minute",
    "RATE_LIMIT_AUTH": "100000/minute",
}


@contextmanager
def running_suite(
    run_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    broker: tuple[str, str] | None = None,
    pg: str | None = None,
) -> Iterator[Suite]:
    """Start every process on throwaway databases and vhost; stop and drop them afterwards.

    With ``CASEWORK_OWN_BROKER=1`` (and no ``broker``) the suite gets a broker node of its own.

    ``broker`` is ``(management api, amqp base uri)`` and ``pg`` a ``host:port`` of a broker
    node or PostgreSQL cluster the caller started (see ``broker.py`` and ``postgres.py``).
    """
    if broker is None and os.environ.get(OWN_BROKER_ENV) == "1":
        from casekit.testing.broker import OwnBroker

        node = OwnBroker(Path(run_dir) / "rabbit")
        node.start()
        try:
            with running_suite(
                run_dir,
                extra_env=extra_env,
                pg=pg,
                broker=(node.api, f"pyamqp://guest:guest@127.0.0.1:{node.port}"),
            ) as suite:
                yield suite
        finally:
            node.stop()
            node.kill()
        return
    tag = uuid.uuid4().hex[:8]
    prefix = f"casework_t{tag}"
    api, amqp_base = broker or (infra.RABBIT_API, infra.AMQP_BASE)
    hostport = pg or infra.PG_HOSTPORT
    with (
        infra.databases(prefix, migrated=True, hostport=hostport),
        infra.vhost(f"casework-{tag}", api, amqp_base) as amqp_uri,
    ):
        env = default_env(
            run_dir,
            db_prefix=prefix,
            port=free_port(),
            amqp_uri=amqp_uri,
            pg=f"{infra.PG_USER}:{infra.PG_PASSWORD}@{hostport}",
        )
        env.update(LOAD_LIMITS)
        env.update(extra_env or {})
        env["CASEWORK_VHOST"] = amqp_uri.rsplit("/", 1)[1]
        suite = Suite(run_dir, env, python=sys.executable)
        try:
            suite.start()
            suite.wait_ready()
            seed_admin(suite)
            yield suite
        finally:
            suite.stop()


def create_user(suite: Suite, username: str, role: str, password: str, team: str | None = None) -> None:
    """``gateway.cli create-user`` against the suite's gateway database."""
    argv = [suite.python, "-m", "gateway.cli", "create-user", username, "--role", role]
    argv += ["--password", password]
    if team:
        argv += ["--team", team]
    done = subprocess.run(
        argv, cwd=infra.ROOT, env={**os.environ, **suite.env}, check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, f"create-user {username} failed: {done.stderr[-2000:]}"


def seed_admin(suite: Suite) -> None:
    subprocess.run(
        [suite.python, "-m", "gateway.cli", "seed-demo", "--username", ADMIN[0], "--password", ADMIN[1]],
        cwd=infra.ROOT,
        env={**os.environ, **suite.env},
        check=True,
        capture_output=True,
        timeout=60,
    )


class Client:
    """A small HTTP client for the gateway that logs in, and logs in again when its access token
    has expired (as any long-running integration does: a soak outlives the 15-minute token)."""

    def __init__(self, base_url: str, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
        self.base = base_url
        self.http = requests.Session()
        self.credentials = (username, password) if username else None
        if self.credentials:
            self.sign_in()

    def sign_in(self) -> None:
        username, password = self.credentials or ("", "")
        token = self.http.post(
            f"{self.base}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10
        )
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        response = self.http.request(method, self.base + path, **kwargs)
        expired = response.status_code == 401 and "expired" in response.text.lower()
        if expired and self.credentials:
            self.sign_in()
            response = self.http.request(method, self.base + path, **kwargs)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)
