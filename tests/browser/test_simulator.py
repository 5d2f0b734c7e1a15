"""The simulator round trip in a real browser: a citizen writes to two offices' numbers."""

from __future__ import annotations

import re

import pytest

from deploy.local.stack import Stack
from tests.browser.conftest import DESKTOP, PHONE, open_chat, screenshot
from tests.support.whatsapp import office

pytestmark = pytest.mark.e2e

REPLY_TIMEOUT_MS = 30_000


def _office_bubbles(page: object) -> object:
    return page.locator(".msg.office")  # type: ignore[attr-defined]


def _type(page: object, text: str) -> None:
    page.fill("#text", text)  # type: ignore[attr-defined]
    page.click("#send")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("code", "viewport"),
    [("jakpus", PHONE), ("bogor", DESKTOP)],
    ids=["jakpus-phone", "bogor-desktop"],
)
def test_question_answer_and_menu_row(
    browser: object, stack: Stack, code: str, viewport: dict[str, int]
) -> None:
    """Type a question → the answer shows; open the menu, tap a row → its answer shows."""
    the_office = office(code)
    page = open_chat(browser, stack, code, viewport)
    title = page.locator("#chat-title").inner_text()  # type: ignore[attr-defined]
    assert the_office.service_name in title

    _type(page, "syarat bikin paspor baru apa aja?")
    answer = _office_bubbles(page).first
    answer.wait_for(timeout=REPLY_TIMEOUT_MS)
    assert re.search(r"syarat paspor", answer.inner_text(), re.IGNORECASE)
    # WhatsApp *bold* is rendered bold, not shown with asterisks.
    assert answer.locator("b").count() >= 1
    assert "*Syarat" not in answer.inner_text()
    page.locator(".msg.citizen").first.wait_for()

    _type(page, "menu")
    menu_button = page.locator(".list-open").last  # type: ignore[attr-defined]
    menu_button.wait_for(timeout=REPLY_TIMEOUT_MS)
    assert the_office.service_name in page.locator(".msg.interactive").last.inner_text()  # type: ignore[attr-defined]
    menu_button.click()
    row = page.locator('.row-option[data-row-id="faq:hours_location"]')  # type: ignore[attr-defined]
    row.wait_for()
    screenshot(page, f"simulator-{code}-menu-open")
    assert page.locator(".msg.office", has_text=the_office.address.id).count() == 0  # type: ignore[attr-defined]
    row.click()
    assert page.locator("#sheet").is_hidden()  # type: ignore[attr-defined]
    # The tapped row's title shows as the citizen's message, the office's address answers.
    assert "Jam & alamat kantor" in page.locator(".msg.citizen").last.inner_text()  # type: ignore[attr-defined]
    page.locator(".msg.office", has_text=the_office.address.id).first.wait_for(  # type: ignore[attr-defined]
        timeout=REPLY_TIMEOUT_MS
    )
    screenshot(page, f"simulator-{code}-answered")
    page.context.close()  # type: ignore[attr-defined]
