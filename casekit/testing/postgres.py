"""A PostgreSQL cluster of the test's own (initdb + pg_ctl on its own port), to stop at will.

Faults go only to processes a test started: ``stop_immediate`` is ``pg_ctl stop -m immediate``
on this cluster's data directory, never the machine's server. The cluster has the same
``casework`` role as the machine's (``bin/start-deps``), so a suite runs on it unchanged
(``running_suite(..., pg=cluster.hostport)``). It runs with ``fsync`` and
``synchronous_commit`` on, as production must: an immediate stop is a crash, and what was
committed must survive it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from casekit.testing import infra
from casekit.testing.suite import free_port


def pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    if which is None:
        raise RuntimeError("pg_ctl not found: install postgresql")
    return Path(which).parent


class OwnPostgres:
    def __init__(
        self, base: Path | None = None, user: str = infra.PG_USER, password: str = infra.PG_PASSWORD
    ):
        # initdb refuses to run as root: then the cluster belongs to the ``postgres`` OS user,
        # in a directory of its own that user can reach (pytest's tmp dirs are root-only)
        self.as_root = os.geteuid() == 0
        self.base = Path(base) if base else Path(tempfile.mkdtemp(prefix="casework-pg-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.user, self.password = user, password
        self.bindir = pg_bindir()
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        os.chmod(self.base, 0o700)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, *argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, timeout=timeout, check=check, cwd=self.base
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=trust",  # loopback only, a throwaway cluster
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\n"
                "max_connections = 300\nshared_buffers = 32MB\n"
                "fsync = on\nsynchronous_commit = on\n"
                "logging_collector = off\n"
            )

    def start(self, timeout: float = 60) -> None:
        if not self.data.exists():
            self.init()
            first = True
        else:
            first = False
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        self.wait_ready(timeout)
        if first:
            conn = self.connect("postgres")
            try:
                conn.cursor().execute(f"CREATE ROLE {self.user} LOGIN CREATEDB PASSWORD %s", (self.password,))
            finally:
                conn.close()

    def connect(self, dbname: str = "postgres", user: str = "postgres") -> psycopg2.extensions.connection:
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=user, dbname=dbname, connect_timeout=5)
        conn.autocommit = True
        return conn

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def stop_immediate(self) -> None:
        """A crash: no checkpoint, clients cut off; the next start runs crash recovery."""
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False
        )

    def stop(self) -> None:
        if self.data.exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "-w",
                "stop",
                check=False,
                timeout=60,
            )

    def settings(self, *names: str) -> dict[str, str]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            out = {}
            for name in names:
                cur.execute(f"SHOW {name}")
                out[name] = cur.fetchone()[0]
            return out
        finally:
            conn.close()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
