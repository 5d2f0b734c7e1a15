"""Gateway settings (API, router, sender): environment variables prefixed `GERBANG_`."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from gerbang.offices import DEV_SECRET
from gerbang.settings import ServiceSettings

_PROCESS_KEY = secrets.token_bytes(32)
DEV_FEEDBACK_API_KEY = "dev-national-feedback-api-key"
"""The documented development-only feedback API key (the feedback service accepts it in dev)."""


class GatewaySettings(ServiceSettings):
    """Settings of the gateway's three processes: api, router, sender."""

    api_host: str = Field(default="127.0.0.1", description="Address the webhook API binds")
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port of the webhook API")
    verify_token: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Token Meta echoes in the webhook verification handshake",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest webhook body accepted (Meta sends up to 3 MB, batched). A body "
        "becomes one record per message, status and unrouted change; none is ever produced "
        "over kafka_max_message_bytes (larger ones are kept aside, trimmed), so a body up to "
        "this cap is always answered 200 or 4xx, never 503 for its size",
    )
    max_inbound_message_bytes: int = Field(
        default=256 * 1024,
        ge=8 * 1024,
        description="Largest citizen message (its whatsapp.inbound record) routed; a larger "
        "one is acknowledged and kept on whatsapp.unrouted as an excerpt with its size and "
        "hash. At most half of kafka_max_message_bytes: the router wraps the message in a "
        "larger ServiceRequest",
    )
    produce_timeout_s: float = Field(
        default=5.0, gt=0, description="How long a webhook waits for Kafka before answering 503"
    )
    dedupe_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long message ids are remembered (Meta redelivers for up to 7 days)",
    )
    graph_base_url: str = Field(
        default="http://127.0.0.1:8081",
        description="Graph API base URL (https://graph.facebook.com)",
    )
    graph_api_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")
    graph_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one Graph API call")
    graph_max_connections: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="Keep-alive HTTP connections to the Graph API per sender process, all "
        "offices together (each office holds at most graph_connections_per_office of them)",
    )
    graph_connections_per_office: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Of graph_max_connections, the most one office's number may hold at once: "
        "when Meta is slow for one number, its calls wait for its own connections and every "
        "other office's replies keep flowing (16 carry a number's 80 msg/s at Meta's ≈200 ms a "
        "call; with 64 in all, three offices may stall together and the rest still flow)",
    )
    send_max_attempts: int = Field(
        default=10, ge=1, le=50, description="Graph API attempts before a reply is dead-lettered"
    )
    send_status_wait_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long after a Graph call of unknown outcome (sender died, timeout) a "
        "sender waits for Meta's status webhook before sending again; with graph_timeout_s it "
        "bounds how long such a reply holds its conversation",
    )
    status_log_ttl_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long a status webhook's callback data is remembered for reconciling "
        "sends of unknown outcome",
    )
    send_backoff_base_s: float = Field(default=0.5, gt=0, description="First retry delay")
    send_backoff_cap_s: float = Field(default=30.0, gt=0, description="Longest retry delay")
    window_hours: int = Field(
        default=24, ge=1, le=24, description="WhatsApp customer-service window length"
    )
    session_ttl_s: int = Field(
        default=30 * 24 * 3600, ge=3600, description="How long conversation state is kept"
    )
    dialogue_context_s: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="How long the last topic and its details are kept for follow-ups "
        "('kalo yg 10 taun?' after the fees)",
    )
    ticket_append_s: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="For how long after a ticket is recorded a message adding detail is "
        "appended to it",
    )
    handoff_idle_s: int = Field(
        default=30 * 60,
        ge=1,
        le=7 * 86400,
        description="A conversation held for office staff goes back to the bot after this long "
        "without a message from the citizen or staff",
    )
    handoff_sweep_s: float = Field(
        default=30.0, gt=0, le=3600, description="How often the router looks for idle holds"
    )
    inbox_id_key: SecretStr | None = Field(
        default=None,
        description="Key of the opaque conversation ids in /ops inbox URLs (so URLs carry no "
        "phone number); unset: a fixed key in development, a random one per process in "
        "production (ids then change when the API restarts)",
    )
    broadcast_share: float = Field(
        default=0.5,
        gt=0,
        le=1.0,
        description="Share of an office number's throughput (messages/s) a broadcast may use; "
        "the rest stays free for answers to citizens (the sender's per-number limit holds "
        "the total)",
    )
    broadcast_poll_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the sender looks for broadcasts to run"
    )
    router_health_port: int = Field(default=9101, ge=0, le=65535)
    sender_health_port: int = Field(default=9102, ge=0, le=65535)
    simulator_enabled: bool = Field(
        default=True, description="Serve /simulator (refused in production)"
    )
    staff_file: Path | None = Field(
        default=None,
        description="YAML file of /ops staff accounts (created with `python -m gerbang_gateway "
        "staff add`); unset in development: the committed development seed",
    )
    ops_session_hours: int = Field(
        default=12, ge=1, le=168, description="How long an /ops sign-in lasts"
    )
    ops_dlq_indexer: bool = Field(
        default=True,
        description="Run the API's views for /ops: dead letters (every <topic>.dlq), the "
        "audit log (ops.audit) and inbox transcripts (whatsapp.inbound/outbound, "
        "inbox.messages)",
    )
    feedback_api_url: str = Field(
        default="http://127.0.0.1:8083", description="Feedback API base URL (inbox on /ops)"
    )
    feedback_api_key: SecretStr | None = Field(
        default=None,
        description="National feedback API key the /ops server uses (it filters by office "
        "itself); development default: dev-national-feedback-api-key",
    )

    @model_validator(mode="after")
    def _graph_budget(self) -> GatewaySettings:
        if self.graph_connections_per_office > self.graph_max_connections:
            raise ValueError(
                f"graph_connections_per_office ({self.graph_connections_per_office}) must not "
                f"exceed graph_max_connections ({self.graph_max_connections})"
            )
        return self

    @model_validator(mode="after")
    def _sizes_agree(self) -> GatewaySettings:
        if self.max_inbound_message_bytes > self.kafka_max_message_bytes // 2:
            raise ValueError(
                f"max_inbound_message_bytes ({self.max_inbound_message_bytes}) must be at most "
                f"half of kafka_max_message_bytes ({self.kafka_max_message_bytes}): the "
                "router's ServiceRequest wraps the message and must still fit in a record"
            )
        return self

    @model_validator(mode="after")
    def _production_rules(self) -> GatewaySettings:
        if not self.development:
            if self.verify_token.get_secret_value() == DEV_SECRET:
                raise ValueError("verify_token: set GERBANG_VERIFY_TOKEN in production")
            if self.simulator_enabled:
                raise ValueError("simulator_enabled: the simulator is for development only")
            if self.feedback_key == DEV_FEEDBACK_API_KEY:
                raise ValueError("feedback_api_key: set GERBANG_FEEDBACK_API_KEY in production")
        return self

    @property
    def inbox_key(self) -> bytes:
        """Key of the inbox's conversation ids (see `inbox_id_key`)."""
        if self.inbox_id_key is not None:
            return self.inbox_id_key.get_secret_value().encode()
        return b"gerbang-dev-inbox-id-key" if self.development else _PROCESS_KEY

    @property
    def feedback_key(self) -> str | None:
        """The feedback API key for /ops (the documented dev key in development)."""
        if self.feedback_api_key is not None:
            return self.feedback_api_key.get_secret_value()
        return DEV_FEEDBACK_API_KEY if self.development else None
