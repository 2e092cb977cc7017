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
from dataclasses import dataclass, field
from typing import Any, Protocol

from nameko.exceptions import RemoteError, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

import casekit.errors  # noqa: F401 - registers the typed errors for deserialization
from casekit.context import Principal
from casekit.errors import CaseworkError, Unavailable

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
    def fanout(self, principal: Principal, calls: list[Call]) -> list[Outcome]: ...


class PooledRpc:
    """One ClusterRpcProxy per thread; failures are mapped to ``Unavailable``."""

    def __init__(self, amqp_uri: str, timeout: float) -> None:
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self.local = threading.local()

    def _proxy(self) -> Any:
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            proxy = runner.start()
            self.local.runner, self.local.proxy = runner, proxy
        return proxy

    def _discard(self) -> None:
        runner = getattr(self.local, "runner", None)
        self.local.runner = self.local.proxy = None
        if runner is not None:
            try:
                runner.stop()
            except Exception:  # noqa: BLE001 - the connection may already be broken
                log.debug("error stopping rpc proxy", exc_info=True)

    def _with_context(self, principal: Principal) -> Any:
        proxy = self._proxy()
        self.local.runner._worker_ctx.data = principal.context_data()
        return proxy

    def call(self, principal: Principal, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.fanout(principal, [Call(service, method, args, kwargs)])[0].unwrap()

    def fanout(self, principal: Principal, calls: list[Call]) -> list[Outcome]:
        try:
            proxy = self._with_context(principal)
            pending = [
                getattr(getattr(proxy, c.service), c.method).call_async(*c.args, **c.kwargs) for c in calls
            ]
        except Exception as exc:  # noqa: BLE001 - broker down or connection broken
            self._discard()
            log.warning("rpc send failed", extra={"error": repr(exc)})
            raise Unavailable("the service bus is unavailable") from None
        outcomes: list[Outcome] = []
        broken = False
        for call, reply in zip(calls, pending, strict=True):
            if broken:
                outcomes.append(Outcome(error=Unavailable(f"{call.service} did not answer in time")))
                continue
            try:
                outcomes.append(Outcome(value=reply.result()))
            except CaseworkError as exc:
                outcomes.append(Outcome(error=exc))
            except RpcTimeout:
                broken = True
                outcomes.append(Outcome(error=Unavailable(f"{call.service} did not answer in time")))
            except RemoteError as exc:  # an unexpected error inside the service: a bug
                outcomes.append(Outcome(error=exc))
            except Exception as exc:  # noqa: BLE001 - a broken connection
                broken = True
                log.warning("rpc failed", extra={"service": call.service, "error": repr(exc)})
                outcomes.append(Outcome(error=Unavailable(f"{call.service} is unavailable")))
        if broken:
            self._discard()  # late replies would confuse the next caller on this proxy
        return outcomes
