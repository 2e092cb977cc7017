"""A RabbitMQ node of the test's own, on its own ports and data directory, to crash at will.

Faults go only to processes a test started: never to the machine's own broker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import requests

from casekit.testing.suite import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class OwnBroker:
    def __init__(self, base: Path, name: str = "cwfault") -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.node = f"{name}-{uuid.uuid4().hex[:6]}@localhost"  # never collides with a leftover node
        self.port, self.api_port, self.dist_port = free_port(), free_port(), free_port()
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.port = {self.api_port}\nmanagement.tcp.ip = 127.0.0.1\n"
            "heartbeat = 10\n"
        )
        (self.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        self.proc: subprocess.Popen | None = None

    @property
    def amqp_uri(self) -> str:
        return f"pyamqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }

    def start(self, timeout: float = 120.0) -> None:
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [SERVER],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.base,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.api}/overview", auth=("guest", "guest"), timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq exited; see {self.base / 'server.log'}")
            time.sleep(0.5)
        raise TimeoutError(f"rabbitmq did not start in {timeout}s")

    def beam_pid(self) -> int:
        """The Erlang VM of this node (a child of the server script we started), never another."""
        from casekit.testing.nemesis import children

        assert self.proc is not None, "not running"
        todo, seen = [self.proc.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo.extend(children(pid))
        for pid in seen:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"beam.smp"):  # a descendant of our own script
                return pid
        raise RuntimeError(f"no beam.smp for {self.node}")

    def freeze(self) -> None:
        """SIGSTOP the VM: connections stay open, nothing answers (a hung broker)."""
        os.kill(self.beam_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.beam_pid(), signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the node: unconfirmed messages may be lost, confirmed ones must not be."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, "stop"],
            env=self.env(),
            capture_output=True,
            timeout=60,
            cwd=self.base,
        )
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None
