"""End to end over the real pipeline: signed webhook in, the office's reply out (issue 2)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from deploy.local.stack import Stack
from gerbang.settings import ServiceSettings
from tests.support.kafka import read_topic
from tests.support.whatsapp import (
    citizen,
    office,
    post,
    replies,
    signed_text,
    text_of,
    wait_replies,
)

pytestmark = pytest.mark.e2e


def test_question_to_jakpus_is_answered_from_jakpus_number(pipeline: Stack) -> None:
    wa_id = citizen()
    response = post(pipeline, *signed_text("jakpus", wa_id, "min syarat bikin paspor apa aja"))
    assert response.status_code == 200, response.text
    sent = wait_replies(pipeline, wa_id)
    assert {s["phone_number_id"] for s in sent} == {office("jakpus").whatsapp.phone_number_id}
    assert all(s["to"] == f"+{wa_id}" for s in sent)
    assert "KTP" in text_of(sent[0])


def test_the_same_webhook_twice_gets_exactly_one_reply(pipeline: Stack) -> None:
    wa_id = citizen()
    raw, headers = signed_text("jakpus", wa_id, "brp biaya paspor elektronik")
    first = post(pipeline, raw, headers)
    second = post(pipeline, raw, headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicates"] == 1
    sent = wait_replies(pipeline, wa_id, settle=3.0)
    keys = [s["payload"]["biz_opaque_callback_data"] for s in sent]
    assert len(keys) == len(set(keys)) == 1, sent


def test_another_office_answers_from_its_own_number(pipeline: Stack) -> None:
    wa_id = citizen()
    assert post(pipeline, *signed_text("bogor", wa_id, "jam buka kantor?")).status_code == 200
    sent = wait_replies(pipeline, wa_id)
    assert {s["phone_number_id"] for s in sent} == {office("bogor").whatsapp.phone_number_id}


async def test_bad_signature_is_refused_and_nothing_reaches_kafka(pipeline: Stack) -> None:
    wa_id = citizen()
    raw, headers = signed_text("jakpus", wa_id, "halo", message_id="wamid.FORGED1")
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    async with httpx.AsyncClient() as http:
        bad = await http.post(f"{pipeline.api_url}/webhook/whatsapp", content=raw, headers=forged)
        missing = await http.post(
            f"{pipeline.api_url}/webhook/whatsapp",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
    assert (bad.status_code, missing.status_code) == (401, 401)
    settings = ServiceSettings(topic_prefix=pipeline.topic_prefix)
    records = await read_topic(settings, "whatsapp.inbound", timeout=5)
    assert all(json.loads(r.value)["message_id"] != "wamid.FORGED1" for r in records)
    assert replies(pipeline, wa_id) == []


def test_graph_api_rate_limiting_for_a_while_still_delivers_once(pipeline: Stack) -> None:
    wa_id = citizen()
    httpx.post(
        f"{pipeline.graph_url}/__fail",
        json={"code": 130429, "http_status": 429, "seconds": 3, "to": wa_id},
    ).raise_for_status()
    started = time.monotonic()
    assert post(pipeline, *signed_text("batam", wa_id, "cara bayar paspor gmn")).status_code == 200
    sent = wait_replies(pipeline, wa_id, timeout=45, settle=3.0)
    assert time.monotonic() - started >= 2.5  # it really waited out the rate limit
    keys = [s["payload"]["biz_opaque_callback_data"] for s in sent]
    assert len(keys) == len(set(keys)), f"a reply was sent twice: {keys}"
    stats = httpx.get(f"{pipeline.graph_url}/__stats").json()
    assert stats["failed"] >= 1


def test_unknown_office_number_is_kept_on_unrouted(pipeline: Stack) -> None:
    from gerbang.offices import DEV_SECRET
    from gerbang_devtools.webhooks import encode_signed

    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6280000000",
                                "phone_number_id": "999999999",
                            },
                            "messages": [
                                {
                                    "from": "6281111",
                                    "id": "wamid.UNROUTED1",
                                    "timestamp": "1760000000",
                                    "type": "text",
                                    "text": {"body": "halo"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw, headers = encode_signed(body, DEV_SECRET)
    response = post(pipeline, raw, headers)
    assert response.status_code == 200
    assert response.json()["unrouted"] == 1
