"""FAQ end to end over the real pipeline (issue 3): each office answers with its own facts."""

from __future__ import annotations

import httpx
import pytest
from redis import Redis

from deploy.local.stack import Stack
from tests.support.whatsapp import (
    citizen,
    office,
    post,
    signed_tap,
    signed_text,
    text_of,
    wait_replies,
)

pytestmark = pytest.mark.e2e


def ask(stack: Stack, code: str, text: str) -> list[str]:
    wa_id = citizen()
    assert post(stack, *signed_text(code, wa_id, text)).status_code == 200
    sent = wait_replies(stack, wa_id)
    assert {s["phone_number_id"] for s in sent} == {office(code).whatsapp.phone_number_id}
    return [text_of(s) for s in sent]


@pytest.mark.parametrize("code", ["jakpus", "bogor", "batam"])
def test_opening_hours_are_the_office_own(pipeline: Stack, code: str) -> None:
    [answer] = ask(pipeline, code, "jam buka?")
    the_office = office(code)
    opening = the_office.hours[0].open.strftime("%H.%M")
    assert opening in answer, answer
    assert the_office.short_name in answer


def test_fake_number_is_called_fake(pipeline: Stack) -> None:
    [answer] = ask(pipeline, "jakpus", "cek nomor 081230030440")
    assert "palsu" in answer.lower()
    assert "812-3003-0440" in answer


def test_fees_answer_quotes_the_current_tariff(pipeline: Stack) -> None:
    [answer] = ask(pipeline, "batam", "brp biaya bikin e-paspor skrg")
    assert "Rp650.000" in answer and "Rp950.000" in answer


def test_english_question_gets_an_english_answer(pipeline: Stack) -> None:
    [answer] = ask(pipeline, "jakpus", "What documents do I need for a new passport?")
    assert "Family card" in answer or "family card" in answer.lower(), answer


def test_menu_row_tap_answers_that_topic(pipeline: Stack) -> None:
    wa_id = citizen()
    assert post(pipeline, *signed_text("bogor", wa_id, "halo")).status_code == 200
    [menu] = wait_replies(pipeline, wa_id)
    assert menu["payload"]["interactive"]["type"] == "list"
    rows = [r for s in menu["payload"]["interactive"]["action"]["sections"] for r in s["rows"]]
    fees = next(r for r in rows if r["id"] == "faq:fees")
    assert post(pipeline, *signed_tap("bogor", wa_id, fees["id"], fees["title"])).status_code == 200
    sent = wait_replies(pipeline, wa_id, n=2)
    assert "Rp350.000" in text_of(sent[1])


def test_unanswered_questions_are_kept_for_ops(pipeline: Stack) -> None:
    [answer] = ask(pipeline, "batam", "siapa presiden indonesia sekarang, kucing saya tanya")
    redis = Redis(port=pipeline.redis_port, db=pipeline.redis_db, decode_responses=True)
    misses = redis.lrange(f"{pipeline.topic_prefix}gerbang:faq:misses:batam", 0, -1)
    assert any("kucing" in m for m in misses), misses
    assert "jam & alamat kantor" in answer.lower()  # the fallback offers the menu list
    metrics = httpx.get(f"http://127.0.0.1:{pipeline.port_base + 13}/metrics").text
    assert 'gerbang_faq_misses_total{office="batam"}' in metrics
