"""Signing keys of external OIDC issuers, fetched from their JWKS URL with PyJWT's PyJWKClient.

Keys are cached for ``lifespan`` seconds. A token naming an unknown ``kid`` triggers one refetch
(so a rotated key is picked up at once), but at most one forced refetch per ``min_refresh``
seconds, so a flood of made-up kids cannot turn the gateway into a JWKS hammer.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
from jwt import PyJWKClient


class UnknownKey(Exception):
    pass


class JwksKeys:
    def __init__(self, url: str, *, lifespan: int = 300, min_refresh: float = 10.0, timeout: int = 5) -> None:
        self.client = PyJWKClient(
            url, cache_keys=False, cache_jwk_set=True, lifespan=lifespan, timeout=timeout
        )
        self.min_refresh = min_refresh
        self.last_forced = 0.0
        self.lock = threading.Lock()

    def _find(self, kid: str, refresh: bool) -> Any:
        for key in self.client.get_signing_keys(refresh=refresh):
            if key.key_id == kid:
                return key
        return None

    def key_for(self, kid: str | None) -> Any:
        if not kid or not isinstance(kid, str):
            raise UnknownKey("the token names no key id")
        try:
            key = self._find(kid, refresh=False)
            if key is None:
                with self.lock:
                    now = time.monotonic()
                    allowed = now - self.last_forced >= self.min_refresh
                    if allowed:
                        self.last_forced = now
                if allowed:
                    key = self._find(kid, refresh=True)
        except jwt.PyJWKClientError as exc:
            raise UnknownKey(f"the issuer's keys could not be fetched: {exc}") from None
        if key is None:
            raise UnknownKey(f"unknown key id {kid[:40]!r}")
        return key.key


_registry: dict[str, JwksKeys] = {}
_registry_lock = threading.Lock()


def keys_for(url: str) -> JwksKeys:
    """One key cache per JWKS URL and process."""
    with _registry_lock:
        found = _registry.get(url)
        if found is None:
            found = _registry[url] = JwksKeys(url)
        return found


def forget_all() -> None:
    with _registry_lock:
        _registry.clear()
