"""IMAP polling: each unseen message in a mailbox goes through the same pipeline as SMTP mail.

``python -m services.notifications.adapters.imap_in`` (imap-tools). Not started by ``make run``
(it needs a mailbox); run one per mailbox. A message is flagged \\Seen (and moved to
``IMAP_DONE_FOLDER`` when set) only after intake and every document are stored; a failure leaves
it unseen for the next poll, and intake is idempotent by provider id, so a crash between storing
and flagging takes nothing in twice. A mail loop is flagged and moved without intake, with a log
line; an over-size message is left in place with a log line (an operator decides).

Settings: ``IMAP_HOST``, ``IMAP_PORT`` (993), ``IMAP_SSL`` (1), ``IMAP_USER``, ``IMAP_PASSWORD``,
``IMAP_CA_FILE`` (empty: the system's trust store), ``IMAP_FOLDER`` (INBOX),
``IMAP_DONE_FOLDER`` (empty: only flag), ``IMAP_POLL`` (30 s),
``IMAP_MAX_BYTES`` (30 MB), ``TRUSTED_AUTHSERV_IDS`` (the authserv-ids of the MTA in front of the
mailbox, whose ``dmarc=pass`` verifies a sender), ``CASEWORK_MAIL_DOMAIN``, ``FAX_ADDRESSES``.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
import time
from typing import Any

from imap_tools import AND, MailBox, MailBoxUnencrypted, MailMessageFlags

from casekit.logs import setup_logging
from services.notifications.adapters.bus import ClusterBus
from services.notifications.logic import email_in, fax
from services.notifications.logic.ingest import RateLimit, from_email, take_in

log = logging.getLogger("casework.imap_in")


def settings() -> dict[str, Any]:
    env = os.environ.get
    return {
        "host": env("IMAP_HOST", "127.0.0.1"),
        "port": int(env("IMAP_PORT", "993")),
        "ssl": env("IMAP_SSL", "1") == "1",
        "ca_file": env("IMAP_CA_FILE", ""),
        "user": env("IMAP_USER", ""),
        "password": env("IMAP_PASSWORD", ""),
        "folder": env("IMAP_FOLDER", "INBOX"),
        "done": env("IMAP_DONE_FOLDER", ""),
        "poll": float(env("IMAP_POLL", "30")),
        "max_bytes": int(env("IMAP_MAX_BYTES", str(30 * 1024 * 1024))),
        "domain": env("CASEWORK_MAIL_DOMAIN", "casework.invalid"),
        "trusted": tuple(x.strip().lower() for x in env("TRUSTED_AUTHSERV_IDS", "").split(",") if x.strip()),
        "fax": tuple(x.strip().lower() for x in env("FAX_ADDRESSES", "").split(",") if x.strip()),
        "max_attachments": int(env("EMAIL_MAX_ATTACHMENTS", "50")),
    }


class Poller:
    def __init__(self, bus: Any, config: dict[str, Any]) -> None:
        self.bus = bus
        self.config = config
        self.acks = RateLimit(3, 3600)

    def handle(self, raw: bytes, uid: str) -> str:
        """``done`` (flag it), ``loop`` (flag it, nothing taken in) or ``retry`` (leave it unseen)."""
        where = {"uid": uid, "bytes": len(raw)}
        if len(raw) > self.config["max_bytes"]:
            log.warning("message over IMAP_MAX_BYTES left in the mailbox", extra=where)
            return "retry"
        parsed = email_in.parse(
            raw,
            trusted_authserv=self.config["trusted"],
            our_domain=self.config["domain"],
            max_attachments=self.config["max_attachments"],
        )
        if parsed.loop:
            log.warning("mail loop not taken in", extra={**where, "reason": parsed.loop})
            return "loop"
        for problem in parsed.problems:
            log.info("message contained", extra={**where, "problem": problem})
        is_fax = any(r in self.config["fax"] for r in parsed.to)
        item = from_email(parsed, channel="fax" if is_fax else "email", fax=is_fax)
        if is_fax:
            item.documents = [item.documents[0], *fax.to_pdf_documents(item.documents[1:])]
        try:
            result = take_in(self.bus, item, ack_limit=self.acks)
        except Exception as exc:  # noqa: BLE001 - left unseen, retried on the next poll
            log.warning("intake failed; the message stays unseen", extra={**where, "error": repr(exc)})
            return "retry"
        log.info(
            "message taken in",
            extra={
                **where,
                "case_id": result["case_id"],
                "matched_by": result.get("matched_by"),
                "duplicate": result.get("duplicate"),
                "verified": parsed.verified,
            },
        )
        return "done"

    def poll(self, mailbox: Any) -> int:
        done = 0
        for uid in mailbox.uids(AND(seen=False)):
            # the exact bytes as stored (BODY.PEEK leaves the message unseen until we are done)
            _, data = mailbox.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in data or [] if isinstance(part, tuple)), None)
            if raw is None:
                continue
            if self.handle(raw, uid) == "retry":
                continue
            mailbox.flag(uid, MailMessageFlags.SEEN, True)
            if self.config["done"]:
                mailbox.move(uid, self.config["done"])
            done += 1
        return done

    def connect(self) -> Any:
        if self.config["ssl"]:  # the system's trust store, or the CA of an in-house mail server
            context = ssl.create_default_context(cafile=self.config.get("ca_file") or None)
            box = MailBox(self.config["host"], self.config["port"], ssl_context=context)
        else:
            box = MailBoxUnencrypted(self.config["host"], self.config["port"])
        return box.login(self.config["user"], self.config["password"], initial_folder=self.config["folder"])


def main() -> int:
    setup_logging("imap-in")
    config = settings()
    poller = Poller(ClusterBus("imap-in"), config)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: stopping.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stopping.append(s))
    log.info("imap poller started", extra={"host": config["host"], "folder": config["folder"]})
    while not stopping:
        try:
            with poller.connect() as mailbox:
                while not stopping:
                    poller.poll(mailbox)
                    for _ in range(int(config["poll"] * 10)):
                        if stopping:
                            break
                        time.sleep(0.1)
        except Exception as exc:  # noqa: BLE001 - server down, login refused: log and retry
            log.warning("imap poll failed; retrying", extra={"error": repr(exc)})
            time.sleep(min(30.0, config["poll"]))
    poller.bus.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
