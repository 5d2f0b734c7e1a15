"""The content editor in a real browser (issue 11's acceptance): an office lead edits an
answer, previews it as WhatsApp shows it, saves a draft and publishes it; within 5 s the
simulator shows the new answer at that office and the old one at another office; rollback
restores it; the lead is refused on a national fee, with the reason shown."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

import pytest

from deploy.local.stack import Stack
from gerbang_gateway.ops.staff import DEV_STAFF_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE, open_chat, screenshot
from tests.support.ops import csrf, staff
from tests.support.whatsapp import citizen, post, signed_text, text_of, wait_replies

pytestmark = pytest.mark.e2e

# The stack is shared with test_ops.py, whose national table expects medan busier than bogor:
# these tests send their traffic to jakpus and batam only.

TIMEOUT_MS = 30_000
QUESTION = "cara ambil paspor yang sudah jadi gimana?"
OLD_PICKUP = "Pengambilan paspor"  # the YAML answer's title (offices/_national/faq.yaml)
WIB = dt.timezone(dt.timedelta(hours=7))


def _sign_in(browser: object, stack: Stack, username: str, viewport: dict[str, int]) -> object:
    context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{stack.api_url}/ops/login")
    page.fill("#username", username)
    page.fill("#password", DEV_STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ops/o/"))
    return page


def _ask(page: object, text: str) -> str:
    """Type `text`; the text of the office's next bubble."""
    bubbles = page.locator(".msg.office")  # type: ignore[attr-defined]
    before = bubbles.count()
    page.fill("#text", text)  # type: ignore[attr-defined]
    page.click("#send")  # type: ignore[attr-defined]
    bubbles.nth(before).wait_for(timeout=TIMEOUT_MS)
    return str(bubbles.nth(before).inner_text())


def test_edit_preview_publish_rollback(browser: object, stack: Stack) -> None:
    """jakpus.lead changes jakpus's pickup answer; jakpus citizens read it within 5 s, batam's
    do not; the rollback gives jakpus the old answer back; every step is in the audit log."""
    marker = f"UJI-{uuid.uuid4().hex[:6]}"
    jakpus_chat = open_chat(browser, stack, "jakpus", PHONE)
    batam_chat = open_chat(browser, stack, "batam", PHONE)
    assert OLD_PICKUP in _ask(jakpus_chat, QUESTION)  # warm: the pipeline answers

    page = _sign_in(browser, stack, "jakpus.lead", DESKTOP)
    page.click("nav.tabs >> text=Konten")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/ops/o/jakpus/content$"))  # type: ignore[attr-defined]
    assert page.locator('tr[data-topic="pickup"]').count() == 1  # type: ignore[attr-defined]
    screenshot(page, "content-jakpus-list")
    page.click('tr[data-topic="pickup"] a')  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/content/pickup$"))  # type: ignore[attr-defined]
    page.fill(
        "#text_id",
        f"*Pengambilan paspor di {{short_name}}* ({marker})\n\n"
        "• Bawa _bukti bayar_\n• Datang pukul 13.00–15.00\n\nInfo: https://www.imigrasi.go.id",
    )  # type: ignore[attr-defined]
    page.fill(
        "#text_en",
        f"*Passport pickup at {{short_name}}* ({marker})\n\n"
        "• Bring your _payment receipt_\n• Come between 13:00 and 15:00",
    )  # type: ignore[attr-defined]
    page.fill("#reason", "loket pengambilan pindah jam")  # type: ignore[attr-defined]
    page.click("#preview-button")  # type: ignore[attr-defined]
    preview = page.locator("#preview [data-lang=id] .bubble")  # type: ignore[attr-defined]
    preview.wait_for(timeout=TIMEOUT_MS)
    # Rendered as WhatsApp does: bold and italic, a list, a link; placeholders filled.
    assert preview.locator("strong").first.inner_text().startswith("Pengambilan paspor di Kanim")
    assert preview.locator("em").first.inner_text() == "bukti bayar"
    assert preview.locator("li").count() == 2
    assert preview.locator("a[href='https://www.imigrasi.go.id']").count() == 1
    assert "*" not in preview.inner_text()
    screenshot(page, "content-jakpus-preview")

    page.click("#draft-button")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"n=draft"))  # type: ignore[attr-defined]
    page.locator("#publish-button").wait_for()  # type: ignore[attr-defined]
    # A draft is not live: citizens still read the YAML answer.
    assert marker not in _ask(jakpus_chat, QUESTION)
    page.click("#publish-button")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"n=published"))  # type: ignore[attr-defined]
    published_at = time.monotonic()
    screenshot(page, "content-jakpus-published")

    answer = _ask(jakpus_chat, QUESTION)
    took = time.monotonic() - published_at
    assert marker in answer, answer
    assert took <= 5.0, f"the simulator showed the new answer {took:.1f} s after publishing"
    assert "Bawa bukti bayar" in answer
    other = _ask(batam_chat, QUESTION)
    assert marker not in other and OLD_PICKUP in other
    screenshot(jakpus_chat, "content-simulator-jakpus-new")
    screenshot(batam_chat, "content-simulator-batam-old")

    # History shows the diff; one click rolls back.
    history = page.locator("#history")  # type: ignore[attr-defined]
    assert marker in history.locator("pre.diff .add").first.inner_text()
    page.click("#rollback-button")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"n=rolled_back"))  # type: ignore[attr-defined]
    assert page.locator('[data-version="2"][data-state="published"]').count() == 1  # type: ignore[attr-defined]
    assert page.locator('[data-version="1"][data-state="rolled_back"]').count() == 1  # type: ignore[attr-defined]
    screenshot(page, "content-jakpus-rolled-back")
    restored = _ask(jakpus_chat, QUESTION)
    assert marker not in restored and OLD_PICKUP in restored

    page.goto(f"{stack.api_url}/ops/o/jakpus/audit")  # type: ignore[attr-defined]
    for action in ("content.draft", "content.publish", "content.rollback"):
        page.locator(f'tr[data-action="{action}"]').first.wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]


def test_office_lead_refused_on_a_national_fee(browser: object, stack: Stack) -> None:
    """Fees are national facts: jakpus's lead sees why, and saving is refused (403, reason)."""
    page = _sign_in(browser, stack, "jakpus.lead", PHONE)
    page.goto(f"{stack.api_url}/ops/o/jakpus/content/fees")  # type: ignore[attr-defined]
    assert "fakta nasional" in page.locator("#refusal").inner_text()  # type: ignore[attr-defined]
    page.fill("#text_id", "Biaya paspor sekarang Rp1")  # type: ignore[attr-defined]
    page.fill("#text_en", "Passport fee is now Rp1")  # type: ignore[attr-defined]
    with page.expect_response(re.compile(r"/content/fees$")) as response:  # type: ignore[attr-defined]
        page.click("#draft-button")  # type: ignore[attr-defined]
    assert response.value.status == 403
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "fakta nasional" in body and "national fact" in body
    screenshot(page, "content-jakpus-lead-refused-fee")
    page.goto(f"{stack.api_url}/ops/o/jakpus/audit")  # type: ignore[attr-defined]
    refused = page.locator('tr[data-action="content.draft"].refused')  # type: ignore[attr-defined]
    refused.first.wait_for(timeout=TIMEOUT_MS)
    # The national page is not theirs either.
    page.goto(f"{stack.api_url}/ops/o/all/content/fees")  # type: ignore[attr-defined]
    assert "Anda tidak berhak" in page.inner_text("body")  # type: ignore[attr-defined]


def _answer(stack: Stack, code: str, text: str) -> str:
    wa_id = citizen()
    assert post(stack, *signed_text(code, wa_id, text)).status_code == 200
    return text_of(wait_replies(stack, wa_id, 1, settle=0.2)[0])


def _form(http: object, path: str, **fields: str) -> object:
    """POST a form of the editor page (its CSRF token read from that page)."""
    page = re.sub(r"/(publish|rollback)$", "", path)
    return http.post(path, data={"csrf": csrf(http, page), **fields})  # type: ignore[attr-defined]


def test_an_agent_drafts_but_does_not_publish(stack: Stack) -> None:
    """batam's agent saves a draft; publishing it is refused (403, why) and audited."""
    path = "/ops/o/batam/content/registration"
    agent = staff(stack, "batam.agent")
    saved = _form(agent, path, step="draft", text_id="Daftar di M-Paspor", text_en="Use M-Paspor")
    assert saved.status_code == 303  # type: ignore[attr-defined]
    refused = _form(agent, f"{path}/publish")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Hanya kepala kantor" in refused.text  # type: ignore[attr-defined]
    assert "Use M-Paspor" not in _answer(stack, "batam", "cara daftar paspor online gimana")
    lead = staff(stack, "batam.lead")
    assert _form(lead, f"{path}/publish").status_code == 303  # type: ignore[attr-defined]
    audit = lead.get("/ops/o/batam/audit").text  # type: ignore[attr-defined]
    assert 'data-action="content.publish" class="refused"' in audit
    assert _form(lead, f"{path}/rollback").status_code == 303  # type: ignore[attr-defined]


def test_national_fees_need_a_source_and_reach_every_office(stack: Stack) -> None:
    """National staff: without source and date the fee is refused with the fields named;
    with them it reaches every office's citizens; an announcement stands above one office's
    answers while valid."""
    national = staff(stack, "national")
    path = "/ops/o/all/content/fees"
    texts = {"text_id": "*Biaya paspor* (uji nasional)", "text_en": "*Fees* (national test)"}
    refused = _form(national, path, step="draft", **texts)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'data-field="source"' in refused.text and 'data-field="verified_on"' in refused.text  # type: ignore[attr-defined]
    day = dt.date.today().isoformat()
    saved = _form(national, path, step="draft", source="PP 45/2024", verified_on=day, **texts)
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert _form(national, f"{path}/publish").status_code == 303  # type: ignore[attr-defined]
    until = (dt.datetime.now(WIB) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    since = (dt.datetime.now(WIB) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    notice = _form(
        staff(stack, "batam.lead"),
        "/ops/o/batam/content/announcement",
        step="draft",
        text_id="Layanan {short_name} tutup Jumat ini.",
        text_en="{short_name} is closed this Friday.",
        valid_from=since,
        valid_until=until,
    )
    assert notice.status_code == 303  # type: ignore[attr-defined]
    lead = staff(stack, "batam.lead")
    assert _form(lead, "/ops/o/batam/content/announcement/publish").status_code == 303  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while True:
        batam, jakpus = (
            _answer(stack, code, "biaya paspor berapa") for code in ("batam", "jakpus")
        )
        if ("(uji nasional)" in jakpus and "tutup Jumat" in batam) or time.monotonic() > deadline:
            break
    assert jakpus.startswith("*Biaya paspor* (uji nasional)"), jakpus
    assert batam.startswith("📢 Layanan Kanim Batam tutup Jumat ini.\n\n*Biaya paspor* (uji"), batam
    for done in (path, "/ops/o/batam/content/announcement"):
        who = national if done == path else lead
        assert _form(who, f"{done}/rollback").status_code == 303  # type: ignore[attr-defined]


def test_announcement_preview_shows_it_above_an_answer(browser: object, stack: Stack) -> None:
    """batam's lead writes a closure notice: the preview shows it above an answer, dated."""
    page = _sign_in(browser, stack, "batam.lead", PHONE)
    page.goto(f"{stack.api_url}/ops/o/batam/content")  # type: ignore[attr-defined]
    page.click("#announcement a.button")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/content/announcement$"))  # type: ignore[attr-defined]
    now = dt.datetime.now(WIB)
    page.fill("#text_id", "*Kantor tutup* pada hari Jumat; layanan dibuka lagi Senin.")  # type: ignore[attr-defined]
    page.fill("#text_en", "*The office is closed* on Friday; open again on Monday.")  # type: ignore[attr-defined]
    page.fill("#valid_from", now.strftime("%Y-%m-%dT%H:%M"))  # type: ignore[attr-defined]
    page.fill("#valid_until", (now + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))  # type: ignore[attr-defined]
    page.click("#preview-button")  # type: ignore[attr-defined]
    bubble = page.locator("#preview [data-lang=id] .bubble")  # type: ignore[attr-defined]
    bubble.wait_for(timeout=TIMEOUT_MS)
    shown = bubble.inner_text()
    assert shown.startswith("📢 Kantor tutup pada hari Jumat"), shown
    assert "Pengambilan paspor" in shown  # the answer it stands above
    screenshot(page, "content-batam-announcement-preview")
    # An end before the start is refused with the field named; nothing is saved.
    page.fill("#valid_until", (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))  # type: ignore[attr-defined]
    page.click("#draft-button")  # type: ignore[attr-defined]
    page.locator('#problems [data-field="valid_until"]').wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    assert page.locator("#draft").count() == 0  # type: ignore[attr-defined]


def test_a_text_is_edited_like_an_answer_and_reaches_the_status_worker(stack: Stack) -> None:
    """'Teks' entries of the catalogue: jakpus's lead overrides the status prompt (a text with
    different placeholders per language is refused, the field named); within seconds jakpus's
    citizens read it from the status worker and batam's the national text; rollback restores."""
    lead = staff(stack, "jakpus.lead")
    listing = lead.get("/ops/o/jakpus/content").text  # type: ignore[attr-defined]
    assert 'id="texts"' in listing and 'data-topic="status.ask_both"' in listing
    path = "/ops/o/jakpus/content/status.ask_both"
    mixed = {"text_id": "Kirim nomor ke {short_name}.", "text_en": "Send the number."}
    refused = _form(lead, path, step="draft", **mixed)
    assert refused.status_code == 422 and 'data-field="text.en"' in refused.text  # type: ignore[attr-defined]
    own = {
        "text_id": "Kirim nomor permohonan dan tanggal lahir ke {short_name} (uji teks).",
        "text_en": "Send the application number and date of birth to {short_name} (text test).",
    }
    assert _form(lead, path, step="draft", **own).status_code == 303  # type: ignore[attr-defined]
    assert _form(lead, f"{path}/publish").status_code == 303  # type: ignore[attr-defined]
    question = "cek status paspor saya"
    deadline = time.monotonic() + 10
    while "(uji teks)" not in (jakpus := _answer(stack, "jakpus", question)):
        assert time.monotonic() < deadline, jakpus
    assert jakpus == "Kirim nomor permohonan dan tanggal lahir ke Kanim Jakarta Pusat (uji teks)."
    assert _answer(stack, "batam", question).startswith("Untuk cek status permohonan paspor di")
    assert _form(lead, f"{path}/rollback").status_code == 303  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while "(uji teks)" in (jakpus := _answer(stack, "jakpus", question)):
        assert time.monotonic() < deadline, jakpus
    assert jakpus.startswith("Untuk cek status permohonan paspor di Kanim Jakarta Pusat")
