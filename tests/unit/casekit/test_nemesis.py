"""The fault harness's /proc helpers, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from casekit.testing import nemesis


def test_children_lists_the_direct_children_of_a_process_and_no_grandchildren() -> None:
    script = "import subprocess; subprocess.Popen(['sh', '-c', 'sleep 30 & wait']).wait()"
    parent = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not (kids := nemesis.children(parent.pid)) or not nemesis.children(kids[0]):
            assert time.monotonic() < deadline, "the child and grandchild never started"
            time.sleep(0.02)

        (child,) = kids
        (grandchild,) = nemesis.children(child)
        assert grandchild not in nemesis.children(parent.pid)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)


def test_children_of_no_known_pid_is_empty_never_init_or_kernel_threads() -> None:
    # callers write ``children(suite.pid("gateway") or 0)``; as root, signalling what
    # children(0) used to list (init and kthreadd) must never happen
    assert nemesis.children(0) == []
    assert nemesis.children(-1) == []
