"""Lockout policy against guessing dates of birth or application numbers (pure logic).

Two counters of failed lookups (unknown number or wrong date of birth — the same thing to
the applicant), each in a fixed one-hour window:
- per wa_id (one phone guessing many numbers or dates), across offices;
- per application number (many phones guessing one applicant's date of birth), counted
  whether or not the application exists, so a lock says nothing about existence.
Reaching a limit locks that wa_id or application for `lock_seconds`; while locked, no
lookup is made at all (not even a correct pair is answered), so a locked guesser learns
nothing. The Redis adapter (`store.LockoutStore`) keeps the counters; this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LockScope(StrEnum):
    """What a lock applies to."""

    WA_ID = "wa_id"
    APPLICATION = "application"


@dataclass(frozen=True)
class LockoutPolicy:
    """Limits of failed lookups and how long a lock lasts."""

    max_failures_per_wa_id: int = 5
    max_failures_per_application: int = 10
    window_seconds: int = 3600
    lock_seconds: int = 3600

    def __post_init__(self) -> None:
        if min(self.max_failures_per_wa_id, self.max_failures_per_application) < 1:
            raise ValueError("lockout limits must be at least 1")
        if min(self.window_seconds, self.lock_seconds) < 1:
            raise ValueError("lockout window and lock duration must be at least 1 second")

    def limit(self, scope: LockScope) -> int:
        """The failures allowed per window for a scope."""
        if scope is LockScope.WA_ID:
            return self.max_failures_per_wa_id
        return self.max_failures_per_application

    def locks_after_failure(self, scope: LockScope, failures_in_window: int) -> bool:
        """True if this failure (the `failures_in_window`-th) reaches the limit: lock now."""
        return failures_in_window >= self.limit(scope)


@dataclass(frozen=True)
class LockState:
    """Seconds left on each lock (0 = not locked)."""

    wa_id_seconds: int = 0
    application_seconds: int = 0

    @property
    def locked(self) -> bool:
        """True if either lock is on."""
        return self.wa_id_seconds > 0 or self.application_seconds > 0

    @property
    def seconds_left(self) -> int:
        """Until the applicant can try again."""
        return max(self.wa_id_seconds, self.application_seconds)
