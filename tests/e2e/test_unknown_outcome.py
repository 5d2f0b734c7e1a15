"""Sends of unknown outcome are reconciled with Meta's status webhook, never blindly repeated.

The real processes (fake Graph API posting signed status webhooks back like Meta, gateway api,
router, sender, FAQ worker) on real Kafka and Redis. The fake Graph API *accepts* a send
(records it, posts its `sent` status) but holds the answer, so the sender cannot know:
- the sender is killed (SIGKILL) while it waits: after the restart, nothing is sent twice;
- the call times out (sender's timeout 1.5 s, Meta answers after 4 s): not repeated once
  the status arrives;
- no status ever comes: only then, after the bound, is the reply sent again (and counted).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from deploy.local.stack import Stack
from gerbang.opsstats import hour_bucket
from tests.e2e.conftest import start_stack, stop_stack
from tests.support.whatsapp import citizen, post, replies, signed_text

pytestmark = pytest.mark.e2e
GRAPH_TIMEOUT_S = 1.5
STATUS_WAIT_S = 3.0


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str) -> Iterator[Stack]:
    running = start_stack(
        kafka_bootstrap,
        only={"fake-graph", "api", "router", "sender", "faq"},
        GERBANG_GRAPH_TIMEOUT_S=str(GRAPH_TIMEOUT_S),
        GERBANG_SEND_STATUS_WAIT_S=str(STATUS_WAIT_S),
    )
    try:
        yield running
    finally:
        stop_stack(running)


def hold_next_send(stack: Stack, wa_id: str, hold_s: float) -> None:
    """Meta accepts the citizen's next reply (status webhook and all) but answers late."""
    rule = {"mode": "hold", "hold_s": hold_s, "to": wa_id, "count": 1}
    httpx.post(f"{stack.graph_url}/__fail", json=rule, timeout=10).raise_for_status()


def status_webhooks(stack: Stack, *, drop: bool) -> None:
    config = {"url": f"{stack.api_url}/webhook/whatsapp", "delay_ms": 300, "drop": drop}
    httpx.put(f"{stack.graph_url}/__webhooks", json=config, timeout=10).raise_for_status()


def unknown_outcomes(stack: Stack, how: str) -> int:
    """The /ops counter of sends of unknown outcome settled `how` (jakpus, this hour)."""
    redis = Redis(port=stack.redis_port, db=stack.redis_db, decode_responses=True)
    try:
        key = f"{stack.topic_prefix}gerbang:ops:hour:jakpus:{hour_bucket(dt.datetime.now(dt.UTC))}"
        return int(redis.hget(key, f"unknown:{how}") or 0)  # type: ignore[arg-type]
    finally:
        redis.close()


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def ask(stack: Stack, wa_id: str) -> None:
    response = post(stack, *signed_text("jakpus", wa_id, "jam buka kantor imigrasi kapan"))
    assert response.status_code == 200, response.text


def test_sender_killed_between_graph_call_and_bookkeeping_sends_nothing_twice(
    stack: Stack,
) -> None:
    status_webhooks(stack, drop=False)
    wa_id = citizen()
    before = unknown_outcomes(stack, "status")
    hold_next_send(stack, wa_id, hold_s=60)
    ask(stack, wa_id)
    # Meta has the reply; the sender is still waiting for the answer: kill it there.
    wait_until(lambda: len(replies(stack, wa_id)) == 1, 60, "the held send")
    stack.kill_one("sender")
    spec = next(s for s in stack.specs() if s.name == "sender")
    stack.start_one(spec)
    stack.wait_ready(spec, time.monotonic() + 60)
    # The restarted sender meets the claim, finds Meta's status, and does not send again.
    wait_until(lambda: unknown_outcomes(stack, "status") > before, 60, "the reconciliation")
    time.sleep(GRAPH_TIMEOUT_S + STATUS_WAIT_S + 1)  # past the bound: still one
    assert len(replies(stack, wa_id)) == 1


def test_graph_timeout_after_meta_accepted_is_not_repeated_once_the_status_arrives(
    stack: Stack,
) -> None:
    status_webhooks(stack, drop=False)
    wa_id = citizen()
    before = unknown_outcomes(stack, "status")
    hold_next_send(stack, wa_id, hold_s=4.0)  # longer than the sender's 1.5 s timeout
    ask(stack, wa_id)
    wait_until(lambda: unknown_outcomes(stack, "status") > before, 30, "the reconciliation")
    time.sleep(4.0)  # Meta's late answer has come and gone
    assert len(replies(stack, wa_id)) == 1
    # The citizen's next message is answered at once (the conversation is not held).
    ask(stack, wa_id)
    wait_until(lambda: len(replies(stack, wa_id)) == 2, 15, "the next reply")


def test_without_a_status_the_reply_is_sent_again_after_the_bound(stack: Stack) -> None:
    status_webhooks(stack, drop=True)
    try:
        wa_id = citizen()
        before = unknown_outcomes(stack, "resent")
        hold_next_send(stack, wa_id, hold_s=4.0)
        ask(stack, wa_id)
        wait_until(lambda: len(replies(stack, wa_id)) == 2, 30, "the resend")
        # Counted once the resend's call returns: just after Meta (the fake) recorded it.
        wait_until(lambda: unknown_outcomes(stack, "resent") > before, 15, "the count")
        assert unknown_outcomes(stack, "resent") == before + 1
    finally:
        status_webhooks(stack, drop=False)
