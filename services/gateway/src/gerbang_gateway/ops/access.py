"""Who may see what on `/ops`: tokens, signed session cookies, and the office rule.

An office's ops token sees only that office; the national token sees every office. The
server checks this on every page and action (`Viewer.may_see`), never trusting the URL.

Sign-in turns a token into a session cookie: `<scope>.<expires>.<fingerprint>.<mac>`, where
`scope` is an office code or `*` (national), `fingerprint` is the start of the token's
SHA-256 (a rotated token ends its sessions) and `mac` an HMAC over the rest with the
server's session secret. The token itself is never stored, logged or put in the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from gerbang.offices import (
    MissingSecret,
    OfficeRegistry,
    hash_token,
    office_token_sha256,
)

log = logging.getLogger(__name__)

NATIONAL = "*"
ALL_OFFICES = "all"
"""The pseudo office code of the national view's sum over every office."""
COOKIE_NAME = "gerbang_ops"
DEV_NATIONAL_OPS_TOKEN = "dev-national-ops-token"  # noqa: S105 - documented dev-only token
_FINGERPRINT_LEN = 16


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: one office's staff, or national ops."""

    scope: str
    """An office code, or `NATIONAL`."""

    @property
    def national(self) -> bool:
        """Sees every office."""
        return self.scope == NATIONAL

    def may_see(self, office: str) -> bool:
        """Whether this viewer may see an office's data (`ALL_OFFICES`: national only)."""
        return self.national or office == self.scope

    @property
    def home(self) -> str:
        """The office page this viewer lands on."""
        return ALL_OFFICES if self.national else self.scope


class OpsTokens:
    """The SHA-256 of each ops token, and the HMAC key that signs sessions."""

    def __init__(
        self, hashes: Mapping[str, str], session_secret: bytes, session_ttl_s: int
    ) -> None:
        self.hashes = dict(hashes)
        self._secret = session_secret
        self.session_ttl_s = session_ttl_s

    @classmethod
    def load(
        cls,
        registry: OfficeRegistry,
        *,
        development: bool,
        national_sha256: str | None,
        session_secret: str | None,
        session_ttl_s: int,
    ) -> OpsTokens:
        """Tokens of every office (from the environment; dev tokens in development)."""
        hashes: dict[str, str] = {}
        for office in registry:
            try:
                hashes[office.code] = office_token_sha256(
                    office.code, "OPS_TOKEN", development=development
                )
            except MissingSecret as exc:
                # No token configured: nobody signs in as this office (national still can).
                log.warning(
                    "office has no ops token", extra={"office": office.code, "reason": str(exc)}
                )
        if national_sha256:
            hashes[NATIONAL] = national_sha256
        elif development:
            hashes[NATIONAL] = hash_token(DEV_NATIONAL_OPS_TOKEN)
        secret = session_secret.encode() if session_secret else secrets.token_bytes(32)
        return cls(hashes, secret, session_ttl_s)

    def viewer_for_token(self, token: str) -> Viewer | None:
        """The viewer a presented token signs in as, or None (constant time per hash)."""
        presented = hash_token(token.strip())
        found: str | None = None
        for scope, expected in self.hashes.items():
            if hmac.compare_digest(presented, expected):
                found = scope
        return Viewer(found) if found is not None else None

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, viewer: Viewer, now: float | None = None) -> str:
        """A session cookie value for the viewer."""
        expires = int((now or time.time()) + self.session_ttl_s)
        fingerprint = self.hashes[viewer.scope][:_FINGERPRINT_LEN]
        body = f"{viewer.scope}.{expires}.{fingerprint}"
        return f"{body}.{self._mac(body)}"

    def verify(self, cookie: str | None, now: float | None = None) -> Viewer | None:
        """The viewer of a session cookie, or None if forged, expired or its token rotated."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        scope, expires, fingerprint, mac = parts
        if not hmac.compare_digest(mac, self._mac(f"{scope}.{expires}.{fingerprint}")):
            return None
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        current = self.hashes.get(scope)
        if current is None or not hmac.compare_digest(current[:_FINGERPRINT_LEN], fingerprint):
            return None
        return Viewer(scope)
