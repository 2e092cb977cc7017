"""The launcher: what it starts, and its pid files, with a real short-lived child process."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from casekit.launcher import RELAYS, ROOT, SERVICES, Spec, Suite, default_env, specs


def gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.02)
    return False


def test_specs_name_every_service_relay_and_the_gateway() -> None:
    names = [s.name for s in specs()]

    assert names == [*SERVICES, *(f"relay-{r}" for r in RELAYS), "gateway"]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("service", SERVICES)
def test_service_spec_points_at_an_existing_module_and_config(service: str) -> None:
    (spec,) = [s for s in specs() if s.name == service]
    binary, command, flag, config, module = spec.argv

    assert command == "run" and flag == "--config"
    assert (ROOT / config).is_file()
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert Path(binary).name == "nameko"


@pytest.mark.parametrize("service", RELAYS)
def test_relay_spec_runs_the_relay_module_for_its_service(service: str) -> None:
    (spec,) = [s for s in specs("/opt/py/bin/python") if s.name == f"relay-{service}"]

    assert spec.argv == ["/opt/py/bin/python", "-m", "casekit.relay", "--service", service]
    assert (ROOT / "casekit" / "relay.py").is_file()
    assert (ROOT / "services" / service).is_dir()


def test_gateway_spec_uses_existing_gunicorn_config_and_wsgi_module() -> None:
    (spec,) = [s for s in specs("/opt/py/bin/python") if s.name == "gateway"]
    binary, flag, config, target = spec.argv

    assert binary == "/opt/py/bin/gunicorn" and flag == "-c"
    assert (ROOT / config).is_file()
    module, _, attr = target.partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert attr == "application"


def test_entry_point_binaries_exist_next_to_this_python() -> None:
    for spec in specs(sys.executable):
        assert os.access(spec.argv[0], os.X_OK), spec.argv[0]


def test_default_env_gives_every_database_and_data_directory(tmp_path: Path) -> None:
    env = default_env(tmp_path, db_prefix="t1", port=8123)

    assert env["GATEWAY_BIND"] == "127.0.0.1:8123"
    assert env["CASES_DB_URL"].endswith("/t1_cases")
    assert env["GATEWAY_DB_URL"].endswith("/t1_gateway")
    assert env["SEARCH_DATA_DIR"].startswith(str(tmp_path))


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Suite]:
    s = Suite(tmp_path, env={"GATEWAY_BIND": "127.0.0.1:1"})
    s.specs = {"sleeper": Spec("sleeper", ["sleep", "30"])}
    yield s
    s.stop(timeout=2)


def test_start_writes_a_pid_file_naming_the_live_child(suite: Suite, tmp_path: Path) -> None:
    suite.start()

    pid_file = tmp_path / "pids" / "sleeper.pid"
    pid = int(pid_file.read_text())
    assert suite.pid("sleeper") == pid
    assert suite.status() == {"sleeper": pid}
    assert not gone(pid, timeout=0)


def test_start_is_idempotent_while_the_process_lives(suite: Suite) -> None:
    suite.start()
    first = suite.pid("sleeper")
    suite.start()

    assert suite.pid("sleeper") == first


def test_stop_ends_the_process_and_removes_its_pid_file(suite: Suite, tmp_path: Path) -> None:
    suite.start()
    pid = suite.pid("sleeper")
    assert pid is not None

    suite.stop(timeout=5)

    assert gone(pid)
    assert not (tmp_path / "pids" / "sleeper.pid").exists()
    assert suite.pid("sleeper") is None
    assert suite.status() == {"sleeper": None}


def test_stop_reaches_the_childs_own_children(suite: Suite, tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    suite.specs = {"sleeper": Spec("sleeper", ["sh", "-c", f"sleep 30 & echo $! > {marker}; wait"])}
    suite.start()
    deadline = time.monotonic() + 5
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the child never started its own child"
        time.sleep(0.02)
    grandchild = int(marker.read_text())

    suite.stop(timeout=5)

    assert gone(grandchild)


def test_a_pid_file_naming_a_dead_process_is_ignored_and_replaced(suite: Suite, tmp_path: Path) -> None:
    suite.start()
    old = suite.pid("sleeper")
    suite.kill("sleeper")
    assert gone(old)
    (tmp_path / "pids" / "sleeper.pid").write_text(str(old))

    assert suite.pid("sleeper") is None
    suite.start()
    new = suite.pid("sleeper")
    assert new is not None and new != old


def test_a_live_process_that_started_after_its_pid_file_was_written_is_a_stranger(
    suite: Suite, tmp_path: Path
) -> None:
    # pid reuse: the file names a pid that some later process now holds; an old file
    # next to a live process is the same situation seen from the other side
    suite.start()
    stranger = suite.procs["sleeper"]
    pid_file = tmp_path / "pids" / "sleeper.pid"
    an_hour_ago = time.time() - 3600
    os.utime(pid_file, (an_hour_ago, an_hour_ago))

    assert suite.pid("sleeper") is None
    suite.stop(timeout=1)  # must not signal the stranger
    assert stranger.poll() is None, "stop signalled a process that is not ours"
    stranger.kill()
    stranger.wait(timeout=5)


def test_a_pid_file_written_just_after_its_process_started_names_it(suite: Suite, tmp_path: Path) -> None:
    suite.start()
    pid_file = tmp_path / "pids" / "sleeper.pid"
    later = time.time() + 60  # a file touched after the start changes nothing

    os.utime(pid_file, (later, later))

    assert suite.pid("sleeper") == suite.procs["sleeper"].pid


def test_a_garbage_pid_file_reads_as_not_running(suite: Suite, tmp_path: Path) -> None:
    (tmp_path / "pids" / "sleeper.pid").write_text("not a pid")

    assert suite.pid("sleeper") is None


def test_start_logs_the_childs_output(tmp_path: Path) -> None:
    s = Suite(tmp_path, env={"GREETING": "hello from the child"})
    s.specs = {"echo": Spec("echo", ["sh", "-c", 'echo "$GREETING"'])}
    s.start()
    s.procs["echo"].wait(timeout=5)
    s.stop(timeout=2)

    assert (tmp_path / "logs" / "echo.log").read_text() == "hello from the child\n"
