"""Prometheus metrics of the feedback service."""

from __future__ import annotations

from prometheus_client import Counter

FEEDBACK_RECORDED = Counter(
    "gerbang_feedback_recorded_total",
    "Feedback tickets created, by office, kind and urgency",
    ["office", "kind", "urgent"],
)
FEEDBACK_HANDLED = Counter(
    "gerbang_feedback_handled_total", "Feedback tickets marked handled", ["office", "kind"]
)
FEEDBACK_PURGED = Counter(
    "gerbang_feedback_purged_total", "Tickets removed from the view by retention", ["office"]
)
FEEDBACK_API_REQUESTS = Counter(
    "gerbang_feedback_api_requests_total",
    "Feedback API requests by endpoint and outcome",
    ["endpoint", "outcome"],
)
