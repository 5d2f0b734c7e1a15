"""Settings shared by every service; each service subclasses `ServiceSettings`.

Values come from the environment (prefix `GERBANG_`), e.g. `GERBANG_KAFKA_BOOTSTRAP`.
Invalid values fail at start with the field's name (pydantic-settings).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gerbang.offices import default_offices_dir


class Environment(StrEnum):
    """Where the service runs: development allows the documented dev secret and the simulator."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


def local_kafka_bootstrap() -> str:
    """The local broker `make infra-up` starts: 127.0.0.1 on GERBANG_KAFKA_PORT (9092), so a
    process or script started outside `make` with another port reaches its own broker, not
    someone else's on 9092."""
    return f"127.0.0.1:{os.environ.get('GERBANG_KAFKA_PORT') or '9092'}"


class ServiceSettings(BaseSettings):
    """Kafka, Redis, logging and office data: what every Gerbang service needs."""

    model_config = SettingsConfigDict(env_prefix="GERBANG_", extra="ignore", frozen=True)

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development (dev secrets, simulator) or production (real secrets only)",
    )
    kafka_bootstrap: str = Field(
        default_factory=lambda: local_kafka_bootstrap(),
        description="Kafka bootstrap servers, comma-separated (default: the local broker, on "
        "GERBANG_KAFKA_PORT if set, as `make infra-up` starts it)",
    )
    kafka_max_message_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        le=64 * 1_048_576,
        description="Largest record Gerbang produces (the producer's max_request_size). The "
        "broker's message.max.bytes must be at least this: deploy/local/infra.sh and "
        "deploy/docker-compose.yml set it from GERBANG_KAFKA_MAX_MESSAGE_BYTES too (1 MiB, "
        "Kafka's default). Anything larger is the record's fault, never an outage: the "
        "webhook keeps it aside on whatsapp.unrouted, trimmed; a consumer dead-letters it",
    )
    redis_url: str = Field(
        default_factory=lambda: (
            f"redis://127.0.0.1:{os.environ.get('GERBANG_REDIS_PORT') or 6379}/0"
        ),
        description="Redis URL (default: the local Redis, on GERBANG_REDIS_PORT if set)",
    )
    redis_max_connections: int = Field(
        default=64,
        ge=2,
        le=10_000,
        description="Connections per process to Redis; handlers beyond it wait for one",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[a-zA-Z0-9._-]*$",
        description="Prefix for every topic and consumer group (isolates tests, staging)",
    )
    topic_partitions: int = Field(
        default=6, ge=1, le=256, description="Partitions of conversation-keyed topics"
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Replicas of every topic `gerbang topics create` makes (1 for one broker; "
        "3 for the three-broker layout, `make infra-up KAFKA_BROKERS=3`)",
    )
    topic_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="min.insync.replicas of every topic (None: the broker's default); with "
        "acks=all a write succeeds only on this many replicas (2 of 3: one broker may fail)",
    )
    kafka_session_timeout_ms: int = Field(
        default=6_000,
        ge=6_000,
        le=60_000,
        description="How long a consumer-group member may go silent before the group gives "
        "its partitions to the others: a killed replica's partitions stall about this long "
        "(6 s is the broker's default minimum; heartbeats go every second)",
    )
    kafka_rebalance_timeout_ms: int = Field(
        default=20_000,
        ge=6_000,
        le=300_000,
        description="How long the group waits for its members to rejoin in a rebalance; a "
        "member finishes its revoked partitions' work in flight within a quarter of it",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: str = Field(default="json", pattern=r"^(json|console)$", description="Log format")
    offices_dir: Path = Field(
        default_factory=default_offices_dir, description="Folder with one folder per office"
    )
    health_host: str = Field(
        default="127.0.0.1",
        description="Address workers serve /healthz, /readyz, /metrics on (0.0.0.0 in containers)",
    )
    conversation_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="How long conversations held for office staff (and their transcripts) are "
        "kept: the inbox view and the inbox.messages topic's retention.ms",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Handler attempts before a message is dead-lettered"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @model_validator(mode="after")
    def _replicas(self) -> ServiceSettings:
        if (
            self.topic_min_insync_replicas is not None
            and self.topic_min_insync_replicas > self.topic_replication_factor
        ):
            raise ValueError(
                "topic_min_insync_replicas must not exceed topic_replication_factor "
                f"({self.topic_min_insync_replicas} > {self.topic_replication_factor}): "
                "no write could ever succeed"
            )
        return self

    @property
    def development(self) -> bool:
        """True in development."""
        return self.environment is Environment.DEVELOPMENT

    def topic(self, name: str) -> str:
        """The deployment's name of a topic (with the prefix)."""
        return f"{self.topic_prefix}{name}"

    def group(self, name: str) -> str:
        """The deployment's name of a consumer group (with the prefix)."""
        return f"{self.topic_prefix}gerbang.{name}"
