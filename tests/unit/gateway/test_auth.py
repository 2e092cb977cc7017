"""Access tokens: one valid shape verifies, every hostile variant is InvalidToken (RFC 8725)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.auth import (
    MAX_TOKEN_BYTES,
    InvalidToken,
    bearer_token,
    issue_token,
    verify_token,
)
from gateway.settings import Settings

SECRET = "k" * 64
SETTINGS = Settings(jwt_secret=SECRET, jwt_issuer="casework", jwt_audience="casework-api")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {
        "iss": "casework",
        "aud": "casework-api",
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "roles": ["agent"],
        **overrides,
    }
    return {k: v for k, v in out.items() if v is not None}


def token(
    payload: dict[str, Any] | None = None,
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    return jwt.encode(
        payload if payload is not None else claims(),
        key,
        algorithm=algorithm,
        headers={"typ": "at+jwt", **(headers or {})},
    )


def b64url(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def by_hand(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64url(header), b64url(payload), b64url(signature) if signature else ""])


def rejected(tok: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verify_token(SETTINGS, tok)
    return caught.value


def test_a_valid_token_verifies() -> None:
    out = verify_token(SETTINGS, token())

    assert out["sub"] == "user-1"
    assert out["roles"] == ["agent"]


def test_an_issued_token_verifies() -> None:
    issued = issue_token(SETTINGS, user_id="user-7", roles=["supervisor"])

    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == SETTINGS.access_token_ttl
    assert jwt.get_unverified_header(issued["access_token"])["typ"] == "at+jwt"
    assert verify_token(SETTINGS, issued["access_token"])["sub"] == "user-7"


def test_expiry_within_the_leeway_is_accepted() -> None:
    assert verify_token(SETTINGS, token(claims(exp=int(time.time()) - 10)))["sub"] == "user-1"


def test_alg_none_is_rejected() -> None:
    rejected(by_hand({"alg": "none", "typ": "at+jwt"}, claims()))


def test_alg_none_with_a_signature_of_the_right_secret_is_rejected() -> None:
    valid_signature = token().split(".")[2]
    header, payload = b64url({"alg": "none", "typ": "at+jwt"}), b64url(claims())

    rejected(f"{header}.{payload}.{valid_signature}")


def test_hs512_is_rejected_even_with_the_right_secret() -> None:
    assert "algorithm" in str(rejected(token(algorithm="HS512")))


def test_rs256_is_rejected() -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    rejected(token(key=private_key, algorithm="RS256"))


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    rejected(token(key="x" * 64))


def test_a_tampered_payload_is_rejected() -> None:
    header, _, signature = token().split(".")
    forged_payload = b64url(claims(sub="admin-1", roles=["admin"]))

    rejected(f"{header}.{forged_payload}.{signature}")


def test_a_wrong_issuer_is_rejected() -> None:
    rejected(token(claims(iss="someone-else")))


@pytest.mark.parametrize("aud", ["another-api", ["another-api"], ""])
def test_a_wrong_audience_is_rejected(aud: Any) -> None:
    rejected(token(claims(aud=aud)))


def test_a_token_expired_beyond_the_leeway_is_rejected() -> None:
    rejected(token(claims(exp=int(time.time()) - 120)))


def test_a_token_not_yet_valid_is_rejected() -> None:
    rejected(token(claims(nbf=int(time.time()) + 3600)))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_a_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    rejected(token(claims(**{claim: None})))


@pytest.mark.parametrize("sub", [42, None, ["user-1"]])
def test_a_subject_that_is_not_a_user_id_is_rejected(sub: Any) -> None:
    payload = claims()
    payload["sub"] = sub

    rejected(token(payload))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT!", "id+jwt"])
def test_a_token_of_another_type_is_rejected(typ: str) -> None:
    rejected(token(headers={"typ": typ}))


def test_a_token_without_a_type_is_rejected() -> None:
    tok = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert "typ" in jwt.get_unverified_header(tok)  # PyJWT adds typ=JWT by default

    rejected(jwt.encode(claims(), SECRET, algorithm="HS256", headers={"typ": None}))


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example/keys.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jwk": {"kty": "oct", "k": b64url(b"attacker")}},
    ],
)
def test_key_references_in_the_header_are_rejected_even_when_signed_correctly(header: dict) -> None:
    assert "key references" in str(rejected(token(headers=header)))


def test_a_16_kb_token_is_rejected_before_verification() -> None:
    big = token(claims(padding="p" * 16 * 1024))
    assert len(big) > MAX_TOKEN_BYTES

    with pytest.raises(InvalidToken, match="too large"):
        verify_token(SETTINGS, bearer_token(f"Bearer {big}"))


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-token", "a.b.c", "....", "e30.e30.", b64url(b"\xff\xfe") + ".e30.", "ä.ö.ü", "Bearer x"],
)
def test_garbage_is_rejected(garbage: str) -> None:
    rejected(garbage)


def test_a_header_that_is_not_an_object_is_rejected() -> None:
    rejected(f"{b64url(b'[1]')}.{b64url(claims())}.")


def test_bearer_token_extracts_the_token() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc.def.ghi  ") == "abc.def.ghi"


@pytest.mark.parametrize(
    "value", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer    ", "abc.def.ghi"]
)
def test_bearer_token_refuses_anything_else(value: str | None) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(value)
