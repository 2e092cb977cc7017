"""Start, stop and watch the whole suite as local processes (``make run``, tests, benchmarks).

Each process runs in its own session so a stop reaches its children (gunicorn
workers) too; its pid goes to ``<run-dir>/pids/<name>.pid`` and its output to
``<run-dir>/logs/<name>.log``. Starting is idempotent: a process whose pid file
names a live process is left alone. Services are named by module path only;
nothing here imports a service.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("cases", "documents", "routing", "notifications", "search")
RELAYS = ("cases", "documents", "routing", "notifications")
SQL_DATABASES = ("cases", "documents", "routing", "notifications", "gateway", "search")
# channel adapters (issue 6), each its own process: (process name, module)
ADAPTERS = (("smtp-in", "smtp_in"), ("dispatcher", "dispatcher"), ("mail-sink", "sink"))
# started here for development only, never deployed: the sink stands in for a real SMTP relay
DEVELOPMENT_ONLY = frozenset({"mail-sink"})


def default_env(
    run_dir: Path,
    *,
    db_prefix: str = "casework",
    port: int = 8000,
    amqp_uri: str = "pyamqp://guest:guest@127.0.0.1:5672/",
    pg: str = "casework:casework@127.0.0.1:5432",
) -> dict[str, str]:
    env = {
        "AMQP_URI": amqp_uri,
        "GATEWAY_BIND": f"127.0.0.1:{port}",
        "SEARCH_DATA_DIR": str(run_dir / "data" / "search"),
        "DOCUMENTS_DATA_DIR": str(run_dir / "data" / "documents"),
        "CASEWORK_ENV": "development",
    }
    for name in SQL_DATABASES:
        env[f"{name.upper()}_DB_URL"] = f"postgresql+psycopg2://{pg}/{db_prefix}_{name}"
    # channels (issue 6): the inbound SMTP listener, and a local sink as the outbound relay
    smtp_in, sink = (2525, 2526) if port == 8000 else (_free_port(), _free_port())
    env["SMTP_IN_BIND"] = f"127.0.0.1:{smtp_in}"
    env["MAIL_SINK_BIND"] = env["SMTP_RELAY"] = f"127.0.0.1:{sink}"
    env["MAIL_SINK_DIR"] = str(run_dir / "mail")
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Spec:
    name: str
    argv: list[str]

    @property
    def deployed(self) -> bool:
        """Whether docker-compose.yml and deploy/k8s run it too (tests/unit/test_deploy.py checks)."""
        return self.name.partition("#")[0] not in DEVELOPMENT_ONLY


def specs(python: str = sys.executable) -> list[Spec]:
    bindir = Path(python).parent
    out = [
        Spec(
            name,
            [
                str(bindir / "nameko"),
                "run",
                "--config",
                f"services/{name}/config.yml",
                f"services.{name}.service",
            ],
        )
        for name in SERVICES
    ]
    out += [Spec(f"relay-{name}", [python, "-m", "casekit.relay", "--service", name]) for name in RELAYS]
    out.append(
        Spec(
            "gateway", [str(bindir / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "gateway.wsgi:application"]
        )
    )
    return out


def webhook_specs(python: str = sys.executable) -> list[Spec]:
    """The gateway's webhook dispatcher (issue 8): bus events to signed POSTs."""
    return [Spec("webhooks", [python, "-m", "gateway.webhooks"])]


def adapter_specs(python: str = sys.executable) -> list[Spec]:
    """The channel adapters (issue 6); ``make run`` and the e2e suite start them with the rest."""
    return [
        Spec(name, [python, "-m", f"services.notifications.adapters.{module}"]) for name, module in ADAPTERS
    ]


def all_specs(python: str = sys.executable) -> list[Spec]:
    """Every process the suite starts: services, relays, the gateway, adapters, webhooks."""
    return [*specs(python), *adapter_specs(python), *webhook_specs(python)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its third field (state, ppid, ...) on, or None if it is gone.

    The command name may hold spaces and ')', so the fields start after the last ')'."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _started_at(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch (from /proc), or None if unknown."""
    fields = stat_fields(pid)
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    # field 22 of the file: starttime, in clock ticks since boot
    return None if fields is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


# /proc/stat's btime is whole seconds: allow for its rounding when comparing with a file's mtime
_CLOCK_SLACK = 2.0


@dataclass
class Suite:
    run_dir: Path
    env: dict[str, str]
    python: str = sys.executable
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        (self.run_dir / "pids").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.specs = {s.name: s for s in all_specs(self.python)}

    @property
    def gateway_url(self) -> str:
        return "http://" + self.env["GATEWAY_BIND"]

    def add_replica(self, name: str) -> str:
        """Register another instance of process ``name``; start it with ``start([replica])``."""
        count = sum(1 for n in self.specs if n == name or n.startswith(f"{name}#"))
        replica = f"{name}#{count + 1}"
        self.specs[replica] = Spec(replica, list(self.specs[name].argv))
        return replica

    def pid(self, name: str) -> int | None:
        """The live process ``name`` runs as, or None.

        A pid file is written just after its process starts, so a live process that
        started after the file was written is a stranger that reused the pid (pid_max
        wraps within an hour on a busy test machine): it is never ours to signal.
        """
        path = self.run_dir / "pids" / f"{name}.pid"
        try:
            pid = int(path.read_text())
            written = path.stat().st_mtime
        except (FileNotFoundError, ValueError):
            return None
        if pid <= 0 or not _alive(pid):
            return None
        started = _started_at(pid)
        if started is not None and started > written + _CLOCK_SLACK:
            return None
        return pid

    def start(self, names: list[str] | None = None, extra_env: dict[str, str] | None = None) -> None:
        for name in names or list(self.specs):
            if self.pid(name):
                continue
            env = {**os.environ, **self.env, **(extra_env or {})}
            log = open(self.run_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
            proc = subprocess.Popen(
                self.specs[name].argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.procs[name] = proc
            (self.run_dir / "pids" / f"{name}.pid").write_text(str(proc.pid))

    def signal(self, name: str, sig: int) -> None:
        pid = self.pid(name)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> None:
        names = names or list(self.specs)
        for name in names:
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in names:
            while self.pid(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid(name):
                self.signal(name, signal.SIGKILL)
            (self.run_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)
            self.procs.pop(name, None)

    def kill(self, name: str) -> None:
        """SIGKILL a process (and its children) without a chance to clean up."""
        self.signal(name, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.pid(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        (self.run_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)

    def status(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in self.specs}

    def wait_ready(self, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        last: dict | str = "no answer"
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"exited during start: {', '.join(dead)}; see {self.run_dir}/logs")
            try:
                response = requests.get(self.gateway_url + "/readyz", timeout=5)
                last = response.json()
                if response.status_code == 200:
                    return last
            except (requests.RequestException, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"the suite was not ready in {timeout}s: {last}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status", "wait"])
    parser.add_argument("--run-dir", default=str(ROOT / "run"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    env = default_env(run_dir, port=args.port)
    env.update({k: v for k, v in os.environ.items() if k in env})
    suite = Suite(run_dir, env)
    if args.action == "start":
        suite.start()
        print(f"started; logs in {run_dir / 'logs'}")
    elif args.action == "wait":
        suite.wait_ready()
        print("ready")
    elif args.action == "stop":
        suite.stop()
        print("stopped")
    else:
        for name, pid in suite.status().items():
            print(f"{name:22} {'running pid ' + str(pid) if pid else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
