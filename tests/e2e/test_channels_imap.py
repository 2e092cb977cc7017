"""Mail fetched from a real IMAP server (Dovecot over TLS, on loopback) by the imap-in adapter.

The adapter runs as its own process against the whole suite: a message in the mailbox becomes a
case with its documents and is then flagged and filed; a mail loop is filed without a case; a
poller killed with SIGKILL and started again takes nothing in twice; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from casekit.launcher import Suite
from casekit.testing import imap
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually
from tests.e2e.test_channels_email import message  # the same customer mail, sent by IMAP

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not imap.available(), reason="dovecot is not installed (bin/start-deps installs it)"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mailserver() -> Iterator[imap.OwnDovecot]:
    server = imap.OwnDovecot(tls=True)
    try:
        server.start()
        with server.client() as conn:
            conn.create("Done")
        yield server
    finally:
        server.stop()


class Poller:
    """``python -m services.notifications.adapters.imap_in`` with the suite's settings."""

    def __init__(self, suite: Suite, server: imap.OwnDovecot, log: Path) -> None:
        self.env = {
            **os.environ,
            **suite.env,
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(server.port),
            "IMAP_SSL": "1",
            "IMAP_CA_FILE": str(server.ca_file),
            "IMAP_USER": server.user,
            "IMAP_PASSWORD": server.password,
            "IMAP_DONE_FOLDER": "Done",
            "IMAP_POLL": "0.5",
        }
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.notifications.adapters.imap_in"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def signal(self, signum: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def poller(
    suite: Suite, mailserver: imap.OwnDovecot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Poller]:
    running = Poller(suite, mailserver, tmp_path_factory.mktemp("imap-in") / "imap-in.log")
    running.start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.signal(signal.SIGKILL)


def cases_of(admin: Client, sender: str) -> list[dict]:
    return admin.get("/api/v1/search/lookup", params={"email": sender}).json()["items"]


def filed(server: imap.OwnDovecot, msg: EmailMessage) -> list[str] | None:
    """The message's flags once it is in Done (and no longer in the inbox); None before."""
    if msg["Message-ID"] in server.folder("INBOX"):
        return None
    return server.folder("Done").get(msg["Message-ID"])


@pytest.mark.usefixtures("poller")
def test_a_message_in_the_mailbox_opens_a_case_and_is_filed(
    mailserver: imap.OwnDovecot, admin: Client
) -> None:
    sender = f"imap-{uuid.uuid4().hex[:8]}@example.org"
    msg = message(sender, "Meter reading disputed", "The reading on my bill is wrong.")
    msg.add_attachment(
        b"%PDF-1.4\n% meter photo\n", maintype="application", subtype="pdf", filename="meter.pdf"
    )
    mailserver.deliver(msg.as_bytes())

    [case] = eventually(lambda: cases_of(admin, sender) or None, timeout=60)
    assert admin.get(f"/api/v1/cases/{case['case_id']}").json()["channel"] == "email"
    documents = eventually(
        lambda: (
            (
                {d["filename"] for d in admin.get(f"/api/v1/cases/{case['case_id']}/documents").json()}
                >= {"message.eml", "meter.pdf"}
            )
            or None
        ),
        timeout=30,
    )
    assert documents
    assert "\\Seen" in eventually(lambda: filed(mailserver, msg), timeout=30)


@pytest.mark.usefixtures("poller")
def test_a_mail_loop_is_filed_without_a_case(mailserver: imap.OwnDovecot, admin: Client) -> None:
    sender = f"robot-{uuid.uuid4().hex[:8]}@example.org"
    loop = message(sender, "Re: Re: Re: your case", "Looping.", X_Loop="help@casework.test")  # names us
    mailserver.deliver(loop.as_bytes())

    assert "\\Seen" in eventually(lambda: filed(mailserver, loop), timeout=60)
    assert cases_of(admin, sender) == []


def test_a_poller_killed_and_restarted_takes_nothing_in_twice(
    mailserver: imap.OwnDovecot, poller: Poller, admin: Client
) -> None:
    assert poller.signal(signal.SIGKILL) == -signal.SIGKILL
    sender = f"imap-{uuid.uuid4().hex[:8]}@example.org"
    first = message(sender, "Broken boiler")
    mailserver.deliver(first.as_bytes())
    mailserver.deliver(first.as_bytes())  # the same message twice (a client retried its APPEND)
    assert first["Message-ID"] in mailserver.folder("INBOX"), "nobody polls while the poller is down"

    poller.start()
    eventually(lambda: filed(mailserver, first), timeout=60)
    eventually(lambda: len(mailserver.folder("INBOX")) == 0 or None, timeout=60)
    [case] = eventually(lambda: cases_of(admin, sender) or None, timeout=60)
    timeline = admin.get(f"/api/v1/cases/{case['case_id']}/timeline").json()["items"]
    assert len([i for i in timeline if i["action"] == "intake_received"]) == 1
    assert poller.signal(signal.SIGTERM) == 0, "SIGTERM stops the poller cleanly"
