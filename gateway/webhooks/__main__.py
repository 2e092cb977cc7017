"""``python -m gateway.webhooks``: the webhook dispatcher process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import kombu
from sqlalchemy.orm import sessionmaker

from casekit.db import make_engine, migrate
from casekit.logs import setup_logging
from gateway.settings import Settings
from gateway.webhooks.dispatcher import DispatchSettings, EventConsumer, Sender

log = logging.getLogger("gateway.webhooks")


def main() -> int:
    setup_logging("webhooks")
    # the gateway's database and the broker only: no JWT secret (it issues and checks no tokens)
    db_url = os.environ.get("GATEWAY_DB_URL", Settings.db_url)
    amqp_uri = os.environ.get("AMQP_URI", Settings.amqp_uri)
    migrate(Path(__file__).resolve().parents[1] / "migrations", db_url)
    sessions = sessionmaker(bind=make_engine(db_url, pool_size=4), expire_on_commit=False)
    sender = Sender(sessions, DispatchSettings.from_env())
    stopping = threading.Event()
    sending = threading.Thread(target=sender.loop, args=(stopping,), name="webhook-sender", daemon=True)
    sending.start()
    with kombu.Connection(amqp_uri, heartbeat=30) as connection:
        consumer = EventConsumer(connection, sessions, sender)

        def stop(*_: object) -> None:
            stopping.set()
            sender.wake.set()
            consumer.should_stop = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("webhook dispatcher started")
        consumer.run()
    sending.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
