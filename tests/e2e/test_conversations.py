"""Multi-turn conversations end to end (issue 9): tests/fixtures/nlu/scenarios.yaml through the
real pipeline (signed webhooks → Kafka → router with its Redis session → workers → sender →
fake Graph API), every scenario a citizen of its own, all of them at once on one stack.

What a turn got is read from the pipeline itself: the replies the fake Graph API accepted for
the turn's message (their `biz_opaque_callback_data` names it), the intent and the details
the router handed the services (`*.requests`, `whatsapp.outbound`), and the records and
additions on `feedback.recorded`. The checks are `gerbang.dialogue.check_turn`, the same as
the offline `gerbang.dialogue.evaluate`.

Every scenario runs and must pass (`make eval` runs the same file offline: the multi-turn
pass rate).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import Stack
from gerbang.dialogue import Observed, check_turn, details_of, load_scenarios
from gerbang.messages import (
    FeedbackEvent,
    FeedbackRecord,
    OutboundReply,
    ServiceRequest,
    Topic,
)
from gerbang.offices import DEV_SECRET
from gerbang.settings import ServiceSettings
from gerbang_devtools.webhooks import encode_signed, message_webhook, reply_message, text_message
from tests.e2e.conftest import start_stack, stop_stack
from tests.support.aio import run_sync
from tests.support.kafka import read_topic
from tests.support.whatsapp import office, post, replies, text_of

pytestmark = pytest.mark.e2e

SCENARIOS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "nlu" / "scenarios.yaml"
SCENARIOS = load_scenarios(str(SCENARIOS_FILE))
TURN_TIMEOUT_S = 30.0
SETTLE_S = 1.0
"""After a turn's first reply, how long its further parts (ticket + number check) may take."""


@dataclass
class _Played:
    wa_id: str
    message_ids: list[str] = field(default_factory=list)
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str | None = None


def _callback(record: dict[str, Any]) -> str:
    return str(record["payload"].get("biz_opaque_callback_data") or "")


def _play(stack: Stack, scenario: dict[str, Any]) -> _Played:
    """One citizen's conversation, turn by turn: each waits for its own replies."""
    code = scenario.get("office", "jakpus")
    played = _Played(wa_id=f"62858{uuid.uuid4().int % 10**8:08d}")
    for turn in scenario["turns"]:
        message_id = f"wamid.scn.{uuid.uuid4().hex}"
        if "tap" in turn:
            item = reply_message(
                turn["tap"], turn.get("title", turn["tap"]), kind="button_reply",
                message_id=message_id,
            )  # fmt: skip
        else:
            item = text_message(turn["say"], message_id)
        raw, headers = encode_signed(message_webhook(office(code), played.wa_id, item), DEV_SECRET)
        if post(stack, raw, headers).status_code != 200:
            played.error = f"webhook refused for {turn}"
            return played
        played.message_ids.append(message_id)
        prefix = f"reply:{message_id}:"
        deadline = time.monotonic() + TURN_TIMEOUT_S
        mine: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            mine = [r for r in replies(stack, played.wa_id) if _callback(r).startswith(prefix)]
            if mine:
                break
            time.sleep(0.1)
        if not mine:
            played.error = f"no reply within {TURN_TIMEOUT_S}s to {turn}"
            return played
        time.sleep(SETTLE_S)
        played.replies[message_id] = [
            r for r in replies(stack, played.wa_id) if _callback(r).startswith(prefix)
        ]
    return played


@dataclass
class _Run:
    played: dict[str, _Played]
    outbound: dict[str, list[OutboundReply]]
    requests: dict[str, ServiceRequest]
    records: dict[str, list[FeedbackRecord]]
    addenda: dict[str, int]
    seconds: float


@pytest.fixture(scope="module")
def conversations(kafka_bootstrap: str) -> Iterator[_Run]:
    """Every runnable scenario played at once on one stack; what the pipeline did, by turn."""
    runnable = SCENARIOS
    stack = start_stack(kafka_bootstrap)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, len(runnable))) as pool:
            played = dict(
                zip(
                    (s["name"] for s in runnable),
                    pool.map(lambda s: _play(stack, s), runnable),
                    strict=True,
                )
            )
        seconds = time.monotonic() - started
        settings = ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix)
        outbound: dict[str, list[OutboundReply]] = defaultdict(list)
        for record in run_sync(read_topic(settings, Topic.OUTBOUND.value)):
            reply = OutboundReply.model_validate_json(record.value)
            if reply.in_reply_to:
                outbound[reply.in_reply_to].append(reply)
        requests: dict[str, ServiceRequest] = {}
        for topic in (Topic.FAQ_REQUESTS, Topic.STATUS_REQUESTS, Topic.FEEDBACK_REQUESTS):
            for record in run_sync(read_topic(settings, topic.value)):
                request = ServiceRequest.model_validate_json(record.value)
                requests[request.inbound.message_id] = request
        records: dict[str, list[FeedbackRecord]] = defaultdict(list)
        addenda: dict[str, int] = defaultdict(int)
        seen_records: set[str] = set()
        for record in run_sync(read_topic(settings, Topic.FEEDBACK_RECORDED.value)):
            event = FeedbackEvent.model_validate_json(record.value).root
            if isinstance(event, FeedbackRecord) and event.message_id not in seen_records:
                seen_records.add(event.message_id)  # at-least-once: a redelivery is one record
                records[event.message_id].append(event)
            elif getattr(event, "event", None) == "addendum":
                addenda[event.message_id] += 1  # type: ignore[union-attr]
        yield _Run(played, outbound, requests, records, addenda, seconds)
    finally:
        stop_stack(stack)


def _observed(run: _Run, message_id: str, sent: list[dict[str, Any]]) -> Observed:
    outs = sorted(run.outbound.get(message_id, []), key=lambda r: r.idempotency_key)
    request = run.requests.get(message_id)
    intent = next((r.intent.value for r in outs if r.intent is not None), None)
    understanding = request.understanding if request is not None else None
    return Observed(
        intent=intent,
        records=tuple(r.kind.value for r in run.records.get(message_id, [])),
        appends=run.addenda.get(message_id, 0) > 0,
        details=details_of(understanding) if understanding is not None else {},
        reply="\n".join(text_of(r) for r in sent),
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario: dict[str, Any], conversations: _Run) -> None:
    played = conversations.played[scenario["name"]]
    assert played.error is None, played.error
    problems: list[str] = []
    for number, (turn, message_id) in enumerate(
        zip(scenario["turns"], played.message_ids, strict=True), 1
    ):
        observed = _observed(conversations, message_id, played.replies[message_id])
        problems += [f"turn {number}: {p}" for p in check_turn(turn.get("expect"), observed)]
    assert not problems, problems
