"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CONSUMED = Counter(
    "gerbang_consumed_total", "Kafka messages handled", ["service", "topic", "outcome"]
)
PRODUCED = Counter("gerbang_produced_total", "Kafka messages produced", ["service", "topic"])
DEAD_LETTERS = Counter(
    "gerbang_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic"]
)
UNPRODUCIBLE = Counter(
    "gerbang_unproducible_total",
    "Records acknowledged without output: even their bounded dead letter was refused for good",
    ["service", "topic"],
)
HANDLER_SECONDS = Histogram(
    "gerbang_handler_seconds",
    "Time to handle one message",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "gerbang_consumer_lag", "Messages not yet consumed", ["service", "topic", "partition"]
)
INFRA_RETRIES = Counter(
    "gerbang_infra_retries_total",
    "Handler attempts retried because Kafka or Redis was unavailable",
    ["service", "topic"],
)

# Gateway
WEBHOOKS = Counter("gerbang_webhooks_total", "Webhook POSTs by outcome", ["outcome"])
WEBHOOK_ACK_SECONDS = Histogram(
    "gerbang_webhook_ack_seconds",
    "Webhook POST to 200 (durably in Kafka)",
    buckets=LATENCY_BUCKETS,
)
MESSAGES_IN = Counter("gerbang_messages_in_total", "Citizen messages accepted", ["office", "kind"])
DUPLICATES_DROPPED = Counter(
    "gerbang_duplicate_webhooks_total", "Redelivered messages dropped by id", ["office"]
)
UNROUTED = Counter("gerbang_unrouted_total", "Webhook changes we could not route", ["reason"])
INTENTS = Counter("gerbang_intents_total", "Routed messages by intent", ["office", "intent"])
MESSAGES_OUT = Counter(
    "gerbang_messages_out_total", "Replies sent to the Graph API", ["office", "intent", "kind"]
)
SEND_FAILURES = Counter(
    "gerbang_send_failures_total", "Graph API send failures", ["office", "code", "final"]
)
SEND_OUTCOME_UNKNOWN = Counter(
    "gerbang_send_outcome_unknown_total",
    "Sends whose outcome was unknown (sender died, call timed out), by how they were settled: "
    "status (Meta's status webhook showed it sent, not repeated) or resent (none in time)",
    ["office", "settled"],
)
E2E_SECONDS = Histogram(
    "gerbang_e2e_seconds",
    "Webhook acked to reply accepted by the Graph API",
    ["office"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_EVENTS = Counter(
    "gerbang_delivery_events_total", "Status webhooks by status", ["office", "status"]
)
HANDOFFS = Counter(
    "gerbang_handoffs_total", "Conversations handed to office staff", ["office", "reason"]
)
HANDOFF_RELEASES = Counter(
    "gerbang_handoff_releases_total",
    "Held conversations given back to the bot (citizen, staff, idle)",
    ["office", "reason"],
)
OPS_SIGN_IN_REFUSED = Counter(
    "gerbang_ops_sign_in_refused_total", "Refused /ops sign-ins", ["outcome"]
)
