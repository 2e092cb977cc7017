"""An RPC whose reply cannot be sent does not take the service down."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.exceptions import OperationalError

from casekit.rpc import Rpc


class FailingConsumer:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.acked: list[Any] = []

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
        if self.error is not None:
            raise self.error
        self.acked.append(message)
        return result, exc_info


def entrypoint(consumer: FailingConsumer) -> Rpc:
    rpc = Rpc()
    rpc.method_name = "create_case"
    rpc.rpc_consumer = consumer  # type: ignore[assignment]
    return rpc


@pytest.mark.parametrize("error", [OperationalError("[Errno 111] ECONNREFUSED"), ConnectionResetError()])
def test_a_reply_that_cannot_be_sent_leaves_the_request_unacknowledged(error: Exception) -> None:
    consumer = FailingConsumer(error)
    assert entrypoint(consumer).handle_result("msg", None, {"id": 1}, None) == ({"id": 1}, None)
    assert consumer.acked == []


def test_a_sent_reply_is_acknowledged() -> None:
    consumer = FailingConsumer(None)
    assert entrypoint(consumer).handle_result("msg", None, "ok", None) == ("ok", None)
    assert consumer.acked == ["msg"]


def test_other_errors_still_surface() -> None:
    with pytest.raises(ValueError, match="bug"):
        entrypoint(FailingConsumer(ValueError("bug"))).handle_result("msg", None, None, None)
