"""A Dovecot IMAP server of the test's own on loopback: one mailbox user, plain or TLS.

Dovecot comes from Debian (``dovecot-imapd``, installed by ``bin/start-deps``); this writes a
private configuration under a temporary directory of its own (removed by ``stop``), so the
machine's own mail setup (if any) is never touched, and runs ``dovecot -F`` as a child the test
stops. With ``tls=True`` a self-signed certificate for 127.0.0.1 is made with ``openssl``;
``ca_file`` is what a client must trust.
"""

from __future__ import annotations

import contextlib
import imaplib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from casekit.testing.suite import free_port

DOVECOT = "/usr/sbin/dovecot"
NOBODY = 65534  # mail is stored as nobody: Dovecot refuses uid 0 for mail access

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
{ssl}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


class OwnDovecot:
    def __init__(self, *, user: str = "casework", password: str = "secret", tls: bool = False):
        # Dovecot's auth and mail processes run as other users, so the directory must be reachable
        # by them: not under pytest's 0700 temporary tree
        self.root = Path(tempfile.mkdtemp(prefix="casework-dovecot-"))
        self.root.chmod(0o755)
        self.user, self.password, self.tls = user, password, tls
        self.port = free_port()
        self.ca_file: Path | None = None
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root / "mail", NOBODY, NOBODY)
        shutil.chown(self.root / "home", NOBODY, NOBODY)
        (self.root / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        tls = "ssl = no"
        if self.tls:
            key, cert = self.root / "key.pem", self.root / "cert.pem"
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            self.ca_file = cert
            tls = f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}"
        conf = self.root / "dovecot.conf"
        ports = (
            {"plain_port": 0, "tls_port": self.port} if self.tls else {"plain_port": self.port, "tls_port": 0}
        )
        conf.write_text(CONFIG.format(root=self.root, uid=NOBODY, ssl=tls, **ports))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise TimeoutError(f"dovecot did not listen on {self.port}; see {self.root}/dovecot.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the mailbox, as a mail client (the customer's side) sees it ---------------------------
    def client(self) -> imaplib.IMAP4:
        if self.tls:  # implicit TLS (imaps), as on port 993
            context = ssl.create_default_context(cafile=str(self.ca_file))
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        else:
            conn = imaplib.IMAP4("127.0.0.1", self.port)
        conn.login(self.user, self.password)
        return conn

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as conn:
            status, detail = conn.append(folder, None, None, raw)
            assert status == "OK", detail

    def folder(self, name: str = "INBOX") -> dict[str, list[str]]:
        """Every message's Message-ID in ``name`` with its flags (uid order)."""
        with self.client() as conn:
            conn.select(name, readonly=True)
            _, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        out: dict[str, list[str]] = {}
        for part in data or []:
            if isinstance(part, tuple):
                meta, header = part[0].decode(), part[1].decode()
                message_id = header.split(":", 1)[1].strip() if ":" in header else ""
                flags = meta.split("FLAGS (", 1)[1].split(")", 1)[0].split() if "FLAGS (" in meta else []
                out[message_id] = flags
        return out
