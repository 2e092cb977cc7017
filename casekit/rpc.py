"""RPC entrypoints that survive a broker outage and a database outage.

When nameko cannot publish an RPC reply (the broker is down and its three publish
retries are spent), the error escapes the entrypoint and the whole service container
stops. Our entrypoint logs it instead and leaves the request unacknowledged: when the
consumer reconnects, the broker redelivers the request and the caller (or its retry,
which carries an idempotency key) gets an answer. Every Casework RPC is safe to repeat.

A handler that fails because its database is down, restarting or out of connections
answers ``DatabaseUnavailable`` (503 with ``Retry-After`` at the gateway) at once,
instead of an unexpected error: the caller fails fast and retries later.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import KombuError
from nameko.rpc import Rpc as NamekoRpc

from casekit.db import is_unavailable, unavailable_from

log = logging.getLogger(__name__)


class Rpc(NamekoRpc):
    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> Any:
        if exc_info is not None and is_unavailable(exc_info[1]):
            typed = unavailable_from(exc_info[1])
            log.warning(
                "database unavailable; answering 'retry later'",
                extra={"method": self.method_name, "error": repr(exc_info[1])[:300]},
            )
            exc_info = (type(typed), typed, exc_info[2])
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except (KombuError, OSError) as exc:
            log.warning(
                "could not send an RPC reply; the request stays unacknowledged and will be redelivered",
                extra={"method": self.method_name, "error": repr(exc)},
            )
            return result, exc_info


rpc = Rpc.decorator
