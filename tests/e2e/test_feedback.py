"""Feedback end to end (issue 5): a citizen's complaint becomes a ticket the office sees."""

from __future__ import annotations

import re

import httpx
import pytest

from deploy.local.stack import Stack
from tests.support.whatsapp import citizen, post, signed_tap, signed_text, text_of, wait_replies

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"\b(JKP|BGR|BTM)-\d{4}-\d{6}\b")


def inbox(stack: Stack, key: str, **params: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{stack.feedback_url}/v1/feedback", params=params, headers={"X-API-Key": key}, timeout=10
    )
    response.raise_for_status()
    return list(response.json()["items"])


def test_a_complaint_gets_a_ticket_the_office_sees(pipeline: Stack) -> None:
    wa_id = citizen()
    text = "saya mau komplain, petugas loket minta uang tambahan 200rb biar cepat"
    assert post(pipeline, *signed_text("jakpus", wa_id, text)).status_code == 200
    replies = [text_of(r) for r in wait_replies(pipeline, wa_id)]
    ticket = TICKET.search("\n".join(replies))
    assert ticket and ticket.group(1) == "JKP", replies
    items = inbox(pipeline, "dev-jakpus-feedback-api-key")
    mine = [i for i in items if i["ticket"] == ticket.group(0)]
    assert mine and mine[0]["urgent"] is True and mine[0]["kind"] == "complaint"
    # Another office's key does not see it.
    other = inbox(pipeline, "dev-bogor-feedback-api-key")
    assert all(i["ticket"] != ticket.group(0) for i in other)


def test_menu_feedback_row_offers_kinds_then_records(pipeline: Stack) -> None:
    wa_id = citizen()
    assert post(pipeline, *signed_tap("bogor", wa_id, "feedback", "Pujian, saran, keluhan"))
    [choice] = wait_replies(pipeline, wa_id)
    buttons = choice["payload"]["interactive"]["action"]["buttons"]
    suggestion = next(b["reply"] for b in buttons if "suggestion" in b["reply"]["id"])
    tap = signed_tap("bogor", wa_id, suggestion["id"], suggestion["title"], kind="button_reply")
    assert post(pipeline, *tap).status_code == 200
    wait_replies(pipeline, wa_id, n=2)
    idea = "sebaiknya ada ruang tunggu ber-AC dan kursi untuk lansia"
    assert post(pipeline, *signed_text("bogor", wa_id, idea)).status_code == 200
    replies = wait_replies(pipeline, wa_id, n=3)
    ticket = TICKET.search(text_of(replies[-1]))
    assert ticket and ticket.group(1) == "BGR"
    items = inbox(pipeline, "dev-bogor-feedback-api-key", kind="suggestion")
    assert any(i["ticket"] == ticket.group(0) for i in items)
