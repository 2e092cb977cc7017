"""The outbound dispatcher: sends queued email (SMTP relay) and SMS (provider HTTP API).

``python -m services.notifications.adapters.dispatcher``; run one or several (rows are claimed
with ``FOR UPDATE SKIP LOCKED``). See ``services/notifications/logic/outbound.py`` for the states
and the guarantee. After a message is sent it is put on its case's timeline through
``cases.record_message`` (idempotent; retried until it succeeds).

Settings: ``NOTIFICATIONS_DB_URL``; ``SMTP_RELAY`` (host:port, 127.0.0.1:25), ``SMTP_RELAY_USER``,
``SMTP_RELAY_PASSWORD``, ``SMTP_RELAY_STARTTLS`` (0); ``MAIL_FROM`` (casework@<domain>);
``CASEWORK_MAIL_DOMAIN``; ``SMS_API_URL`` (a Twilio-compatible Messages endpoint), ``SMS_ACCOUNT_SID``,
``SMS_AUTH_TOKEN``, ``SMS_FROM``, ``SMS_PROVIDER_IDEMPOTENT`` (0: the provider does not
deduplicate our Idempotency-Key); ``DISPATCH_LEASE`` (60 s), ``DISPATCH_BACKOFF`` (30 s, doubled
per attempt), ``DISPATCH_POLL`` (0.5 s).
"""

from __future__ import annotations

import logging
import os
import signal
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from casekit.db import make_engine, utcnow
from casekit.faults import crashpoint
from casekit.logs import setup_logging
from services.notifications.adapters.bus import ClusterBus
from services.notifications.logic import outbound
from services.notifications.models import OutboundMessage

log = logging.getLogger("casework.dispatcher")
DEFAULT_DB = "postgresql+psycopg2://casework:casework@127.0.0.1:5432/casework_notifications"


class Temporary(Exception):
    """The provider said "try later"."""


class Permanent(Exception):
    """The provider refused the message for good."""


def settings() -> dict[str, Any]:
    env = os.environ.get
    domain = env("CASEWORK_MAIL_DOMAIN", "casework.invalid")
    host, _, port = env("SMTP_RELAY", "127.0.0.1:25").rpartition(":")
    return {
        "db": env("NOTIFICATIONS_DB_URL", DEFAULT_DB),
        "smtp_host": host or "127.0.0.1",
        "smtp_port": int(port),
        "smtp_user": env("SMTP_RELAY_USER"),
        "smtp_password": env("SMTP_RELAY_PASSWORD"),
        "smtp_starttls": env("SMTP_RELAY_STARTTLS", "0") == "1",
        "mail_from": env("MAIL_FROM", f"casework@{domain}"),
        "domain": domain,
        "sms_url": env("SMS_API_URL"),
        "sms_sid": env("SMS_ACCOUNT_SID", ""),
        "sms_token": env("SMS_AUTH_TOKEN", ""),
        "sms_from": env("SMS_FROM", ""),
        "idempotent": {"email": False, "sms": env("SMS_PROVIDER_IDEMPOTENT", "0") == "1"},
        "lease": float(env("DISPATCH_LEASE", "60")),
        "backoff": float(env("DISPATCH_BACKOFF", "30")),
        "poll": float(env("DISPATCH_POLL", "0.5")),
    }


def build_email(row: OutboundMessage, config: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = config["mail_from"]
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = formatdate(localtime=False)
    msg["Auto-Submitted"] = "auto-generated" if row.purpose != "case" else "no"
    msg["X-Loop"] = config["domain"]
    if row.purpose != "case":
        msg["X-Auto-Response-Suppress"] = "All"
    if row.in_reply_to:
        msg["In-Reply-To"] = row.in_reply_to
        msg["References"] = row.in_reply_to
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    return msg


def send_email(row: OutboundMessage, config: dict[str, Any]) -> str:
    msg = build_email(row, config)
    try:
        with smtplib.SMTP(config["smtp_host"], config["smtp_port"], timeout=30) as smtp:
            if config["smtp_starttls"]:
                smtp.starttls()
            if config["smtp_user"]:
                smtp.login(config["smtp_user"], config["smtp_password"] or "")
            smtp.send_message(msg, from_addr=config["mail_from"], to_addrs=[row.to_addr])
    except smtplib.SMTPResponseException as exc:
        text = f"{exc.smtp_code} {exc.smtp_error!r}"
        raise (Temporary if 400 <= exc.smtp_code < 500 else Permanent)(text) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise (Temporary if all(400 <= c < 500 for c in codes) else Permanent)(repr(exc.recipients)) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise Temporary(repr(exc)) from None
    return row.message_id


def send_sms(row: OutboundMessage, config: dict[str, Any]) -> str:
    if not config["sms_url"]:
        raise Permanent("no SMS provider configured (SMS_API_URL)")
    try:
        response = requests.post(
            config["sms_url"],
            data={"To": row.to_addr, "From": config["sms_from"], "Body": row.body_text},
            auth=(config["sms_sid"], config["sms_token"]),
            headers={"Idempotency-Key": row.id},
            timeout=30,
        )
    except requests.RequestException as exc:
        raise Temporary(repr(exc)) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise Temporary(f"{response.status_code} {response.text[:200]}")
    if response.status_code >= 400:
        raise Permanent(f"{response.status_code} {response.text[:200]}")
    try:
        return str(response.json().get("sid") or "")
    except ValueError:
        return ""


class Dispatcher:
    def __init__(self, config: dict[str, Any], bus: Any) -> None:
        self.config = config
        self.bus = bus
        self.engine = make_engine(config["db"], pool_size=2)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.stopping = False

    def step(self) -> bool:
        """Recover expired leases, send one due message, record sent ones; whether work was done."""
        with self.sessions() as session:
            recovered = outbound.recover(session, now=utcnow(), idempotent_provider=self.config["idempotent"])
            session.commit()
            for message_id in recovered:
                log.warning("lease expired; message recovered", extra={"outbound_id": message_id})
            row = outbound.claim(session, now=utcnow(), lease=self.config["lease"])
            session.commit()
            if row is not None:
                self.deliver(session, row)
            recorded = self.record(session)
        return row is not None or recorded > 0

    def deliver(self, session: Session, row: OutboundMessage) -> None:
        where = {
            "outbound_id": row.id,
            "channel": row.channel,
            "attempt": row.attempts,
            "case_id": row.case_id,
        }
        crashpoint("dispatch.claimed")
        outbound.transmitting(row)
        session.commit()
        try:
            provider_id = (send_email if row.channel == "email" else send_sms)(row, self.config)
        except (Temporary, Permanent) as exc:
            temporary = isinstance(exc, Temporary)
            outbound.failed(session, row, str(exc), temporary=temporary, backoff=self.config["backoff"])
            session.commit()
            log.warning(
                "delivery failed" + ("; will retry" if row.state == "queued" else "; giving up"),
                extra={**where, "error": str(exc), "state": row.state},
            )
            return
        crashpoint("dispatch.transmitted")
        outbound.sent(session, row, provider_id)
        session.commit()
        log.info("message sent", extra={**where, "provider_id": provider_id})

    def record(self, session: Session) -> int:
        done = 0
        for row in outbound.unrecorded(session):
            message = {
                "id": row.id,
                "channel": row.channel,
                "to": row.to_addr,
                "subject": row.subject,
                "body": row.body_text,
                "message_id": row.message_id,
                "sent_by": row.created_by,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            }
            try:
                self.bus.call("cases", "record_message", row.case_id, message)
            except Exception as exc:  # noqa: BLE001 - retried on the next pass
                log.warning(
                    "could not record a sent message on its case",
                    extra={"outbound_id": row.id, "error": repr(exc)},
                )
                session.rollback()
                return done
            row.recorded = True
            session.commit()
            done += 1
        return done

    def run(self) -> None:
        while not self.stopping:
            try:
                busy = self.step()
            except Exception as exc:  # noqa: BLE001 - database down, tables not yet migrated
                log.warning("dispatch pass failed", extra={"error": repr(exc)})
                busy = False
                time.sleep(min(5.0, self.config["poll"] * 4))
            if not busy:
                time.sleep(self.config["poll"])


def main() -> int:
    setup_logging("dispatcher")
    dispatcher = Dispatcher(settings(), ClusterBus("dispatcher"))

    def stop(*_: Any) -> None:
        dispatcher.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("dispatcher started")
    dispatcher.run()
    dispatcher.bus.close()
    log.info("dispatcher stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
