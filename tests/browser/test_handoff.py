"""A whole handoff in a real browser, two pages side by side: the simulator as the citizen,
`/ops` as the office's staff member (issue 10)."""

from __future__ import annotations

import re

import pytest

from deploy.local.stack import Stack
from gerbang_gateway.ops.staff import DEV_STAFF_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE, open_chat, screenshot
from tests.support.whatsapp import office

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 30_000


def test_a_whole_handoff_between_simulator_and_ops(browser: object, stack: Stack) -> None:
    the_office = office("jakpus")
    # open_chat waits until the page knows where this citizen's replies start: typing before
    # that could let the first reply pass for an old one, never shown (seen under load).
    phone = open_chat(browser, stack, "jakpus", PHONE)
    wa_id = phone.input_value("#citizen")  # type: ignore[attr-defined]
    assert "bicara dengan petugas" in phone.inner_text("#handoff-hint")

    def say(text: str) -> None:
        phone.fill("#text", text)
        phone.click("#send")

    say("saya mau bicara dengan petugas")
    forwarded = phone.locator(".msg.office", has_text="Pesan Anda sudah diteruskan ke petugas")
    forwarded.first.wait_for(timeout=TIMEOUT_MS)
    say("Paspor saya sudah 3 minggu belum jadi, nomor permohonan saya ada.")

    desk = browser.new_context(viewport=DESKTOP).new_page()  # type: ignore[attr-defined]
    desk.goto(f"{stack.api_url}/ops")
    desk.fill("#username", "jakpus.agent")
    desk.fill("#password", DEV_STAFF_PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_url(re.compile(r"/ops/o/jakpus"))
    desk.click("nav.tabs >> text=Kotak masuk")
    masked = wa_id[:2] + "*" * (len(wa_id) - 5) + wa_id[-3:]
    row = desk.locator(".conv", has_text=masked)
    row.wait_for(timeout=TIMEOUT_MS)  # appears by polling, without reloading
    assert wa_id not in desk.inner_text("main")
    screenshot(desk, "handoff-ops-inbox-desktop")
    row.locator("a").click()
    desk.locator(".msg.citizen", has_text="3 minggu").wait_for(timeout=TIMEOUT_MS)
    desk.click("#claim")
    desk.locator("#reply-text").wait_for()
    # A new citizen message shows up in the open conversation without a reload.
    say("Atas nama Budi Santoso.")
    desk.locator(".msg.citizen", has_text="Budi Santoso").wait_for(timeout=TIMEOUT_MS)
    desk.select_option("#quick", label="pickup")
    assert len(desk.input_value("#reply-text")) > 50  # the FAQ answer was inserted
    desk.fill(
        "#reply-text",
        "Baik Pak Budi, permohonan Anda sedang dicetak. Paspor dapat diambil besok pukul 10.00.",
    )
    desk.click("#reply-form button[type=submit]")
    desk.locator(".ok", has_text="Balasan dikirim").wait_for()
    phone.locator(".msg.office", has_text="dapat diambil besok").wait_for(timeout=TIMEOUT_MS)
    desk.locator(".msg.staff", has_text="dapat diambil besok").wait_for(timeout=TIMEOUT_MS)
    screenshot(phone, "handoff-simulator-staff-reply-phone")
    screenshot(desk, "handoff-ops-conversation-desktop")

    desk.click("#close")
    desk.wait_for_url(re.compile(r"done=closed"))
    phone.locator(".msg.office", has_text="telah menutup percakapan").wait_for(timeout=TIMEOUT_MS)
    say("jam buka kantor?")
    phone.locator(".msg.office", has_text=the_office.address.id).first.wait_for(timeout=TIMEOUT_MS)
    screenshot(phone, "handoff-simulator-back-to-bot-phone")
    phone.context.close()
    desk.context.close()
