"""The gateway's RPC client against a frozen broker (SIGSTOP) of the test's own.

A frozen broker keeps its TCP connections open and answers nothing. A request thread must get
``Unavailable`` (the gateway's 503) within a bounded time instead of hanging for as long as the
freeze lasts: neither waiting for a publish confirm, nor for a reply, nor for the Close-Ok of the
proxy it throws away. This is a liveness bound, not a performance figure: the bound is several
times the RPC timeout, and a hang would exceed it by minutes.

The client runs in a plain Python process, as it does in a gunicorn worker: this test process is
eventlet-patched (``nameko test``), and green sockets would not behave like the gateway's.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from casekit.testing import infra
from casekit.testing.broker import OwnBroker

pytestmark = pytest.mark.integration
TIMEOUT = 2.0
BOUND = 8 * TIMEOUT  # a confirm wait, one reconnect attempt and the reply wait fit well inside
CALLERS = 4

CLIENT = """
import json, sys, threading, time
from casekit.context import Principal
from gateway.clients import PooledRpc

rpc = PooledRpc(sys.argv[1], timeout=float(sys.argv[2]))
who = Principal(user_id="tester", roles=("admin",))
callers = int(sys.argv[3])

def call():
    started = time.monotonic()
    try:
        rpc.call(who, "silent", "ping")
        told = "answered"
    except Exception as exc:
        told = f"{type(exc).__name__}: {exc}"
    return told, round(time.monotonic() - started, 2)

print(json.dumps({"alive": call()}), flush=True)
ready, go, results = threading.Barrier(callers + 1), threading.Event(), []
def caller():
    rpc._proxy()  # a live proxy from before the freeze, as a gunicorn thread holds one
    ready.wait()
    go.wait()
    results.append(call())
threads = [threading.Thread(target=caller, daemon=True) for _ in range(callers)]
for t in threads:
    t.start()
ready.wait()
print(json.dumps({"ready": True}), flush=True)
sys.stdin.readline()  # the broker is frozen now
go.set()
for t in threads:
    t.join()
print(json.dumps({"frozen": results}), flush=True)
sys.stdin.readline()  # thawed
deadline = time.monotonic() + 60
while True:
    told = call()
    if "did not answer in time" in told[0] or time.monotonic() > deadline:
        break
    time.sleep(1)
print(json.dumps({"thawed": told}), flush=True)
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    node = OwnBroker(Path(tmp_path_factory.mktemp("frozen-rabbit")), name="cwfrozen")
    node.start()
    try:
        # a queue bound like a service's, with nobody consuming: calls are routed, never answered
        with Connection(node.amqp_uri) as conn:
            exchange = Exchange("nameko-rpc", type="topic", durable=True)
            Queue("silent-service", exchange, routing_key="silent.*", channel=conn.channel()).declare()
        yield node
    finally:
        node.thaw()
        node.stop()
        node.kill()


def read(client: subprocess.Popen, key: str, within: float) -> object:
    """The next line the client prints, which must carry ``key``, within ``within`` seconds."""
    readable, _, _ = select.select([client.stdout], [], [], within)
    line = client.stdout.readline() if readable else ""
    if line:
        return json.loads(line)[key]
    raise AssertionError(f"the client said nothing about {key!r} within {within:.0f} s")


def test_requests_fail_fast_while_the_broker_is_frozen_and_recover_after(broker: OwnBroker) -> None:
    client = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", CLIENT, broker.amqp_uri, str(TIMEOUT), str(CALLERS)],
        cwd=infra.ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    frozen = False
    try:
        told, _ = read(client, "alive", 60)
        assert "did not answer in time" in told  # alive: routed, not answered
        assert read(client, "ready", 60) is True
        broker.freeze()
        frozen = True
        client.stdin.write("go\n")
        client.stdin.flush()
        results = read(client, "frozen", BOUND * 4)
        broker.thaw()
        frozen = False
        assert len(results) == CALLERS
        for told, took in results:
            assert told.startswith("Unavailable"), told
            assert took < BOUND, f"told {told!r} only after {took:.1f} s"
        client.stdin.write("thawed\n")
        client.stdin.flush()
        told, _ = read(client, "thawed", 90)
        assert "did not answer in time" in told, told  # the same client routes calls again
    finally:
        if frozen:
            broker.thaw()
        client.kill()
        client.wait(timeout=10)
