"""The inbound SMTP listener: every message accepted with 250 is on a case, documents stored.

``python -m services.notifications.adapters.smtp_in`` (aiosmtpd). The SMTP reply is sent only
after intake and every document are stored, so a failure answers 451 and the sending MTA retries
(everything is idempotent by provider id). Refusals carry their reason in the reply and in a log
line: a message over ``SMTP_MAX_BYTES`` (552), a mail loop (554), a sender over its rate (451).

Settings (environment): ``SMTP_IN_BIND`` (127.0.0.1:2525), ``SMTP_MAX_BYTES`` (30 MB),
``SMTP_RATE_PER_SENDER`` (30 messages per ``SMTP_RATE_WINDOW`` 60 s), ``CASEWORK_MAIL_DOMAIN``
(the domain of our Message-IDs, for loop detection), ``TRUSTED_AUTHSERV_IDS`` (comma-separated
authserv-ids whose Authentication-Results we trust; empty: the listener is the border and trusts
none), ``FAX_ADDRESSES`` (recipients whose mail is fax-to-email), ``SMTP_WORKERS`` (8).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller

from casekit.errors import CaseworkError
from casekit.logs import setup_logging
from services.notifications.adapters.bus import ClusterBus
from services.notifications.logic import email_in, fax
from services.notifications.logic.ingest import RateLimit, from_email, take_in

log = logging.getLogger("casework.smtp_in")


def settings() -> dict[str, Any]:
    env = os.environ.get
    host, _, port = env("SMTP_IN_BIND", "127.0.0.1:2525").rpartition(":")
    return {
        "host": host or "127.0.0.1",
        "port": int(port),
        "max_bytes": int(env("SMTP_MAX_BYTES", str(30 * 1024 * 1024))),
        "rate": int(env("SMTP_RATE_PER_SENDER", "30")),
        "window": float(env("SMTP_RATE_WINDOW", "60")),
        "domain": env("CASEWORK_MAIL_DOMAIN", "casework.invalid"),
        "trusted": tuple(x.strip().lower() for x in env("TRUSTED_AUTHSERV_IDS", "").split(",") if x.strip()),
        "fax": tuple(x.strip().lower() for x in env("FAX_ADDRESSES", "").split(",") if x.strip()),
        "workers": int(env("SMTP_WORKERS", "8")),
        "max_attachments": int(env("EMAIL_MAX_ATTACHMENTS", "50")),
    }


class Handler:
    def __init__(self, bus: Any, config: dict[str, Any]) -> None:
        self.bus = bus
        self.config = config
        self.rate = RateLimit(config["rate"], config["window"])
        self.acks = RateLimit(3, 3600)
        self.pool = ThreadPoolExecutor(max_workers=config["workers"], thread_name_prefix="smtp-in")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool, self.process, raw, envelope.mail_from, list(envelope.rcpt_tos), session.peer
        )

    def process(self, raw: bytes, mail_from: str | None, rcpt_tos: list[str], peer: Any = None) -> str:
        """Ingest one message; the SMTP reply line."""
        where = {"peer": str(peer), "mail_from": mail_from, "bytes": len(raw)}
        try:
            parsed = email_in.parse(
                raw,
                envelope_from=mail_from,
                trusted_authserv=self.config["trusted"],
                our_domain=self.config["domain"],
                max_attachments=self.config["max_attachments"],
            )
        except Exception:  # noqa: BLE001 - parse() is total; this is a last line of defence
            log.exception("message could not be parsed at all; refused", extra=where)
            return "554 5.6.0 message could not be parsed"
        if parsed.loop:
            log.warning("mail loop refused", extra={**where, "reason": parsed.loop})
            return f"554 5.4.6 mail loop detected: {parsed.loop}"
        sender = parsed.from_addr or (mail_from or "").lower() or "unknown"
        if not self.rate.allow(sender):
            log.warning("sender over its rate; deferred", extra={**where, "sender": sender})
            return "451 4.7.1 too many messages from this sender; try again later"
        for problem in parsed.problems:
            log.info(
                "message contained", extra={**where, "problem": problem, "message_id": parsed.message_id}
            )
        is_fax = any(r.lower() in self.config["fax"] for r in rcpt_tos)
        item = from_email(parsed, channel="fax" if is_fax else "email", fax=is_fax)
        if is_fax:
            item.documents = [item.documents[0], *fax.to_pdf_documents(item.documents[1:])]
        try:
            result = take_in(self.bus, item, ack_limit=self.acks)
        except CaseworkError as exc:
            log.warning("intake refused the message", extra={**where, "error": str(exc)})
            if getattr(exc, "code", "") == "INVALID_INPUT":
                return f"554 5.6.0 refused: {str(exc)[:200]}"
            return "451 4.3.0 temporarily unable to take the message in; try again"
        except Exception as exc:  # noqa: BLE001 - the bus or a service failed: the sender retries
            log.warning("intake failed; deferred", extra={**where, "error": repr(exc)})
            return "451 4.3.0 temporarily unable to take the message in; try again"
        log.info(
            "message taken in",
            extra={
                **where,
                "case_id": result["case_id"],
                "reference": result.get("reference"),
                "case_created": result.get("created"),
                "duplicate": result.get("duplicate"),
                "matched_by": result.get("matched_by"),
                "documents": len(result.get("documents") or []),
                "refused_documents": result.get("refused_documents"),
                "verified": parsed.verified,
                "automatic": parsed.auto,
            },
        )
        return f"250 2.0.0 taken in on {result.get('reference')} case {result['case_id']}"


def main() -> int:
    setup_logging("smtp-in")
    config = settings()
    bus = ClusterBus("smtp-in")
    handler = Handler(bus, config)
    controller = Controller(
        handler,
        hostname=config["host"],
        port=config["port"],
        data_size_limit=config["max_bytes"],
        decode_data=False,
        server_kwargs={"timeout": 60},
    )
    controller.start()
    log.info("smtp listener started", extra={"bind": f"{config['host']}:{config['port']}"})
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: received.append(s))
    signal.signal(signal.SIGINT, lambda s, f: received.append(s))
    while not received:
        signal.pause()
    controller.stop()
    handler.pool.shutdown(wait=True)
    bus.close()
    log.info("smtp listener stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
