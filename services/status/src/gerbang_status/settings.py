"""Settings of the status service (API and worker), from `GERBANG_*` environment variables."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from gerbang.settings import ServiceSettings
from gerbang_status.lockout import LockoutPolicy
from gerbang_status.parsing import DEFAULT_APPLICATION_NO_PATTERN, ApplicationNoFormat


class StatusSettings(ServiceSettings):
    """Everything the status API and worker need beyond Kafka, Redis and the offices."""

    api_host: str = Field(default="127.0.0.1", description="Address the back-office API listens on")
    api_port: int = Field(default=8082, ge=1, le=65535, description="Port of the back-office API")
    health_port: int = Field(
        default=9104, ge=0, le=65535, description="Worker /healthz /readyz /metrics port (0: off)"
    )
    application_no_pattern: str = Field(
        default=DEFAULT_APPLICATION_NO_PATTERN,
        description="Regex an application number must match after upper-casing and removing "
        "spaces and dashes (default: 6–20 letters/digits with at least one digit)",
    )
    max_failures_per_wa_id: int = Field(
        default=5, ge=1, le=1000, description="Failed lookups per wa_id per window before a lock"
    )
    max_failures_per_application: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Failed lookups of one application number per window, from numbers other "
        "than the one on file, before it is guarded: the number on file is still answered, "
        "every other number gets one lookup per guarded_retry_s (never a lock of the owner)",
    )
    failure_window_s: int = Field(
        default=3600, ge=1, le=86_400, description="Window in which failed lookups are counted"
    )
    lock_s: int = Field(
        default=3600,
        ge=1,
        le=86_400,
        description="How long a guessing wa_id stays locked, and an application guarded",
    )
    guarded_retry_s: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="While an application is guarded: one lookup of it per this many seconds "
        "for all numbers other than the one on file together",
    )
    expect_ttl_s: int = Field(
        default=600,
        ge=30,
        le=86_400,
        description="How long the conversation waits for the number or the date of birth",
    )
    optin_offer_ttl_s: int = Field(
        default=86_400,
        ge=60,
        le=7 * 86_400,
        description="How long after a successful lookup the 'notify me' button is honoured",
    )
    bulk_max_rows: int = Field(
        default=10_000, ge=1, le=100_000, description="Rows accepted in one bulk upload"
    )
    bulk_max_bytes: int = Field(
        default=5_000_000, ge=1_000, le=100_000_000, description="Largest bulk upload body"
    )
    view_check_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often the worker checks that the Redis view exists (rebuilds if not)",
    )
    rebuild_timeout_s: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="Longest a view rebuild from status.updates may take before it is retried",
    )

    @field_validator("application_no_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @property
    def application_no_format(self) -> ApplicationNoFormat:
        """The application-number format in force."""
        return ApplicationNoFormat(self.application_no_pattern)

    @property
    def lockout_policy(self) -> LockoutPolicy:
        """The lockout limits in force."""
        return LockoutPolicy(
            self.max_failures_per_wa_id,
            self.max_failures_per_application,
            self.failure_window_s,
            self.lock_s,
            self.guarded_retry_s,
        )
