"""Handoff and the office inbox end to end (issue 10), through real Kafka and Redis.

A citizen asks for a person; the bot goes silent and the messages reach the office's inbox;
office staff sign in to `/ops` with their accounts, claim the conversation, reply (from the
office's number, as the template after 24 hours) and close it; the bot answers again. Idle
holds are released by the router's sweep. Another office's staff get 403/404. A feedback
ticket is answered from `/ops` and reaches the citizen; an overdue ticket is flagged.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from deploy.local.stack import Stack
from gerbang.bus import Producer
from gerbang.handoff import WIB
from gerbang.messages import FeedbackKind, FeedbackRecord, Topic
from gerbang.settings import ServiceSettings
from tests.e2e.conftest import start_stack, stop_stack
from tests.support.aio import run_sync
from tests.support.ops import HELD, conv_of, csrf, hold, live, staff, wait_transcript, waiting
from tests.support.whatsapp import (
    citizen,
    office,
    post,
    replies,
    signed_tap,
    signed_text,
    text_of,
    wait_replies,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str) -> Iterator[Stack]:
    """The core pipeline with a one-second idle sweep (the timeout itself stays 30 min: the
    idle test ages a conversation in Redis instead of waiting)."""
    running = start_stack(
        kafka_bootstrap,
        only={"fake-graph", "api", "router", "sender", "faq", "feedback-api", "feedback"},
        GERBANG_HANDOFF_SWEEP_S="1",
    )
    try:
        yield running
    finally:
        stop_stack(running)


def redis_of(stack: Stack) -> Redis:
    return Redis(port=stack.redis_port, db=stack.redis_db, decode_responses=True)


def test_held_conversation_reaches_the_inbox_staff_reply_and_close(stack: Stack) -> None:
    wa_id = hold(stack)
    messages = ["paspor saya rusak kena air", "apa bisa diganti minggu ini?", "terima kasih"]
    for text in messages:
        assert post(stack, *signed_text("jakpus", wa_id, text)).status_code == 200
    agent = staff(stack, "jakpus.agent")
    conv = conv_of(agent, "jakpus", wa_id)
    entries = wait_transcript(agent, "jakpus", conv, messages)
    citizen_lines = [e["text"] for e in entries if e["who"] == "citizen"]
    assert citizen_lines == ["saya mau bicara dengan petugas", *messages]  # each exactly once
    assert any(e["who"] == "bot" and e["text"].startswith(HELD) for e in entries)
    time.sleep(2)
    assert len(replies(stack, wa_id)) == 1  # the bot stayed silent

    # The number is masked until the conversation is claimed by the viewer.
    page = agent.get(f"/ops/o/jakpus/inbox/{conv}")
    assert wa_id not in page.text
    token = csrf(agent, f"/ops/o/jakpus/inbox/{conv}")
    claimed = agent.post(f"/ops/o/jakpus/inbox/{conv}/claim", data={"csrf": token})
    assert claimed.status_code == 303
    page = agent.get(f"/ops/o/jakpus/inbox/{conv}")
    assert "Ambil percakapan" not in page.text and "reply-text" in page.text
    assert wa_id[-6:] in page.text.replace(" ", "").replace("-", "")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce
    answer = "Selamat siang, paspor rusak diganti dengan membawa paspor lama dan KTP ke kantor."
    form = {"csrf": token, "nonce": nonce.group(1), "text": answer}
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/reply", data=form).status_code == 303
    # The same form sent twice (a double click, a retried POST): one message.
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/reply", data=form).status_code == 303
    sent = wait_replies(stack, wa_id, 2, settle=2.0)
    staff_replies = [s for s in sent if text_of(s) == answer]
    assert len(staff_replies) == 1, [text_of(s) for s in sent]
    assert staff_replies[0]["phone_number_id"] == office("jakpus").whatsapp.phone_number_id
    assert staff_replies[0]["payload"]["type"] == "text"
    wait_transcript(agent, "jakpus", conv, [answer])

    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/close", data={"csrf": token}).status_code == 303
    closed = wait_replies(stack, wa_id, 3)
    assert "telah menutup percakapan" in text_of(closed[-1])
    assert post(stack, *signed_text("jakpus", wa_id, "syarat paspor baru apa?")).status_code == 200
    answered = wait_replies(stack, wa_id, 4)
    assert "KTP" in text_of(answered[-1])  # the bot answers again
    assert all(row["phone"] != wa_id for row in waiting(agent, "jakpus"))
    router_metrics = httpx.get(f"http://127.0.0.1:{stack.port_base + 11}/metrics").text
    assert 'gerbang_handoffs_total{office="jakpus",reason="asked"}' in router_metrics
    # Every action is in the audit log, with who.
    lead = staff(stack, "jakpus.lead")
    audit = lead.get("/ops/o/jakpus/audit").text
    for action in ("claim", "reply", "close"):
        assert re.search(rf'data-action="{action}".*?jakpus\.agent', audit, re.S), action


def test_citizen_menu_releases_and_two_fallbacks_offer_a_person(stack: Stack) -> None:
    wa_id = hold(stack, "bogor")
    assert post(stack, *signed_text("bogor", wa_id, "menu")).status_code == 200
    sent = wait_replies(stack, wa_id, 3)
    assert "keluar dari percakapan dengan petugas" in text_of(sent[1])
    assert sent[2]["payload"]["type"] == "interactive"  # the menu

    other = citizen()
    for n, gibberish in enumerate(["qwrty zxcvb", "blorp fnord"], start=1):
        assert post(stack, *signed_text("bogor", other, gibberish)).status_code == 200
        got = wait_replies(stack, other, n)
    offer = got[-1]["payload"]
    assert offer["type"] == "interactive" and offer["interactive"]["type"] == "button"
    assert "berbicara dengan petugas" in offer["interactive"]["body"]["text"]
    assert post(stack, *signed_text("bogor", other, "ya")).status_code == 200  # typed answer
    assert text_of(wait_replies(stack, other, 3)[-1]).startswith(HELD)

    tapped = citizen()
    for n, gibberish in enumerate(["qwrty zxcvb", "blorp fnord"], start=1):
        assert post(stack, *signed_text("batam", tapped, gibberish)).status_code == 200
        wait_replies(stack, tapped, n)
    tap = signed_tap("batam", tapped, "handoff|yes", "Ya, ke petugas", kind="button_reply")
    assert post(stack, *tap).status_code == 200
    assert text_of(wait_replies(stack, tapped, 3)[-1]).startswith(HELD)


def test_two_staff_claim_at_once_exactly_one_holds(stack: Stack) -> None:
    wa_id = hold(stack)
    clients = [staff(stack, "jakpus.agent"), staff(stack, "jakpus.agent2")]
    conv = conv_of(clients[0], "jakpus", wa_id)
    tokens = [csrf(c, f"/ops/o/jakpus/inbox/{conv}") for c in clients]
    results: list[int] = [0, 0]
    start = threading.Barrier(2)

    def claim(i: int) -> None:
        start.wait()
        response = clients[i].post(f"/ops/o/jakpus/inbox/{conv}/claim", data={"csrf": tokens[i]})
        results[i] = response.status_code

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [303, 409], results
    holder = live(clients[0], "jakpus", conv)["holder"]
    assert holder in ("jakpus.agent", "jakpus.agent2")
    loser = clients[results.index(409)]
    page = loser.get(f"/ops/o/jakpus/inbox/{conv}").text
    assert f"ditangani {holder}" in page and "reply-text" not in page
    again = loser.post(
        f"/ops/o/jakpus/inbox/{conv}/claim", data={"csrf": tokens[results.index(409)]}
    )
    assert again.status_code == 409 and holder in again.text


def test_another_office_gets_403_or_404(stack: Stack) -> None:
    wa_id = hold(stack)
    jakpus = staff(stack, "jakpus.agent")
    conv = conv_of(jakpus, "jakpus", wa_id)
    bogor = staff(stack, "bogor.agent")
    token = csrf(bogor, "/ops/o/bogor/inbox")
    assert bogor.get("/ops/o/jakpus/inbox").status_code == 403
    assert bogor.get("/ops/o/jakpus/inbox.json").status_code == 403
    assert bogor.get(f"/ops/o/jakpus/inbox/{conv}").status_code == 403
    assert bogor.get(f"/ops/o/jakpus/inbox/{conv}/live").status_code == 403
    # Through its own office's URL: the conversation does not exist there.
    assert bogor.get(f"/ops/o/bogor/inbox/{conv}").status_code == 404
    assert bogor.get(f"/ops/o/bogor/inbox/{conv}/live").status_code == 404
    for action in ("claim", "close"):
        response = bogor.post(f"/ops/o/bogor/inbox/{conv}/{action}", data={"csrf": token})
        assert response.status_code == 404, action
    assert wa_id not in bogor.get("/ops/o/bogor/inbox").text
    assert live(jakpus, "jakpus", conv)["holder"] == ""  # nothing happened to it


def test_idle_timeout_gives_the_conversation_back(stack: Stack) -> None:
    wa_id = hold(stack, "batam")
    redis = redis_of(stack)
    key = f"{stack.topic_prefix}gerbang:handoff:batam:{wa_id}"
    aged = time.time() - 2 * 3600  # two hours without a message: past the 30 min timeout
    redis.hset(key, "last_at", repr(aged))
    redis.zadd(f"{stack.topic_prefix}gerbang:handoff:active", {f"batam:{wa_id}": aged})
    sent = wait_replies(stack, wa_id, 2, timeout=20)
    assert "berakhir karena tidak ada pesan" in text_of(sent[1])
    assert redis.hget(key, "held") == "0"
    assert post(stack, *signed_text("batam", wa_id, "jam buka kantor?")).status_code == 200
    assert "Jam layanan" in text_of(wait_replies(stack, wa_id, 3)[-1])  # the bot again


def test_staff_reply_after_24_hours_goes_out_as_the_template(stack: Stack) -> None:
    wa_id = hold(stack)
    agent = staff(stack, "jakpus.agent")
    conv = conv_of(agent, "jakpus", wa_id)
    token = csrf(agent, f"/ops/o/jakpus/inbox/{conv}")
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/claim", data={"csrf": token}).status_code == 303
    redis = redis_of(stack)
    session = f"{stack.topic_prefix}gerbang:conv:jakpus:{wa_id}"
    redis.hset(session, "last_inbound_at", repr(time.time() - 25 * 3600))
    page = agent.get(f"/ops/o/jakpus/inbox/{conv}").text
    assert "tanggapan petugas" in page and "Kirim sebagai templat" in page
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert nonce
    answer = "Paspor Anda sudah dapat diambil.\nBawa bukti pembayaran."
    form = {"csrf": token, "nonce": nonce.group(1), "text": answer}
    assert agent.post(f"/ops/o/jakpus/inbox/{conv}/reply", data=form).status_code == 303
    sent = wait_replies(stack, wa_id, 2)
    template = sent[-1]["payload"]
    assert template["type"] == "template", template
    assert template["template"]["name"] == "tanggapan_petugas"
    params = [p["text"] for c in template["template"]["components"] for p in c["parameters"]]
    assert params == [
        "Kanim Jakarta Pusat",
        "Paspor Anda sudah dapat diambil. / Bawa bukti pembayaran.",
    ]


def test_router_restart_during_a_hold_loses_and_doubles_nothing(stack: Stack) -> None:
    wa_id = hold(stack)
    agent = staff(stack, "jakpus.agent")
    conv = conv_of(agent, "jakpus", wa_id)
    before = [f"pesan sebelum restart {i}" for i in range(3)]
    for text in before:
        assert post(stack, *signed_text("jakpus", wa_id, text)).status_code == 200
    stack.kill_one("router")  # a crash: whatever was in flight is redelivered
    during = [f"pesan saat router mati {i}" for i in range(3)]
    for text in during:
        assert post(stack, *signed_text("jakpus", wa_id, text)).status_code == 200
    spec = next(s for s in stack.specs() if s.name == "router")
    stack.start_one(spec)
    stack.wait_ready(spec, time.monotonic() + 90)
    entries = wait_transcript(agent, "jakpus", conv, before + during, timeout=60)
    lines = [e["text"] for e in entries if e["who"] == "citizen"]
    assert lines == ["saya mau bicara dengan petugas", *before, *during]
    time.sleep(2)
    assert len(replies(stack, wa_id)) == 1  # still only the one 'forwarded' answer
    assert live(agent, "jakpus", conv)["held"] is True


TICKET = re.compile(r"\bJKP-\d{4}-\d{6}\b")


def test_ticket_answered_from_ops_reaches_the_citizen(stack: Stack) -> None:
    wa_id = citizen()
    complaint = "saran saya ruang tunggu diberi kipas angin, panas sekali waktu antre"
    assert post(stack, *signed_text("jakpus", wa_id, complaint)).status_code == 200
    found = TICKET.search("\n".join(text_of(r) for r in wait_replies(stack, wa_id, 1)))
    assert found, [text_of(r) for r in replies(stack, wa_id)]
    ticket = found.group(0)
    agent = staff(stack, "jakpus.agent")
    deadline = time.monotonic() + 30
    page = agent.get("/ops/o/jakpus/feedback").text
    while f'data-ticket="{ticket}"' not in page and time.monotonic() < deadline:
        time.sleep(0.5)
        page = agent.get("/ops/o/jakpus/feedback").text
    assert f'data-ticket="{ticket}" data-status="open"' in page
    token = csrf(agent, "/ops/o/jakpus/feedback")
    progress = agent.post(f"/ops/o/jakpus/feedback/{ticket}/progress", data={"csrf": token})
    assert progress.status_code == 303
    answer = "Terima kasih, kipas angin tambahan dipasang minggu ini."
    form = {"csrf": token, "nonce": "answer-0001", "text": answer}
    assert agent.post(f"/ops/o/jakpus/feedback/{ticket}/answer", data=form).status_code == 303
    sent = wait_replies(stack, wa_id, 2)
    reply = sent[-1]
    assert reply["phone_number_id"] == office("jakpus").whatsapp.phone_number_id
    assert ticket in text_of(reply) and answer in text_of(reply)
    page = agent.get("/ops/o/jakpus/feedback").text
    assert f'data-ticket="{ticket}" data-status="answered"' in page and answer in page
    # The same answer form again: no second message.
    assert agent.post(f"/ops/o/jakpus/feedback/{ticket}/answer", data=form).status_code == 303
    time.sleep(2)
    assert len(replies(stack, wa_id)) == 2
    # Another office's staff cannot answer it.
    bogor = staff(stack, "bogor.agent")
    forged = {"csrf": csrf(bogor, "/ops/o/bogor/feedback"), "nonce": "forged-0001", "text": "x"}
    assert bogor.post(f"/ops/o/bogor/feedback/{ticket}/answer", data=forged).status_code == 404
    assert bogor.post(f"/ops/o/jakpus/feedback/{ticket}/answer", data=forged).status_code == 403


def test_overdue_ticket_is_flagged(stack: Stack, kafka_bootstrap: str) -> None:
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    ticket = f"JKP-{received.astimezone(WIB).year}-9{random.randrange(10**5):05d}"
    record = FeedbackRecord(
        ticket=ticket,
        office="jakpus",
        wa_id=citizen(),
        message_id=f"wamid.overdue{random.randrange(10**9)}",
        kind=FeedbackKind.COMPLAINT,
        text="Sudah seminggu lebih keluhan saya belum ditanggapi.",
        received_at=received,
    )
    run_sync(_publish(stack, kafka_bootstrap, record))
    agent = staff(stack, "jakpus.agent")
    deadline = time.monotonic() + 30
    page = agent.get("/ops/o/jakpus/feedback").text
    while f'data-ticket="{ticket}"' not in page and time.monotonic() < deadline:
        time.sleep(0.5)
        page = agent.get("/ops/o/jakpus/feedback").text
    item = re.search(rf'<li class="item([^"]*)" data-ticket="{ticket}".*?</li>', page, re.S)
    assert item and "overdue" in item.group(1), page
    assert 'data-overdue="respond"' in item.group(0)
    national = staff(stack, "national")
    summary = national.get("/ops/o/all/feedback").text
    row = re.search(r'<tr data-office="jakpus"[^>]*>.*?data-overdue>(\d+)<', summary, re.S)
    assert row and int(row.group(1)) >= 1, summary


async def _publish(stack: Stack, kafka_bootstrap: str, record: FeedbackRecord) -> None:
    producer = Producer(
        ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix), "test"
    )
    await producer.start()
    try:
        await producer.publish(Topic.FEEDBACK_RECORDED, record.key, record)
    finally:
        await producer.stop()
