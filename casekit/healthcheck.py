"""Container health checks: exit 0 when healthy, 1 when not (never 2, which Docker reserves).

``python -m casekit.healthcheck <service>``
    calls the nameko service's ``health`` RPC over the broker (``AMQP_URI``). Any
    replica may answer: this says the service answers, not that this replica does.
``python -m casekit.healthcheck relay --service <name>``
    the relay's database (``<NAME>_DB_URL``, its outbox table) and the broker are reachable.
``python -m casekit.healthcheck webhooks``
    the webhook dispatcher's database (``GATEWAY_DB_URL``, its delivery table) and the broker
    are reachable.
``python -m casekit.healthcheck gateway``
    ``GET /healthz`` on the port of ``GATEWAY_BIND`` (the slim image has no curl).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import urllib.error
import urllib.request
from typing import Any

DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Unhealthy(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"healthcheck: {message}", file=sys.stderr)
        sys.exit(1)


def check_service(service: str, amqp_uri: str, timeout: float) -> str:
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as proxy:
        reply = proxy[service].health()
    if not isinstance(reply, dict) or reply.get("ok") is not True:
        raise Unhealthy(f"{service} answered {reply!r}")
    return json.dumps(reply, default=str)


def _database_and_broker(var: str, count: str, amqp_uri: str, timeout: float) -> int:
    """``count`` (a ``SELECT count(*)``) on the database of ``var``, then a broker connection."""
    import kombu
    from sqlalchemy import text

    from casekit.db import make_engine

    url = os.environ.get(var)
    if not url:
        raise Unhealthy(f"{var} is not set")
    engine = make_engine(url, pool_size=1, connect_args={"connect_timeout": max(1, int(timeout))})
    try:
        with engine.connect() as conn:
            pending = conn.execute(text(count)).scalar_one()
    finally:
        engine.dispose()
    with kombu.Connection(amqp_uri, connect_timeout=timeout) as broker:
        broker.connect()
    return int(pending)


def check_relay(service: str, amqp_uri: str, timeout: float) -> str:
    count = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
    pending = _database_and_broker(f"{service.upper()}_DB_URL", count, amqp_uri, timeout)
    return f"relay-{service}: database and broker reachable, {pending} events pending"


def check_webhooks(amqp_uri: str, timeout: float) -> str:
    count = "SELECT count(*) FROM webhook_deliveries WHERE state IN ('pending', 'retrying')"
    pending = _database_and_broker("GATEWAY_DB_URL", count, amqp_uri, timeout)
    return f"webhooks: database and broker reachable, {pending} deliveries pending"


def gateway_url(bind: str) -> str:
    host, _, port = bind.rpartition(":")
    if not port.isdigit():
        raise Unhealthy(f"GATEWAY_BIND {bind!r} has no port")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}/healthz"


def check_gateway(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        raise Unhealthy(f"{url}: HTTP {exc.code}") from None


def _deadline(_signum: int, _frame: Any) -> None:
    raise Unhealthy("no answer before the deadline")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m casekit.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="a nameko service name, 'relay', 'webhooks' or 'gateway'")
    parser.add_argument("--service", help="the relay's service (with 'relay')")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--url", help="gateway: default from GATEWAY_BIND")
    args = parser.parse_args(argv)
    amqp_uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
    if args.target == "relay" and not (args.service and NAME.match(args.service)):
        parser.error("relay needs --service NAME")
    if not NAME.match(args.target):
        parser.error(f"not a service name: {args.target!r}")
    # a hard bound on top of the client timeouts: a broker that accepts but never answers
    previous = signal.signal(signal.SIGALRM, _deadline)
    signal.setitimer(signal.ITIMER_REAL, args.timeout + 2)
    try:
        if args.target == "gateway":
            bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
            message = check_gateway(args.url or gateway_url(bind), args.timeout)
        elif args.target == "relay":
            message = check_relay(args.service, amqp_uri, args.timeout)
        elif args.target == "webhooks":
            message = check_webhooks(amqp_uri, args.timeout)
        else:
            message = check_service(args.target, amqp_uri, args.timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    print(f"healthy: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
