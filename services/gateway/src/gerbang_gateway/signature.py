"""Authenticating Meta's webhook calls: the X-Hub-Signature-256 HMAC and the GET handshake.

Meta signs every webhook POST with HMAC-SHA256 of the body, keyed with the app secret, and
sends `X-Hub-Signature-256: sha256=<hex>` (reference/whatsapp-cloud-api.md §1.2). Meta signs
the bytes it sends, in which non-ASCII text is escaped (`\\u00e9`, `\\ud83d\\ude4f`), so the
HMAC must be computed over the raw request bytes as received: re-serialising parsed JSON
changes the bytes and breaks the signature for exactly the messages with accents or emoji.

Several offices can share one Meta app (and so one app secret), and one deployment can hold
several apps: the caller passes the distinct candidate secrets and learns which one matched.
Reasons in the exceptions are safe to log: they never contain a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SCHEME = "sha256"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class InvalidSignature(Exception):
    """The webhook's signature header is missing, malformed, or matches no app secret (→ 401)."""


class InvalidHandshake(Exception):
    """A webhook verification GET that must not be answered with the challenge (→ 403)."""


def _digest(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=<lowercase hex>`.

    Used by tests, the WhatsApp simulator and the load generator to sign what they post.
    """
    return f"{_SCHEME}={_digest(body, secret)}"


def verify_signature(body: bytes, header: str | None, secrets: Iterable[str]) -> str:
    """Check `X-Hub-Signature-256` against the raw body; return the app secret that matched.

    `body` must be the request bytes exactly as received (never re-serialised JSON).
    `secrets` are the candidate app secrets; duplicates and empty strings are skipped (an empty
    key would let anyone sign). Every candidate is compared in constant time, and all of them
    are tried, so timing does not reveal which one matched. Uppercase hex is accepted (HMAC
    hex is case-insensitive); the `sha1=` scheme of the legacy `X-Hub-Signature` header is not.

    Raises `InvalidSignature` with a reason that is safe to log.
    """
    if header is None or not header.strip():
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    scheme, separator, presented = header.strip().partition("=")
    if not separator:
        raise InvalidSignature(f"malformed {SIGNATURE_HEADER} header: expected 'sha256=<hex>'")
    if scheme.lower() != _SCHEME:
        raise InvalidSignature(
            f"unsupported signature scheme {scheme[:12]!r}: expected 'sha256' "
            f"(the {SIGNATURE_HEADER} header)"
        )
    if not _HEX_DIGEST.fullmatch(presented):
        raise InvalidSignature(
            f"malformed {SIGNATURE_HEADER} header: expected 64 hex digits after 'sha256='"
        )
    presented = presented.lower()
    candidates = [secret for secret in dict.fromkeys(secrets) if secret]
    if not candidates:
        raise InvalidSignature("no app secret to check the signature against")
    matched: str | None = None
    for secret in candidates:
        if hmac.compare_digest(_digest(body, secret), presented) and matched is None:
            matched = secret
    if matched is None:
        raise InvalidSignature(
            f"{SIGNATURE_HEADER} matches none of the {len(candidates)} candidate app secret(s)"
        )
    return matched


def verify_handshake(
    mode: str | None,
    verify_token: str | None,
    challenge: str | None,
    expected_token: str,
) -> str:
    """Answer Meta's verification GET: return `hub.challenge` unchanged, or raise.

    Meta sends `hub.mode=subscribe`, the verify token typed into the App Dashboard and a
    challenge to echo (reference §1.1). The challenge is opaque: it is returned as received.
    Raises `InvalidHandshake` (reason safe to log) when the mode is not `subscribe`, no token
    is configured, the token differs (compared in constant time) or the challenge is missing.
    """
    if mode != "subscribe":
        raise InvalidHandshake("hub.mode is not 'subscribe'")
    if not expected_token:
        raise InvalidHandshake("no verify token is configured")
    # compare_digest refuses non-ASCII str, and a token typed in a query string can be anything.
    if verify_token is None or not hmac.compare_digest(
        verify_token.encode("utf-8"), expected_token.encode("utf-8")
    ):
        raise InvalidHandshake("hub.verify_token does not match")
    if not challenge:
        raise InvalidHandshake("hub.challenge is missing")
    return challenge
