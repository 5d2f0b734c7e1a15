"""Kafka stopped → 503 (Meta will redeliver); Kafka back → the redelivery answered once.

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
from tests.support.whatsapp import citizen, post, signed_text, wait_replies

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
