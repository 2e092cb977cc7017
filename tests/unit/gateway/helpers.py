"""An in-process gateway on SQLite with a fake Rpc, and a JWKS server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from casekit.context import Principal
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.clients import Call, Outcome
from gateway.settings import Settings
from gateway.users import Base, User

SECRET = "s" * 64


class FakeRpc:
    def __init__(self) -> None:
        self.calls: list[tuple[Principal, str, str, tuple, dict]] = []
        self.answers: dict[tuple[str, str], Any] = {}

    def call(self, principal: Principal, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((principal, service, method, args, kwargs))
        answer = self.answers.get((service, method))
        if isinstance(answer, Exception):
            raise answer
        return answer(*args) if callable(answer) else answer

    def fanout(self, principal: Principal, calls: list[Call], budget: float | None = None) -> list[Outcome]:
        outcomes = []
        for c in calls:
            try:
                outcomes.append(Outcome(value=self.call(principal, c.service, c.method, *c.args, **c.kwargs)))
            except Exception as exc:  # noqa: BLE001
                outcomes.append(Outcome(error=exc))
        return outcomes


class Gateway:
    """A gateway app on an in-memory SQLite user store."""

    def __init__(self, **overrides: Any) -> None:
        self.engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        Base.metadata.create_all(self.engine)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.settings = Settings(
            jwt_secret=SECRET,
            rate_limit_storage="memory://",
            **overrides,
        )
        self.rpc = FakeRpc()
        self.app = create_app(self.settings, self.rpc, self.sessions)
        self.client: FlaskClient = self.app.test_client()

    def add_user(self, user_id: str, roles: list[str], teams: list[str] | None = None) -> None:
        with self.sessions.begin() as s:
            s.add(
                User(
                    id=user_id,
                    username=user_id,
                    display_name=user_id,
                    password_hash="x",
                    roles=roles,
                    teams=teams or [],
                    active=True,
                    token_epoch=0,
                )
            )

    def auth(self, user_id: str, roles: list[str] | None = None) -> dict[str, str]:
        token = issue_token(self.settings, user_id=user_id, roles=roles or [])["access_token"]
        return {"Authorization": f"Bearer {token}"}


class Jwks:
    """Serves a JWKS document on 127.0.0.1 and signs tokens with its current keys."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.rotate("key-1")
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                jwks.fetches += 1
                body = json.dumps(jwks.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rotate(self, kid: str) -> Any:
        """Replace the published keys with one new key named ``kid``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = {kid: key}
        return key

    def document(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def sign(self, claims: dict[str, Any], kid: str | None = None, key: Any = None, **kw: Any) -> str:
        kid = kid or next(iter(self.keys))
        return jwt.encode(claims, key or self.keys.get(kid), algorithm="RS256", headers={"kid": kid, **kw})


@contextmanager
def jwks_server() -> Iterator[Jwks]:
    jwks = Jwks()
    jwks.thread.start()
    try:
        yield jwks
    finally:
        jwks.server.shutdown()
        jwks.server.server_close()
