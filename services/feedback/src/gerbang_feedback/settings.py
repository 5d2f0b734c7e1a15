"""Settings of the feedback service (worker and API), from `GERBANG_*` environment variables."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from gerbang.messages import FeedbackKind
from gerbang.offices import hash_token
from gerbang.settings import ServiceSettings
from gerbang_feedback.sla import DEFAULT_SLA

DEV_NATIONAL_API_KEY = "dev-national-feedback-api-key"
DEV_NATIONAL_API_KEY_SHA256 = hash_token(DEV_NATIONAL_API_KEY)


class FeedbackSettings(ServiceSettings):
    """Feedback worker and feedback API.

    Office API keys are per office (`GERBANG_<CODE>_FEEDBACK_API_KEY_SHA256`, or the key in
    `GERBANG_<CODE>_FEEDBACK_API_KEY`; development: `dev-<code>-feedback-api-key`).
    """

    api_host: str = Field(
        default="127.0.0.1", description="Address the feedback API listens on (loopback by default)"
    )
    api_port: int = Field(default=8083, ge=1, le=65535, description="Port of the feedback API")
    health_port: int = Field(
        default=9105, ge=0, le=65535, description="Worker /healthz /readyz /metrics port (0: off)"
    )
    national_api_key_sha256: str = Field(
        default=DEV_NATIONAL_API_KEY_SHA256,
        description="SHA-256 (hex) of the national feedback API key, which sees every office; "
        "the development default is the hash of 'dev-national-feedback-api-key'",
    )
    retention_days: int = Field(
        default=730,
        ge=1,
        le=36_500,
        description="Days a ticket stays in the ops view (API, CSV); older tickets are removed "
        "from the view only. The log of record, feedback.recorded, keeps its own retention "
        "(unlimited as created by gerbang.topics)",
    )
    retention_interval_seconds: float = Field(
        default=3600, gt=0, description="How often the worker removes expired tickets from the view"
    )
    view_check_interval_seconds: float = Field(
        default=15,
        gt=0,
        description="How often the worker checks that the view still exists (Redis may have "
        "lost it) and rebuilds it from feedback.recorded",
    )
    prompt_ttl_seconds: int = Field(
        default=900,
        ge=60,
        le=86_400,
        description="How long the 'please write your message' prompt waits for the answer",
    )
    list_max_limit: int = Field(
        default=500, ge=1, le=10_000, description="Largest page size of GET /v1/feedback"
    )
    csv_max_rows: int = Field(
        default=50_000, ge=1, description="Largest number of rows of one CSV export"
    )
    sla_working_days: dict[FeedbackKind, tuple[int, int, int]] = Field(
        default_factory=lambda: dict(DEFAULT_SLA),
        description="Per kind, working days to respond, follow up and finish (JSON, e.g. "
        '{"complaint": [3, 5, 10]}); complaints default to the national public-complaint '
        "deadlines 3/5/10",
    )

    @field_validator("national_api_key_sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("must be the SHA-256 of the key: 64 lowercase hex digits")
        return value

    @model_validator(mode="after")
    def _no_dev_key_in_production(self) -> FeedbackSettings:
        if not self.development and self.national_api_key_sha256 == DEV_NATIONAL_API_KEY_SHA256:
            raise ValueError(
                "national_api_key_sha256 is the development key's hash; set "
                "GERBANG_NATIONAL_API_KEY_SHA256 in production"
            )
        return self
