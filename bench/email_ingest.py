"""Email ingest benchmark: emails/s end to end (SMTP in, case opened, searchable), 1 MB attachment.

Starts a fresh suite (``running_suite``) unless ``--url``/``--smtp`` name a running one. Each
client is a thread that sends one email at a time to the SMTP listener (a new sender each, so each
opens a case), with a ``--attachment-kb`` attachment (1024 by default), takes the case reference
from the SMTP reply (sent only after intake and every document are stored) and then polls
``GET /api/v1/search?q=<reference>`` until the case is searchable. An email counts as done then.
It reports and never asserts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import smtplib
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casekit.testing.suite import Client, running_suite  # noqa: E402

TAKEN = re.compile(r"taken in on (\S+) case ([0-9a-f-]{36})")
now = time.perf_counter


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def make_email(attachment: bytes) -> bytes:
    msg = EmailMessage()
    sender = f"bench-{uuid.uuid4().hex[:12]}@example.org"
    msg["From"], msg["To"] = f"Bench <{sender}>", "help@casework.test"
    msg["Subject"] = f"Bench complaint {uuid.uuid4().hex[:8]}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg["Auto-Submitted"] = "auto-generated"  # no acknowledgement: measure intake only
    msg.set_content("Please look at the attached statement.")
    msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="statement.bin")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def run(url: str, smtp: str, clients: int, seconds: float, attachment_kb: int) -> dict:
    host, _, port = smtp.rpartition(":")
    attachment = os.urandom(attachment_kb * 1024)
    smtp_ms: list[float] = []
    total_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = now() + seconds

    def client() -> None:
        http = Client(url)
        while now() < stop_at:
            raw = make_email(attachment)
            started = now()
            try:
                with smtplib.SMTP(host, int(port), timeout=120) as conn:
                    conn.ehlo()
                    conn.mail("bench@example.org")
                    conn.rcpt("help@casework.test")
                    code, reply = conn.data(raw)
            except (OSError, smtplib.SMTPException) as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            accepted = now()
            match = TAKEN.search(reply.decode())
            if code != 250 or not match:
                with lock:
                    errors.append(f"{code} {reply!r}")
                continue
            delay = 0.01
            while True:
                found = http.get("/api/v1/search", params={"q": match.group(1)}).json().get("items")
                if found:
                    break
                if now() - started > 60:
                    with lock:
                        errors.append(f"{match.group(1)} not searchable in 60 s")
                    break
                time.sleep(delay)
                delay = min(delay * 1.5, 0.1)
            with lock:
                smtp_ms.append((accepted - started) * 1000)
                total_ms.append((now() - started) * 1000)

    began = now()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = now() - began
    return {
        "clients": clients,
        "done": len(total_ms),
        "per_s": len(total_ms) / wall,
        "mb_per_s": len(total_ms) * attachment_kb / 1024 / wall,
        "smtp_p50": pct(smtp_ms, 50),
        "smtp_p99": pct(smtp_ms, 99),
        "total_p50": pct(total_ms, 50),
        "total_p99": pct(total_ms, 99),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def report(rows: list[dict], attachment_kb: int) -> None:
    print(f"\nEmail ingest, {attachment_kb} KB attachment each (SMTP in -> case -> documents -> searchable)")
    print(
        "| clients | emails done | emails/s | MB/s | SMTP accepted p50 / p99 ms "
        "| to searchable p50 / p99 ms | errors |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['done']} | {r['per_s']:.1f} | {r['mb_per_s']:.1f} | "
            f"{r['smtp_p50']:.0f} / {r['smtp_p99']:.0f} | {r['total_p50']:.0f} / {r['total_p99']:.0f} | "
            f"{r['errors']} |"
        )
        if r["first_error"]:
            print(f"  first error: {r['first_error'][:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--attachment-kb", type=int, default=1024)
    parser.add_argument("--url", help="a running gateway (make run); default: start a fresh suite")
    parser.add_argument("--smtp", default="127.0.0.1:2525", help="with --url: the SMTP listener")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    if args.url:
        rows = [run(args.url, args.smtp, c, args.seconds, args.attachment_kb) for c in counts]
    else:
        extra = {"MAX_UPLOAD_BYTES": str(64 * 1024 * 1024), "GATEWAY_ACCESS_LOG": "", "LOG_LEVEL": "WARNING"}
        with (
            tempfile.TemporaryDirectory(prefix="casework-bench-email-") as tmp,
            running_suite(Path(tmp), extra_env=extra) as suite,
        ):
            rows = [
                run(suite.gateway_url, suite.env["SMTP_IN_BIND"], c, args.seconds, args.attachment_kb)
                for c in counts
            ]
    report(rows, args.attachment_kb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
