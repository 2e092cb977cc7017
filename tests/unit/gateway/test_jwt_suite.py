"""The JWT suite against the gateway: the built-in issuer and an OIDC issuer whose keys come from a
JWKS server on loopback. Every hostile token is a 401; a revoked user is refused at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway import oidc
from gateway.auth import InvalidToken, verify_token
from gateway.settings import OidcIssuer, Settings, SettingsError
from tests.unit.gateway.helpers import SECRET, Gateway, Jwks, jwks_server

ISSUER = "https://idp.example.test/realms/casework"
AUDIENCE = "casework-api"


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    oidc.forget_all()
    with jwks_server() as server:
        yield server
    oidc.forget_all()


@pytest.fixture
def gateway(jwks: Jwks) -> Gateway:
    gw = Gateway(oidc_issuers=(OidcIssuer(issuer=ISSUER, jwks_url=jwks.url, audience=AUDIENCE, name="idp"),))
    gw.rpc.answers[("cases", "list_cases")] = {"items": [], "next_cursor": None}
    return gw


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["agent", "superuser"],
        "teams": ["red"],
        **overrides,
    }
    return {k: v for k, v in out.items() if v is not None}


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def get(gateway: Gateway, token: str) -> Any:
    return gateway.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})


def refused(gateway: Gateway, token: str) -> str:
    response = get(gateway, token)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert gateway.rpc.calls == []
    return response.get_json()["detail"]


def test_a_token_of_the_oidc_issuer_is_accepted_with_roles_and_teams_from_claims(
    gateway: Gateway, jwks: Jwks
) -> None:
    assert get(gateway, jwks.sign(claims())).status_code == 200

    who = gateway.rpc.calls[0][0]
    assert who.user_id == "idp:alice"
    assert who.roles == ("agent",)  # unknown roles are dropped
    assert who.teams == ("red",)


def test_a_forged_signature_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(gateway, jwks.sign(claims(), key=other))


def test_a_tampered_payload_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    header, _, signature = jwks.sign(claims()).split(".")
    refused(gateway, f"{header}.{b64(claims(roles=['admin']))}.{signature}")


@pytest.mark.parametrize("iss", [ISSUER, "casework"])
def test_alg_none_is_refused(gateway: Gateway, iss: str) -> None:
    refused(gateway, f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'key-1'})}.{b64(claims(iss=iss))}.")


@pytest.mark.parametrize("iss", [ISSUER, "casework"])
def test_hmac_signed_with_the_public_key_is_refused(gateway: Gateway, jwks: Jwks, iss: str) -> None:
    pem = (
        jwks.keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'key-1'})}.{b64(claims(iss=iss))}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    detail = refused(gateway, f"{signing_input}.{b64(signature)}")
    # the OIDC issuer pins RS256; the built-in HS256 secret is not the public key
    assert "algorithm" in detail if iss == ISSUER else "Signature" in detail


def test_an_expired_token_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    assert "expired" in refused(gateway, jwks.sign(claims(exp=int(time.time()) - 120)))


def test_a_not_yet_valid_token_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    assert "not yet valid" in refused(gateway, jwks.sign(claims(nbf=int(time.time()) + 3600)))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat", "aud", "sub"])
def test_a_missing_required_claim_is_refused(gateway: Gateway, jwks: Jwks, claim: str) -> None:
    refused(gateway, jwks.sign(claims(**{claim: None})))


def test_a_wrong_issuer_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    assert "unknown issuer" in refused(gateway, jwks.sign(claims(iss="https://evil.example/")))


def test_a_wrong_audience_is_refused(gateway: Gateway, jwks: Jwks) -> None:
    refused(gateway, jwks.sign(claims(aud="another-api")))


def test_an_unknown_kid_is_refused_and_refetches_are_bounded(gateway: Gateway, jwks: Jwks) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(5):
        assert "unknown key id" in refused(gateway, jwks.sign(claims(), kid=f"nope-{i}", key=stranger))

    assert jwks.fetches <= 2  # the first fetch and one forced refetch, not one per token


def test_a_rotated_key_is_picked_up(gateway: Gateway, jwks: Jwks) -> None:
    assert get(gateway, jwks.sign(claims())).status_code == 200
    jwks.rotate("key-2")

    assert get(gateway, jwks.sign(claims(), kid="key-2")).status_code == 200
    refused_old = jwks.sign(
        claims(), kid="key-1", key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    assert get(gateway, refused_old).status_code == 401


@pytest.mark.parametrize(
    "header", [{"jku": "http://127.0.0.1:1/k"}, {"x5u": "http://x/c"}, {"x5c": ["AAAA"]}]
)
def test_key_references_in_the_header_are_refused(gateway: Gateway, jwks: Jwks, header: dict) -> None:
    refused(gateway, jwks.sign(claims(), **header))


def test_an_oidc_user_revoked_is_refused_at_once(gateway: Gateway, jwks: Jwks) -> None:
    gateway.add_user("admin-1", ["admin"])
    token = jwks.sign(claims(iat=int(time.time()) - 5))
    assert get(gateway, token).status_code == 200

    revoked = gateway.client.post(
        "/api/v1/auth/revoke", json={"user_id": "idp:alice"}, headers=gateway.auth("admin-1")
    )
    assert revoked.status_code == 200
    gateway.rpc.calls.clear()
    refused(gateway, token)


def test_a_built_in_user_whose_sessions_are_revoked_is_refused_at_once(gateway: Gateway) -> None:
    gateway.add_user("u-1", ["agent"])
    headers = gateway.auth("u-1")
    assert gateway.client.get("/api/v1/cases", headers=headers).status_code == 200

    assert gateway.client.post("/api/v1/auth/revoke", json={}, headers=headers).status_code == 200
    gateway.rpc.calls.clear()
    assert "revoked" in refused(gateway, headers["Authorization"].split()[1])


def test_an_agent_may_not_revoke_someone_else(gateway: Gateway) -> None:
    gateway.add_user("u-1", ["agent"])
    gateway.add_user("u-2", ["agent"])
    response = gateway.client.post(
        "/api/v1/auth/revoke", json={"user_id": "u-2"}, headers=gateway.auth("u-1")
    )
    assert response.status_code == 403


def test_the_built_in_issuer_refuses_rs256_even_from_a_published_key(gateway: Gateway, jwks: Jwks) -> None:
    refused(gateway, jwks.sign(claims(iss="casework"), typ="at+jwt"))


def test_hmac_algorithms_cannot_be_configured_for_an_oidc_issuer() -> None:
    with pytest.raises(SettingsError):
        OidcIssuer.parse({"issuer": "x", "jwks_url": "http://x", "audience": "a", "algorithms": ["HS256"]})


def test_an_unreachable_jwks_is_a_refusal_not_an_error() -> None:
    oidc.forget_all()
    settings = Settings(
        jwt_secret=SECRET,
        oidc_issuers=(OidcIssuer(issuer=ISSUER, jwks_url="http://127.0.0.1:9/jwks", audience=AUDIENCE),),
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(InvalidToken, match="could not be fetched"):
        verify_token(settings, token)
