"""Kafka stopped → 503 (Meta will redeliver); Kafka back → the redelivery answered once, and
a conversation held for staff loses and doubles nothing.

Stops and restarts the shared local broker: this module runs on its own stack.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import Stack
from tests.e2e.conftest import start_stack, stop_stack
from tests.support.ops import conv_of, csrf, hold, staff, wait_transcript
from tests.support.whatsapp import citizen, post, signed_text, text_of, wait_replies

pytestmark = pytest.mark.e2e
INFRA = Path(__file__).resolve().parents[2] / "deploy" / "local" / "infra.sh"


def infra(command: str) -> None:
    subprocess.run(["bash", str(INFRA), command], check=True, timeout=240)


@pytest.fixture(scope="module")
def outage_stack(kafka_bootstrap: str) -> Iterator[Stack]:
    stack = start_stack(kafka_bootstrap, only={"fake-graph", "api", "router", "sender", "faq"})
    try:
        yield stack
    finally:
        stack.stop()
        infra("kafka-up")  # whatever happened, leave the broker running for other tests
        stop_stack(stack)  # (its processes are stopped already: this deletes its topics)


def test_kafka_down_answers_503_and_redelivery_is_answered_once(outage_stack: Stack) -> None:
    wa_id = citizen()
    raw, headers = signed_text("jakpus", wa_id, "syarat paspor anak apa aja")
    infra("kafka-down")
    try:
        response = post(outage_stack, raw, headers)
        assert response.status_code == 503, response.text
    finally:
        infra("kafka-up")
    # Meta redelivers until it gets a 200; the services reconnect by themselves.
    deadline = time.monotonic() + 90
    statuses = []
    while time.monotonic() < deadline:
        status = post(outage_stack, raw, headers).status_code
        statuses.append(status)
        if status == 200:
            break
        time.sleep(1.0)
    assert statuses[-1] == 200, statuses
    # A second redelivery after success is a duplicate and must not produce a second reply.
    assert post(outage_stack, raw, headers).json()["duplicates"] == 1
    sent = wait_replies(outage_stack, wa_id, timeout=90, settle=3.0)
    keys = [s["payload"]["biz_opaque_callback_data"] for s in sent]
    assert len(keys) == len(set(keys)), keys
    assert all(k.startswith("reply:wamid.") for k in keys)


def test_kafka_restart_during_a_held_conversation_loses_and_doubles_nothing(
    outage_stack: Stack,
) -> None:
    """Held for staff, Kafka goes down and comes back: every citizen message reaches the inbox
    once, the bot stays silent, and a staff reply afterwards is delivered once."""
    stack = outage_stack
    wa_id = hold(stack)
    agent = staff(stack, "jakpus.agent")
    conv = conv_of(agent, "jakpus", wa_id)
    assert post(stack, *signed_text("jakpus", wa_id, "sebelum kafka mati")).status_code == 200
    wait_transcript(agent, "jakpus", conv, ["sebelum kafka mati"])
    raw, headers = signed_text("jakpus", wa_id, "saat kafka mati")
    infra("kafka-down")
    try:
        assert post(stack, raw, headers).status_code == 503
    finally:
        infra("kafka-up")
    deadline = time.monotonic() + 90
    while post(stack, raw, headers).status_code != 200:  # Meta redelivers
        assert time.monotonic() < deadline, "the gateway never accepted the redelivery"
        time.sleep(1.0)
    assert post(stack, raw, headers).json()["duplicates"] == 1
    assert post(stack, *signed_text("jakpus", wa_id, "setelah kafka hidup")).status_code == 200
    texts = ["sebelum kafka mati", "saat kafka mati", "setelah kafka hidup"]
    entries = wait_transcript(agent, "jakpus", conv, texts, timeout=90)
    lines = [e["text"] for e in entries if e["who"] == "citizen"]
    assert lines == ["saya mau bicara dengan petugas", *texts]
    token = csrf(agent, f"/ops/o/jakpus/inbox/{conv}")
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/claim", data={"csrf": token}).status_code == 303
    form = {"csrf": token, "nonce": "after-kafka-1", "text": "Pesan Anda sudah kami terima."}
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/reply", data=form).status_code == 303
    sent = wait_replies(stack, wa_id, 2, timeout=60, settle=3.0)
    assert [text_of(s) for s in sent][1:] == ["Pesan Anda sudah kami terima."]
