"""X-Hub-Signature-256 verification over raw bytes, and the webhook verification handshake."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbang_gateway.signature import (
    InvalidHandshake,
    InvalidSignature,
    sign,
    verify_handshake,
    verify_signature,
)

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "whatsapp"
SECRET = "a3f1c9e07b5d4e2f8a6b1c0d9e8f7a6b"
OTHER_SECRET = "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"
BODY = (FIXTURES / "text.json").read_bytes()


def test_sign_matches_a_known_hmac_sha256_vector() -> None:
    # RFC-style vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert sign(b"The quick brown fox jumps over the lazy dog", "key") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_valid_signature_returns_the_secret() -> None:
    assert verify_signature(BODY, sign(BODY, SECRET), [SECRET]) == SECRET


def test_wrong_secret_is_refused_without_revealing_secrets() -> None:
    with pytest.raises(InvalidSignature) as raised:
        verify_signature(BODY, sign(BODY, OTHER_SECRET), [SECRET])
    assert SECRET not in str(raised.value) and OTHER_SECRET not in str(raised.value)


def test_tampered_body_is_refused() -> None:
    header = sign(BODY, SECRET)
    tampered = BODY.replace(b"paspor baru", b"paspor lama")
    assert tampered != BODY
    with pytest.raises(InvalidSignature):
        verify_signature(tampered, header, [SECRET])


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(InvalidSignature, match="missing X-Hub-Signature-256"):
        verify_signature(BODY, header, [SECRET])


def test_sha1_scheme_is_refused_even_when_correct() -> None:
    # The legacy X-Hub-Signature (SHA1) header; only the SHA-256 one is accepted.
    sha1 = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    with pytest.raises(InvalidSignature, match="expected 'sha256'"):
        verify_signature(BODY, f"sha1={sha1}", [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        "sha256=",
        "sha256",
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
        "sha256=xyz",
        "sha256=" + "a" * 63,
        "sha256=" + "a" * 65,
        "sha256=" + "é" * 64,
    ],
)
def test_malformed_header(header: str) -> None:
    with pytest.raises(InvalidSignature, match=r"malformed|expected"):
        verify_signature(BODY, header, [SECRET])


def test_uppercase_hex_and_scheme_are_tolerated() -> None:
    hex_digest = sign(BODY, SECRET).removeprefix("sha256=")
    assert verify_signature(BODY, f"sha256={hex_digest.upper()}", [SECRET]) == SECRET
    assert verify_signature(BODY, f"SHA256={hex_digest}", [SECRET]) == SECRET
    assert verify_signature(BODY, f" sha256={hex_digest} ", [SECRET]) == SECRET


def test_verification_uses_the_raw_escaped_unicode_bytes() -> None:
    """Meta signs its escaped form (`\\u00e9`, `\\ud83d\\ude4f`); re-serialising breaks it."""
    raw = (FIXTURES / "text_non_ascii.json").read_bytes()
    assert b"\\u00e9" in raw and b"\\ud83d\\ude4f" in raw
    header = sign(raw, SECRET)
    assert verify_signature(raw, header, [SECRET]) == SECRET

    # What a framework hands over after parsing and re-encoding: same document, other bytes.
    reserialised = json.dumps(json.loads(raw), indent=2, ensure_ascii=False).encode() + b"\n"
    assert json.loads(reserialised) == json.loads(raw)
    assert reserialised != raw
    assert "🙏".encode() in reserialised
    with pytest.raises(InvalidSignature):
        verify_signature(reserialised, header, [SECRET])


def test_compact_escaped_body_differs_only_by_the_escapes() -> None:
    raw = b'{"name":"Andr\\u00e9","text":{"body":"Terima kasih \\ud83d\\ude4f"}}'
    header = sign(raw, SECRET)
    reserialised = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()
    assert reserialised == '{"name":"André","text":{"body":"Terima kasih 🙏"}}'.encode()
    assert verify_signature(raw, header, [SECRET]) == SECRET
    with pytest.raises(InvalidSignature):
        verify_signature(reserialised, header, [SECRET])


def test_several_candidate_secrets() -> None:
    third = "f00dfeedcafebabe"
    header = sign(BODY, OTHER_SECRET)
    assert verify_signature(BODY, header, [SECRET, OTHER_SECRET, third]) == OTHER_SECRET
    assert verify_signature(BODY, header, iter([OTHER_SECRET, OTHER_SECRET])) == OTHER_SECRET
    with pytest.raises(InvalidSignature, match="none of the 2 candidate"):
        verify_signature(BODY, header, [SECRET, third, SECRET])


@pytest.mark.parametrize("secrets", [[], [""], ["", ""]])
def test_no_usable_secret_is_refused(secrets: list[str]) -> None:
    # An empty key would make a signature anyone can compute.
    with pytest.raises(InvalidSignature, match="no app secret"):
        verify_signature(BODY, sign(BODY, ""), secrets)


def test_non_ascii_secret() -> None:
    secret = "rahasia-kantor-é"
    assert verify_signature(BODY, sign(BODY, secret), [secret]) == secret


@settings(deadline=None)
@given(
    body=st.binary(max_size=500),
    secret=st.text(min_size=1, max_size=40),
    position=st.integers(min_value=0),
)
def test_sign_then_verify_and_any_changed_byte_fails(
    body: bytes, secret: str, position: int
) -> None:
    header = sign(body, secret)
    assert verify_signature(body, header, [secret]) == secret
    if body:
        index = position % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(InvalidSignature):
            verify_signature(changed, header, [secret])


# --- handshake -------------------------------------------------------------------------------

TOKEN = "gerbang-verify-token"


def test_handshake_echoes_the_challenge_unchanged() -> None:
    assert verify_handshake("subscribe", TOKEN, "1158201444", TOKEN) == "1158201444"
    assert verify_handshake("subscribe", TOKEN, "0042 opaque", TOKEN) == "0042 opaque"


@pytest.mark.parametrize(
    ("mode", "token", "challenge", "expected", "reason"),
    [
        ("unsubscribe", TOKEN, "1", TOKEN, "hub.mode"),
        (None, TOKEN, "1", TOKEN, "hub.mode"),
        ("subscribe", "wrong", "1", TOKEN, "verify_token"),
        ("subscribe", None, "1", TOKEN, "verify_token"),
        ("subscribe", "tokén-ü", "1", TOKEN, "verify_token"),
        ("subscribe", "", "1", "", "no verify token"),
        ("subscribe", TOKEN, None, TOKEN, "challenge"),
        ("subscribe", TOKEN, "", TOKEN, "challenge"),
    ],
)
def test_handshake_refused(
    mode: str | None, token: str | None, challenge: str | None, expected: str, reason: str
) -> None:
    with pytest.raises(InvalidHandshake, match=reason) as raised:
        verify_handshake(mode, token, challenge, expected)
    assert expected == "" or expected not in str(raised.value)
