"""After traffic, each service's /metrics shows exactly the counts that traffic produced
(issue 6): messages in and out by office, intents, webhook acks, end-to-end latency."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.stack import Stack
from tests.support.whatsapp import citizen, post, signed_text, wait_replies

pytestmark = pytest.mark.e2e


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, keyed by name and sorted labels."""
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    """The sum of `name` over the samples whose labels include `labels`."""
    return sum(
        v for (n, lbls), v in samples.items()
        if n == name and set(labels.items()) <= set(lbls)
    )  # fmt: skip


def test_metrics_count_the_traffic(pipeline: Stack) -> None:
    base = pipeline.port_base
    pages = {
        "api": f"{pipeline.api_url}/metrics",
        "router": f"http://127.0.0.1:{base + 11}/metrics",
        "sender": f"http://127.0.0.1:{base + 12}/metrics",
    }
    posted_before = httpx.get(f"{pipeline.graph_url}/__stats", timeout=10).json()["webhooks"]
    before = {name: scrape(url) for name, url in pages.items()}
    questions = ["brp biaya paspor", "biaya e-paspor 10 tahun berapa", "jam buka kantor?"]
    for text in questions:
        wa_id = citizen()
        assert post(pipeline, *signed_text("batam", wa_id, text)).status_code == 200
        wait_replies(pipeline, wa_id)
    # The fake Graph API posts each reply's status webhook back, as Meta does: wait for them.
    deadline = time.monotonic() + 15
    while True:
        posted = httpx.get(f"{pipeline.graph_url}/__stats", timeout=10).json()["webhooks"]
        statuses = posted["posts"] - posted_before["posts"]
        if posted["pending"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    after = {name: scrape(url) for name, url in pages.items()}

    def delta(page: str, name: str, **labels: str) -> float:
        return value(after[page], name, **labels) - value(before[page], name, **labels)

    assert delta("api", "gerbang_messages_in_total", office="batam", kind="text") == 3
    assert delta("api", "gerbang_webhook_ack_seconds_count") == 3 + statuses
    assert delta("router", "gerbang_intents_total", office="batam", intent="faq:fees") == 2
    assert (
        delta("router", "gerbang_intents_total", office="batam", intent="faq:hours_location") == 1
    )
    assert delta("sender", "gerbang_messages_out_total", office="batam") >= 3
    assert delta("sender", "gerbang_e2e_seconds_count", office="batam") >= 3
    assert delta("sender", "gerbang_send_failures_total", office="batam") == 0
