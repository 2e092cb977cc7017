"""RPC from an adapter process to the services, as the adapter's service account."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

import casekit.errors  # noqa: F401 - registers the typed errors for deserialization
from casekit.context import ROLE_ADMIN, ROLE_SYSTEM, Principal

log = logging.getLogger(__name__)


def adapter_principal(name: str) -> Principal:
    """The adapter acts as the system; documents take writes from staff roles only, so it also
    carries admin (it must store into any team's case folder)."""
    return Principal(user_id=f"system:{name}", roles=(ROLE_SYSTEM, ROLE_ADMIN))


class ClusterBus:
    """One standalone proxy per thread, rebuilt after an error; every call carries the principal."""

    def __init__(self, name: str, amqp_uri: str | None = None, timeout: float = 30.0) -> None:
        self.principal = adapter_principal(name)
        self.config = {
            "AMQP_URI": amqp_uri or os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
        }
        self.timeout = timeout
        self.local = threading.local()

    def _proxy(self) -> Any:
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            runner = ClusterRpcProxy(
                self.config, timeout=self.timeout, context_data=self.principal.context_data()
            )
            proxy = runner.start()
            self.local.runner, self.local.proxy = runner, proxy
        return proxy

    def reset(self) -> None:
        runner = getattr(self.local, "runner", None)
        self.local.runner = self.local.proxy = None
        if runner is not None:
            try:
                runner.stop()
            except Exception:  # noqa: BLE001
                log.debug("error stopping rpc proxy", exc_info=True)

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except casekit.errors.CaseworkError:
            raise
        except Exception:
            self.reset()
            raise

    def close(self) -> None:
        self.reset()
