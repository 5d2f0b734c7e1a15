"""`/ops` in a real browser: an office's staff see only their office, national staff all;
a dead letter is re-driven; a handled feedback item leaves the open list; sign-in is
throttled; every page sends the security headers."""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest

from deploy.local.stack import Stack
from gerbang.bus import Producer, encode
from gerbang.messages import DeadLetter, Topic
from gerbang.settings import ServiceSettings
from gerbang_gateway.ops.staff import DEV_STAFF_PASSWORD
from gerbang_gateway.webhook import parse_webhook
from tests.browser.conftest import DESKTOP, PHONE, require_process, screenshot
from tests.support.aio import run_sync
from tests.support.whatsapp import (
    REGISTRY,
    citizen,
    post,
    signed_text,
    text_of,
    wait_replies,
)

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


def _sign_in(browser: object, stack: Stack, username: str, viewport: dict[str, int]) -> object:
    context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{stack.api_url}/ops")
    assert page.url.endswith("/ops/login")
    page.fill("#username", username)
    page.fill("#password", DEV_STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ops/o/"))
    return page


def _csrf(page: object) -> str:
    """The session's CSRF token, as every form of the page carries it."""
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))  # type: ignore[attr-defined]


def _traffic(stack: Stack, code: str, text: str) -> str:
    """One answered citizen message to an office; returns the citizen's wa_id."""
    wa_id = citizen()
    assert post(stack, *signed_text(code, wa_id, text)).status_code == 200
    wait_replies(stack, wa_id, 1, settle=0.3)
    return wa_id


def _kpi(page: object, name: str) -> int:
    return int(page.locator(f'[data-kpi="{name}"]').inner_text())  # type: ignore[attr-defined]


def test_office_staff_see_only_their_office(browser: object, stack: Stack) -> None:
    """jakpus's agent: jakpus's numbers; bogor's page and the national sum are 403."""
    _traffic(stack, "jakpus", "syarat paspor baru apa?")
    _traffic(stack, "jakpus", "biaya paspor berapa")
    page = _sign_in(browser, stack, "jakpus.agent", PHONE)
    assert page.url.endswith("/ops/o/jakpus")  # type: ignore[attr-defined]
    token = _csrf(page)
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Jakarta Pusat" in body or REGISTRY.get("jakpus").short_name in body
    assert _kpi(page, "messages-in") >= 2
    assert "faq:requirements" in body
    # No office switcher and no other office's name for an office viewer.
    assert page.locator("#switch-office").count() == 0  # type: ignore[attr-defined]
    assert REGISTRY.get("bogor").short_name not in body
    screenshot(page, "ops-jakpus-overview-phone")
    for path in (
        "/ops/o/bogor",
        "/ops/o/bogor/feedback",
        "/ops/o/bogor/dead-letters",
        "/ops/o/all",
        "/ops/o/nosuchoffice",
    ):
        response = page.goto(f"{stack.api_url}{path}")  # type: ignore[attr-defined]
        assert response.status == 403, path
        assert "Jakarta" not in page.inner_text("main")  # type: ignore[attr-defined]
    # Actions are refused as well, not just pages.
    response = page.request.post(  # type: ignore[attr-defined]
        f"{stack.api_url}/ops/o/bogor/dead-letters/whatsapp.inbound.dlq:0:0/redrive",
        form={"csrf": token},
    )
    assert response.status == 403
    # The audit log is for office leads: an agent gets 403.
    assert page.goto(f"{stack.api_url}/ops/o/jakpus/audit").status == 403  # type: ignore[attr-defined]
    screenshot(page, "ops-jakpus-forbidden-bogor")
    page.context.close()  # type: ignore[attr-defined]


def _login_attempt(http: httpx.Client, username: str, password: str) -> httpx.Response:
    form = http.get("/ops/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    return http.post(
        "/ops/login", data={"username": username, "password": password, "csrf": token.group(1)}
    )


def test_no_session_no_data(stack: Stack) -> None:
    """Without a valid cookie every page goes to sign-in and every action is 401; a sign-in
    form without its CSRF token is refused; every /ops answer carries the security headers."""
    with httpx.Client(base_url=stack.api_url, timeout=10) as http:
        page = http.get("/ops/o/jakpus")
        assert page.headers["location"] == "/ops/login"
        login = http.get("/ops/login")
        for response in (page, login):
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
        no_csrf = http.post("/ops/login", data={"username": "jakpus.agent", "password": "x"})
        assert no_csrf.status_code == 403
        assert _login_attempt(http, "jakpus.agent", "wrong").status_code == 401
    forged = {"gerbang_ops": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    with httpx.Client(base_url=stack.api_url, timeout=10, cookies=forged) as http:
        assert http.get("/ops/o/all").status_code == 303
        assert http.post("/ops/o/jakpus/dead-letters/x.dlq:0:0/redrive").status_code == 401


def test_sign_in_is_throttled_per_account(browser: object, stack: Stack) -> None:
    """Five wrong passwords lock the account: the right one is refused too (429), another
    account still signs in, and the office lead sees the failures counted and audited."""
    with httpx.Client(base_url=stack.api_url, timeout=10) as http:
        for _ in range(5):
            assert _login_attempt(http, "batam.agent", "tebak-tebakan").status_code == 401
        locked = _login_attempt(http, "batam.agent", DEV_STAFF_PASSWORD)
        assert locked.status_code == 429, locked.text
        assert "Terlalu banyak percobaan" in locked.text
        assert int(locked.headers["retry-after"]) > 60
        api_metrics = http.get("/metrics").text
        assert 'gerbang_ops_sign_in_refused_total{outcome="locked"}' in api_metrics
    lead = _sign_in(browser, stack, "batam.lead", DESKTOP)
    lead.goto(f"{stack.api_url}/ops/o/batam/audit")  # type: ignore[attr-defined]
    assert _kpi(lead, "signin-failed") >= 5
    assert _kpi(lead, "signin-locked") >= 1
    refused = lead.locator('tr[data-action="sign_in"]', has_text="batam.agent")  # type: ignore[attr-defined]
    assert refused.count() >= 6
    screenshot(lead, "ops-batam-audit-desktop")
    lead.context.close()  # type: ignore[attr-defined]


def test_national_staff_see_all_and_switch(browser: object, stack: Stack) -> None:
    """National staff: the sum of every office (all 151, busiest first, searchable),
    and any office by the switcher."""
    _traffic(stack, "bogor", "jam buka kantor?")
    for _ in range(2):
        _traffic(stack, "medan", "syarat paspor baru apa?")
    page = _sign_in(browser, stack, "national", DESKTOP)
    assert page.url.endswith("/ops/o/all")  # type: ignore[attr-defined]
    rows = page.locator("#per-office tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == len(REGISTRY)
    for the_office in REGISTRY:
        assert page.locator(f'tr[data-office="{the_office.code}"]').count() == 1  # type: ignore[attr-defined]
    # Busiest first: an office with traffic heads the table, one without comes after.
    order = [rows.nth(i).get_attribute("data-office") for i in range(rows.count())]
    assert order.index("medan") < order.index("bogor") < order.index("contoh01")
    total = _kpi(page, "messages-in")
    screenshot(page, "ops-national-all-desktop")
    page.fill("#office-filter", "medan")  # type: ignore[attr-defined]
    page.click("#per-office button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"q=medan"))  # type: ignore[attr-defined]
    found = [rows.nth(i).get_attribute("data-office") for i in range(rows.count())]
    assert found[0] == "medan" and set(found) <= {"medan", "polonia", "belawan"}
    assert _kpi(page, "messages-in") == total  # the filter narrows the table, not the sums
    screenshot(page, "ops-national-filter-medan-desktop")
    page.select_option("#switch-office", "bogor")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/ops/o/bogor$"))  # type: ignore[attr-defined]
    assert 1 <= _kpi(page, "messages-in") <= total
    assert REGISTRY.get("bogor").service_name in page.inner_text(".bar")  # type: ignore[attr-defined]
    page.goto(f"{stack.api_url}/ops/o/jakpus")  # type: ignore[attr-defined]
    assert _kpi(page, "messages-in") >= 1
    page.context.close()  # type: ignore[attr-defined]


def _dead_letter_for(stack: Stack, code: str, wa_id: str, text: str) -> DeadLetter:
    """A dead letter holding a real inbound message of `wa_id` (as the router would DLQ it)."""
    raw, _ = signed_text(code, wa_id, text)
    message = parse_webhook(raw, REGISTRY, received_at=dt.datetime.now(dt.UTC)).messages[0]
    return DeadLetter(
        source_topic=Topic.INBOUND.value,
        partition=0,
        offset=0,
        key=message.key,
        value=encode(message).decode(),
        error_type="RuntimeError",
        error="simulated router failure",
        service="router",
    )


async def _publish_dead_letter(stack: Stack, kafka_bootstrap: str, letter: DeadLetter) -> None:
    producer = Producer(
        ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix), "test"
    )
    await producer.start()
    try:
        await producer.publish(Topic.INBOUND.dlq, letter.key, letter)
    finally:
        await producer.stop()


def test_dead_letter_redrive(browser: object, stack: Stack, kafka_bootstrap: str) -> None:
    """A jakpus dead letter shows for jakpus only; re-driving it gets the citizen answered."""
    wa_id = citizen()
    letter = _dead_letter_for(stack, "jakpus", wa_id, "syarat paspor anak")
    run_sync(_publish_dead_letter(stack, kafka_bootstrap, letter))

    bogor = _sign_in(browser, stack, "bogor.agent", PHONE)
    page = _sign_in(browser, stack, "jakpus.agent", PHONE)
    page.goto(f"{stack.api_url}/ops/o/jakpus/dead-letters")  # type: ignore[attr-defined]
    item = page.locator(".item", has_text="simulated router failure")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while item.count() == 0 and time.monotonic() < deadline:  # the indexer runs in the background
        time.sleep(0.5)
        page.reload()  # type: ignore[attr-defined]
    assert item.count() == 1
    assert wa_id not in item.inner_text()  # the number is masked
    bogor.goto(f"{stack.api_url}/ops/o/bogor/dead-letters")  # type: ignore[attr-defined]
    assert "simulated router failure" not in bogor.inner_text("main")  # type: ignore[attr-defined]
    letter_id = item.get_attribute("data-letter")
    forged = bogor.request.post(  # type: ignore[attr-defined]
        f"{stack.api_url}/ops/o/bogor/dead-letters/{letter_id}/redrive",
        form={"csrf": _csrf(bogor)},
    )
    assert forged.status == 404  # bogor cannot re-drive jakpus's letter through its own page
    screenshot(page, "ops-jakpus-dead-letters-phone")

    item.locator("button", has_text="Kirim ulang").click()
    page.wait_for_url(re.compile(r"done="))  # type: ignore[attr-defined]
    assert "dikirim ulang" in page.locator(f'[data-letter="{letter_id}"]').inner_text()  # type: ignore[attr-defined]
    replies = wait_replies(stack, wa_id, 1, settle=0.3)
    assert "paspor" in text_of(replies[0]).lower()
    bogor.context.close()  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


TICKET = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6,}\b")


def _complaint_ticket(stack: Stack, code: str) -> str:
    """Send a complaint as a citizen (answering the feedback prompt if there is one)."""
    wa_id = citizen()
    complaint = "Saya mau komplain, antrean di kantor lama sekali dan petugasnya tidak ramah."
    seen = 0
    for _ in range(3):
        assert post(stack, *signed_text(code, wa_id, complaint)).status_code == 200
        replies = wait_replies(stack, wa_id, seen + 1, settle=1.0)
        seen = len(replies)
        for record in replies:
            found = TICKET.search(text_of(record))
            if found:
                return found.group(0)
    raise AssertionError(f"no feedback ticket in the replies: {[text_of(r) for r in replies]}")


def test_handled_feedback_leaves_the_open_list(browser: object, stack: Stack) -> None:
    """A complaint shows in the office's inbox; marked handled with a note, it is gone."""
    require_process(stack, "feedback-api")
    require_process(stack, "feedback")
    ticket = _complaint_ticket(stack, "jakpus")
    page = _sign_in(browser, stack, "jakpus.agent", PHONE)
    page.goto(f"{stack.api_url}/ops/o/jakpus/feedback")  # type: ignore[attr-defined]
    item = page.locator(f'li[data-ticket="{ticket}"]')  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while item.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()  # type: ignore[attr-defined]
    assert item.count() == 1, page.inner_text("main")  # type: ignore[attr-defined]
    assert page.locator(".error").count() == 0  # type: ignore[attr-defined]
    screenshot(page, "ops-jakpus-feedback-phone")
    # Another office never sees it.
    bogor = _sign_in(browser, stack, "bogor.agent", PHONE)
    bogor.goto(f"{stack.api_url}/ops/o/bogor/feedback")  # type: ignore[attr-defined]
    assert ticket not in bogor.inner_text("main")  # type: ignore[attr-defined]
    forged = bogor.request.post(  # type: ignore[attr-defined]
        f"{stack.api_url}/ops/o/bogor/feedback/{ticket}/handled",
        form={"note": "not mine", "csrf": _csrf(bogor)},
    )
    assert forged.status == 404
    bogor.context.close()  # type: ignore[attr-defined]

    item.locator('textarea[name="note"]').fill("Sudah ditelepon dan antrean diperbaiki.")
    item.locator("button", has_text="Tandai selesai").click()
    page.wait_for_url(re.compile(r"done="))  # type: ignore[attr-defined]
    assert page.locator(f'li[data-ticket="{ticket}"]').count() == 0  # type: ignore[attr-defined]
    assert ticket in page.locator(".ok").inner_text()  # type: ignore[attr-defined]
    screenshot(page, "ops-jakpus-feedback-handled-phone")
    page.context.close()  # type: ignore[attr-defined]
