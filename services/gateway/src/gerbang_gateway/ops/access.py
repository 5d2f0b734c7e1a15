"""Who may see what on `/ops`: staff sessions, CSRF, sign-in throttling, the office rule.

Staff sign in with a named account (`ops.staff`). A session is server-side, in Redis:
the cookie holds only a random session id (256 bits); Redis holds the account name, the
session's CSRF token and an expiry (`ops_session_hours`). Signing out deletes it; removing
an account or changing its password ends its sessions (the session remembers a fingerprint
of the password hash). Every form carries the session's CSRF token (the sign-in form a
double-submit cookie), checked on every POST.

Sign-in is throttled in Redis per account and per client address: after
`ACCOUNT_FAILURES` wrong passwords for an account (or `ADDRESS_FAILURES` from an address)
within `LOCKOUT_S`, every attempt, the right password included, is refused until the lock
expires. Failures and lockouts are counted per office and day for `/ops`.

An office's staff see only that office; national staff see every office. The server checks
this on every page and action (`Viewer.may_see`), never trusting the URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from gerbang_gateway.ops.staff import NATIONAL, Role, StaffAccount, StaffDirectory

ALL_OFFICES = "all"
"""The pseudo office code of the national view's sum over every office."""
COOKIE_NAME = "gerbang_ops"
LOGIN_CSRF_COOKIE = "gerbang_ops_login"
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
LOCKOUT_S = 15 * 60


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: one office's staff, or national staff."""

    scope: str
    """An office code, or `NATIONAL`."""
    username: str = ""
    role: Role = Role.AGENT
    name: str = ""

    @classmethod
    def of(cls, account: StaffAccount) -> Viewer:
        """The viewer an account signs in as."""
        return cls(account.office, account.username, account.role, account.name)

    @property
    def national(self) -> bool:
        """Sees every office."""
        return self.scope == NATIONAL

    @property
    def lead(self) -> bool:
        """May read the audit log (office lead of its office, or national)."""
        return self.role in (Role.OFFICE_LEAD, Role.NATIONAL)

    def may_see(self, office: str) -> bool:
        """Whether this viewer may see an office's data (`ALL_OFFICES`: national only)."""
        return self.national or office == self.scope

    @property
    def home(self) -> str:
        """The office page this viewer lands on."""
        return ALL_OFFICES if self.national else self.scope


@dataclass(frozen=True)
class OpsSession:
    """A signed-in session: who, and the token every form must carry."""

    viewer: Viewer
    csrf: str


def _fingerprint(account: StaffAccount) -> str:
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


class OpsSessions:
    """Server-side sessions in Redis (`gerbang:ops:session:<id>`)."""

    def __init__(
        self, redis: Redis, prefix: str, staff: StaffDirectory, session_ttl_s: int
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.staff = staff
        self.session_ttl_s = session_ttl_s

    def _key(self, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()  # the id itself is not stored
        return f"{self.prefix}gerbang:ops:session:{digest}"

    async def create(self, account: StaffAccount) -> tuple[str, OpsSession]:
        """A new session for the account: (cookie value, session)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        await self.redis.hset(
            self._key(session_id),
            mapping={"username": account.username, "csrf": csrf, "pw": _fingerprint(account)},
        )
        await self.redis.expire(self._key(session_id), self.session_ttl_s)
        return session_id, OpsSession(Viewer.of(account), csrf)

    async def load(self, session_id: str | None) -> OpsSession | None:
        """The session of a cookie, or None (unknown, expired, account gone or re-keyed)."""
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.hgetall(self._key(session_id))
        if not raw:
            return None
        account = self.staff.get(str(raw.get("username", "")))
        if account is None or not hmac.compare_digest(_fingerprint(account), str(raw.get("pw"))):
            return None
        return OpsSession(Viewer.of(account), str(raw["csrf"]))

    async def end(self, session_id: str | None) -> None:
        """Sign out."""
        if session_id:
            await self.redis.delete(self._key(session_id))


def csrf_ok(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected, presented)


@dataclass(frozen=True)
class Lock:
    """A refused sign-in: what is locked and for how long."""

    scope: str
    """"account" or "address"."""
    seconds: int


class SignInThrottle:
    """Failed sign-ins per account and per address, with lockouts (Redis)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.base = f"{prefix}gerbang:ops:signin:"

    def _account(self, username: str) -> str:
        return f"{self.base}fail:account:{username[:64]}"

    def _address(self, address: str) -> str:
        return f"{self.base}fail:address:{address[:64]}"

    def stats_key(self, day: dt.date) -> str:
        """Per-day counters: `failed:<office>`, `locked:<office>`."""
        return f"{self.base}stats:{day.isoformat()}"

    async def locked(self, username: str, address: str) -> Lock | None:
        """The lock that refuses this attempt, if any."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._account(username))
            pipe.ttl(self._account(username))
            pipe.get(self._address(address))
            pipe.ttl(self._address(address))
            account_n, account_ttl, address_n, address_ttl = await pipe.execute()
        if int(account_n or 0) >= ACCOUNT_FAILURES:
            return Lock("account", max(int(account_ttl), 1))
        if int(address_n or 0) >= ADDRESS_FAILURES:
            return Lock("address", max(int(address_ttl), 1))
        return None

    async def failed(self, username: str, address: str, office: str) -> None:
        """Count a wrong password (each failure extends the window)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._account(username), self._address(address)):
                pipe.incr(key)
                pipe.expire(key, LOCKOUT_S)
            await pipe.execute()
        await self.count(office, "failed")

    async def count(self, office: str, what: str) -> None:
        """Count a failure or a refusal by lock for `/ops` (kept 8 days)."""
        key = self.stats_key(dt.datetime.now(dt.UTC).date())
        await self.redis.hincrby(key, f"{what}:{office}", 1)
        await self.redis.expire(key, 8 * 86400)

    async def succeeded(self, username: str) -> None:
        """A right password (not locked): the account's failures are forgotten."""
        await self.redis.delete(self._account(username))

    async def today(self, offices: list[str]) -> dict[str, int]:
        """Today's failures and locked refusals for these offices (`*`: national staff and
        names that are no account)."""
        raw = await self.redis.hgetall(self.stats_key(dt.datetime.now(dt.UTC).date()))
        totals = {"failed": 0, "locked": 0}
        for field, value in raw.items():
            what, _, office = str(field).partition(":")
            if what in totals and office in offices:
                totals[what] += int(value)
        return totals
