"""Named crash points for fault tests: ``CASEWORK_CRASHPOINT=name`` exits the process there.

``CASEWORK_CRASHPOINT_AFTER=n`` lets the point pass ``n`` times first, so a process can
crash in the middle of a burst rather than on its first message. The exit is
``os._exit(137)``: no cleanup, no flushing, exactly like a SIGKILL at that line.

The named points:

- ``cases_after_commit_before_reply``: the cases service committed a new case (and its
  outbox row) and dies before answering the caller.
- ``db_after_commit``: any service, right after a worker's session committed (before the
  worker finishes: before the RPC reply or the event's ack).
- ``relay_after_claim_before_publish``, ``relay_after_publish_before_confirm``,
  ``relay_after_confirm_before_mark``: the outbox relay, around the publish of a batch.
- ``consumer_after_effect_before_ack``: an event handler's effect committed, the message
  not yet acknowledged.
"""

from __future__ import annotations

import os
import threading

_ENV = "CASEWORK_CRASHPOINT"
_AFTER_ENV = "CASEWORK_CRASHPOINT_AFTER"
_hits: dict[str, int] = {}
_lock = threading.Lock()

POINTS = (
    "cases_after_commit_before_reply",
    "db_after_commit",
    "relay_after_claim_before_publish",
    "relay_after_publish_before_confirm",
    "relay_after_confirm_before_mark",
    "consumer_after_effect_before_ack",
)


def armed(name: str) -> bool:
    return os.environ.get(_ENV) == name


def crashpoint(name: str) -> None:
    if not armed(name):
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        passes = int(os.environ.get(_AFTER_ENV, "0") or 0)
        if _hits[name] > passes:
            os._exit(137)
