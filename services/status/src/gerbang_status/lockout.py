"""Lockout policy against guessing dates of birth or application numbers (pure logic).

Lock the guesser, never the owner. Two measures, each counting failed lookups (unknown
number or wrong date of birth — the same thing to the applicant) in a fixed window:

- per wa_id (one phone guessing many numbers or dates), across offices: reaching
  `max_failures_per_wa_id` **locks that wa_id** for `lock_seconds`. WhatsApp authenticates
  the wa_id, so only the guesser's own phone is locked.
- per application number (many phones guessing one applicant's date of birth), counted
  whether or not the application exists: reaching `max_failures_per_application` makes the
  application **guarded** for `lock_seconds`, not locked. While guarded,
  - the number on file for the application (`ApplicationRecord.wa_id`, the owner's) is
    answered as always;
  - every other wa_id is slowed down: one lookup of that application per
    `guarded_retry_seconds`, shared by all of them (the rest hear "try again after HH:MM",
    minutes away, never an hour).
  A stranger who knows the number can therefore no longer lock its owner out (before, a few
  wrong dates locked the application for an hour for everyone), while a crowd of phones gets
  at most one guess a minute. An owner whose number the office did not record is slowed
  down like everyone else, for minutes. Failures from the number on file do not count
  toward the guard (only toward that phone's own limit).
While a wa_id is locked, or a slowed-down wa_id has no turn, no answer depends on the record,
so a locked guesser learns nothing. The Redis adapter (`store.LockoutStore`) keeps the
counters; this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gerbang.phone import normalize_msisdn


class LockScope(StrEnum):
    """What a failure limit applies to: a wa_id is locked, an application is guarded."""

    WA_ID = "wa_id"
    APPLICATION = "application"


@dataclass(frozen=True)
class LockoutPolicy:
    """Limits of failed lookups, how long a lock or guard lasts, the guarded pace."""

    max_failures_per_wa_id: int = 5
    max_failures_per_application: int = 10
    window_seconds: int = 3600
    lock_seconds: int = 3600
    guarded_retry_seconds: int = 60

    def __post_init__(self) -> None:
        if min(self.max_failures_per_wa_id, self.max_failures_per_application) < 1:
            raise ValueError("lockout limits must be at least 1")
        if min(self.window_seconds, self.lock_seconds, self.guarded_retry_seconds) < 1:
            raise ValueError("lockout window, lock and retry durations must be at least 1 second")

    def limit(self, scope: LockScope) -> int:
        """The failures allowed per window for a scope."""
        if scope is LockScope.WA_ID:
            return self.max_failures_per_wa_id
        return self.max_failures_per_application

    def locks_after_failure(self, scope: LockScope, failures_in_window: int) -> bool:
        """True if this failure (the `failures_in_window`-th) reaches the limit: lock the
        wa_id, or guard the application, now."""
        return failures_in_window >= self.limit(scope)


@dataclass(frozen=True)
class LockState:
    """What stands between a wa_id and a lookup of one application right now."""

    wa_id_seconds: int = 0
    """Seconds left on this wa_id's lock (0: not locked)."""
    application_seconds: int = 0
    """Seconds until this wa_id's next turn at a guarded application (0: it may try now)."""

    @property
    def locked(self) -> bool:
        """True if this lookup must not be made now."""
        return self.wa_id_seconds > 0 or self.application_seconds > 0

    @property
    def seconds_left(self) -> int:
        """Until the applicant can try again."""
        return max(self.wa_id_seconds, self.application_seconds)


def needs_turn(*, guarded: bool, on_file: bool) -> bool:
    """True if this lookup must take the guarded application's shared turn: the application
    is guarded and the asking wa_id is not the number on file."""
    return guarded and not on_file


def counts_for_application(*, on_file: bool) -> bool:
    """A failure counts toward the application's guard unless it came from the number on
    file (the owner mistyping their own date of birth guards nothing against them)."""
    return not on_file


def is_number_on_file(number_on_file: str | None, wa_id: str) -> bool:
    """True if `wa_id` is the number the office recorded for the application (its owner)."""
    if not number_on_file:
        return False
    return normalize_msisdn(number_on_file) == normalize_msisdn(wa_id)
