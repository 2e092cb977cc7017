"""A development SMTP sink: every message the dispatcher relays is written to a directory.

``python -m services.notifications.adapters.sink`` (``make run`` starts it as the outbound
relay, like MailHog). ``MAIL_SINK_BIND`` (127.0.0.1:2526), ``MAIL_SINK_DIR`` (run/mail). To test
retries, write a number N to ``<dir>/fail-next``: the next N messages get ``451`` (try later).
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from casekit.logs import setup_logging


class Sink:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def _fail(self) -> bool:
        control = self.dir / "fail-next"
        with self.lock:
            try:
                left = int(control.read_text().strip() or "0")
            except (FileNotFoundError, ValueError):
                return False
            if left <= 0:
                return False
            control.write_text(str(left - 1))
            return True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        if self._fail():
            return "451 4.3.0 sink told to fail this one"
        name = f"{uuid.uuid4().hex}.eml"
        tmp = self.dir / f".{name}"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.dir / name)
        return "250 2.0.0 stored " + name


def main() -> int:
    setup_logging("mail-sink")
    host, _, port = os.environ.get("MAIL_SINK_BIND", "127.0.0.1:2526").rpartition(":")
    sink = Sink(Path(os.environ.get("MAIL_SINK_DIR", "run/mail")))
    controller = Controller(sink, hostname=host or "127.0.0.1", port=int(port), decode_data=False)
    controller.start()
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: received.append(s))
    signal.signal(signal.SIGINT, lambda s, f: received.append(s))
    while not received:
        signal.pause()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
