"""RPC from the gateway to the services.

nameko's standalone ``ClusterRpcProxy`` is single-threaded, so each gunicorn
thread owns one, created lazily (never before the fork) and rebuilt after a
timeout or a broken connection. Every call carries the request's principal and
correlation id as context data and has a timeout. ``fanout`` sends several calls
at once with ``call_async`` and gathers their replies.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import g, has_request_context
from nameko.amqp.publish import Publisher
from nameko.exceptions import RemoteError, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

import casekit.errors  # noqa: F401 - registers the typed errors for deserialization
from casekit.context import TRACEPARENT, Principal
from casekit.errors import CaseworkError, Unavailable
from gateway.metrics import RPC_LATENCY

log = logging.getLogger(__name__)


@dataclass
class Call:
    service: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    value: Any = None
    error: Exception | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class Rpc(Protocol):
    def call(self, principal: Principal, service: str, method: str, *args: Any, **kwargs: Any) -> Any: ...
    def fanout(
        self, principal: Principal, calls: list[Call], budget: float | None = None
    ) -> list[Outcome]: ...


def context_data(principal: Principal) -> dict[str, Any]:
    """The principal's context data plus the request's W3C ``traceparent``."""
    data = principal.context_data()
    if has_request_context() and g.get("traceparent"):
        data[TRACEPARENT] = g.traceparent
    return data


def _observe(call: Call, started: float, outcome: str) -> None:
    RPC_LATENCY.labels(call.service, call.method, outcome).observe(time.perf_counter() - started)


def _arrived(reply: Any, consumer: Any) -> bool:
    """The reply is already in (drained while waiting for another one)."""
    event = getattr(reply, "reply_event", None)
    return consumer is not None and getattr(event, "correlation_id", None) in getattr(consumer, "replies", {})


class PooledRpc:
    """One ClusterRpcProxy per thread; failures are mapped to ``Unavailable``."""

    def __init__(self, amqp_uri: str, timeout: float) -> None:
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        # A frozen broker accepts the bytes but never confirms the publish, and nameko waits for the
        # confirm without a bound: socket read/write timeouts make that wait fail within the RPC
        # timeout, so the caller gets 503 instead of a hung worker. One quick retry on a fresh
        # connection covers a pooled connection the broker dropped (a restart); nameko's default of
        # three retries with growing pauses would hold a request for about half a minute on a
        # frozen broker, and the client retries safely with its Idempotency-Key anyway.
        once = {"max_retries": 1, "interval_start": 0, "interval_step": 1, "interval_max": 1}
        Publisher.transport_options = {"read_timeout": timeout, "write_timeout": timeout, **once}
        Publisher.retry_policy = once
        self.local = threading.local()

    def _proxy(self) -> Any:
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            proxy = runner.start()
            self.local.runner, self.local.proxy = runner, proxy
        return proxy

    def _discard(self) -> None:
        """Drop this thread's proxy without talking to the broker.

        A proxy is discarded because the broker did not answer in time; a graceful close would send
        Connection.Close and wait for Close-Ok on a socket with no read timeout, so a frozen broker
        (SIGSTOP, a half-open connection) would hold the request thread for as long as the freeze
        lasts. ``collect`` closes the reply connection's socket locally; the broker drops the
        exclusive reply queue when it sees the connection gone.
        """
        runner = getattr(self.local, "runner", None)
        self.local.runner = self.local.proxy = None
        consumer = getattr(getattr(runner, "_reply_listener", None), "queue_consumer", None)
        connection = getattr(consumer, "connection", None)
        if connection is not None:
            try:
                connection.collect()
            except Exception:  # noqa: BLE001 - the connection may already be broken
                log.debug("error dropping an rpc proxy's connection", exc_info=True)
            consumer.stopped = True

    def _with_context(self, principal: Principal) -> Any:
        proxy = self._proxy()
        self.local.runner._worker_ctx.data = context_data(principal)
        return proxy

    def call(self, principal: Principal, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.fanout(principal, [Call(service, method, args, kwargs)])[0].unwrap()

    def fanout(self, principal: Principal, calls: list[Call], budget: float | None = None) -> list[Outcome]:
        """Send every call at once and gather the replies. With ``budget`` (seconds), replies not in
        by then are ``Unavailable`` outcomes (the proxy is then rebuilt: late replies are dropped)."""
        started = time.perf_counter()
        try:
            proxy = self._with_context(principal)
            pending = [
                getattr(getattr(proxy, c.service), c.method).call_async(*c.args, **c.kwargs) for c in calls
            ]
        except Exception as exc:  # noqa: BLE001 - broker down or connection broken
            self._discard()
            log.warning("rpc send failed", extra={"error": repr(exc)}, exc_info=True)
            raise Unavailable("the service bus is unavailable") from None
        outcomes: list[Outcome] = []
        broken = False
        consumer = getattr(getattr(self.local.runner, "_reply_listener", None), "queue_consumer", None)
        for call, reply in zip(calls, pending, strict=True):
            if budget is not None and consumer is not None and not broken:
                consumer.timeout = max(0.01, min(self.timeout, started + budget - time.perf_counter()))
            if broken and not _arrived(reply, consumer):
                outcomes.append(Outcome(error=Unavailable(f"{call.service} did not answer in time")))
                _observe(call, started, "timeout")
                continue
            try:
                outcomes.append(Outcome(value=reply.result()))
                _observe(call, started, "ok")
            except CaseworkError as exc:
                outcomes.append(Outcome(error=exc))
                _observe(call, started, "error")
            except RpcTimeout:
                broken = True
                outcomes.append(Outcome(error=Unavailable(f"{call.service} did not answer in time")))
                _observe(call, started, "timeout")
            except RemoteError as exc:  # an unexpected error inside the service: a bug
                outcomes.append(Outcome(error=exc))
                _observe(call, started, "error")
            except Exception as exc:  # noqa: BLE001 - a broken connection
                _observe(call, started, "unavailable")
                broken = True
                log.warning("rpc failed", extra={"service": call.service, "error": repr(exc)})
                outcomes.append(Outcome(error=Unavailable(f"{call.service} is unavailable")))
        if consumer is not None:
            consumer.timeout = self.timeout
        if broken:
            self._discard()  # late replies would confuse the next caller on this proxy
        return outcomes
