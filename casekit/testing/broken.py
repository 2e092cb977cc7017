"""Deliberately broken variants for negative controls: the checker must catch each of them.

``python -m casekit.testing.broken relay --service cases`` runs an outbox relay that publishes
*after* committing (it marks a batch sent, commits, then publishes): the at-most-once order of
a handler that commits its change and then dispatches the event itself instead of through the
outbox. A crash between the commit and the publish loses the events for good.
"""

from __future__ import annotations

import argparse
import os
import signal
from typing import Any

from casekit.faults import crashpoint
from casekit.logs import setup_logging
from casekit.relay import CLAIM_SQL, MARK_SENT_SQL, Relay

BROKEN_POINT = "broken_after_commit_before_publish"


class PublishAfterCommitRelay(Relay):
    def run_once(self) -> int:
        publisher = self._publisher()
        with self.engine.begin() as tx:
            rows = tx.execute(CLAIM_SQL, {"limit": self.batch}).fetchall()
            if rows:
                tx.execute(MARK_SENT_SQL, {"ids": [r.id for r in rows]})
        if not rows:
            return 0
        crashpoint(BROKEN_POINT)  # committed as sent, not yet published
        publisher.publish(rows)
        return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["relay"])
    parser.add_argument("--service", required=True)
    args = parser.parse_args(argv)
    setup_logging(f"broken-relay-{args.service}")
    relay = PublishAfterCommitRelay(
        args.service,
        os.environ[f"{args.service.upper()}_DB_URL"],
        os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"),
    )

    def stop(*_: Any) -> None:
        relay.running = False

    signal.signal(signal.SIGTERM, stop)
    relay.run_forever()


if __name__ == "__main__":
    main()
