"""A broadcast from /ops in a real browser (issue 11): a citizen subscribes in the simulator
("langganan info", then the button), the office lead opens *Siaran*, starts the broadcast of
the live announcement, and sees the delivery report (targeted, sent, delivered, read) fill
in from Meta's status webhooks; the citizen's chat shows the announcement template."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from deploy.local.stack import Stack
from tests.browser.conftest import DESKTOP, PHONE, open_chat, screenshot
from tests.browser.test_content import TIMEOUT_MS, _ask, _sign_in
from tests.support.broadcast import announcement, produce
from tests.support.ops import csrf, staff
from tests.support.whatsapp import citizen, post, signed_text, wait_replies

pytestmark = pytest.mark.e2e
SHOTS = Path("/work/team/shots-h11b")


def _keep(path: Path) -> None:
    """A copy of the screenshot where the team looks at them (if that folder can be made)."""
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
    except OSError:
        pass


def test_lead_starts_a_broadcast_and_sees_the_delivery_report(
    browser: object, stack: Stack
) -> None:
    marker = f"SIARAN-{uuid.uuid4().hex[:6]}"
    webhooks = httpx.get(f"{stack.graph_url}/__webhooks", timeout=10).json()
    config = {k: webhooks[k] for k in ("url", "delay_ms", "drop", "statuses", "max_attempts")}
    httpx.put(
        f"{stack.graph_url}/__webhooks",
        json=config | {"statuses": ["sent", "delivered", "read"]},
        timeout=10,
    ).raise_for_status()
    produce(
        stack,
        [
            announcement(
                "jakpus",
                f"Kanim Jakarta Pusat tutup Jumat 5 Desember (pemeliharaan sistem). {marker}",
                f"Kanim Jakarta Pusat is closed on Friday 5 December (maintenance). {marker}",
            )
        ],
    )
    try:
        # A citizen subscribes in the simulator: the question, then the button.
        chat = open_chat(browser, stack, "jakpus", PHONE)
        assert "pengumuman resmi" in _ask(chat, "langganan info")
        bubbles = chat.locator(".msg.office")  # type: ignore[attr-defined]
        before = bubbles.count()
        chat.click("text=Ya, langganan")  # type: ignore[attr-defined]
        bubbles.nth(before).wait_for(timeout=TIMEOUT_MS)
        assert "Anda akan menerima pengumuman" in bubbles.nth(before).inner_text()
        # Two more subscribe by typing.
        others = [citizen(), citizen()]
        for wa_id in others:
            assert (
                post(stack, *signed_text("jakpus", wa_id, "mau langganan info")).status_code == 200
            )
            wait_replies(stack, wa_id, 1, settle=0.2)
            assert post(stack, *signed_text("jakpus", wa_id, "ya")).status_code == 200
            wait_replies(stack, wa_id, 2, settle=0.2)

        page = _sign_in(browser, stack, "jakpus.lead", DESKTOP)
        page.click("nav.tabs >> text=Siaran")  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"/ops/o/jakpus/broadcasts$"))  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while marker not in page.content():  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the announcement never showed on /ops"
            time.sleep(0.5)
            page.reload()  # type: ignore[attr-defined]
        assert int(page.inner_text("[data-subscribers]")) >= 3  # type: ignore[attr-defined]
        page.click("#start-broadcast")  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"started="))  # type: ignore[attr-defined]
        broadcast_id = re.search(r"started=([\w-]+)", page.url).group(1)  # type: ignore
        row = f'tr[data-broadcast="{broadcast_id}"]'

        def cell(col: str) -> int:
            return int(page.inner_text(f'{row} td[data-col="{col}"]'))  # type: ignore[attr-defined]

        # The report fills in by itself (the page follows the report's JSON; no reload).
        deadline = time.monotonic() + 60
        while not (cell("targeted") >= 3 and cell("read") == cell("targeted")):
            assert time.monotonic() < deadline, page.inner_text(row)  # type: ignore[attr-defined]
            time.sleep(1)
        assert cell("sent") == cell("delivered") == cell("targeted") and cell("failed") == 0
        assert cell("withheld") == 0
        assert "jakpus.lead" in page.inner_text(row)  # type: ignore[attr-defined]
        assert "selesai diantre" in page.inner_text(row)  # type: ignore[attr-defined]
        assert page.locator(f"{row} [data-cancel]").count() == 0  # type: ignore[attr-defined]
        _keep(screenshot(page, "broadcast-report-jakpus"))

        # Stopping: an agent may not (refused, audited); a finished broadcast stays finished.
        agent = staff(stack, "jakpus.agent")
        stop = f"/ops/o/jakpus/broadcasts/{broadcast_id}/cancel"
        refused = agent.post(stop, data={"csrf": csrf(agent, "/ops/o/jakpus/broadcasts")})
        assert refused.status_code == 403 and "Hanya kepala kantor" in refused.text
        lead = staff(stack, "jakpus.lead")
        late = lead.post(stop, data={"csrf": csrf(lead, "/ops/o/jakpus/broadcasts")})
        assert late.status_code == 303
        assert "selesai diantre" in lead.get("/ops/o/jakpus/broadcasts").text
        other = staff(stack, "bogor.lead")  # another office's broadcast: as if missing
        missing = other.post(
            f"/ops/o/bogor/broadcasts/{broadcast_id}/cancel",
            data={"csrf": csrf(other, "/ops/o/bogor/broadcasts")},
        )
        assert missing.status_code == 404

        # The citizen's chat shows the announcement (the approved template).
        chat.locator(".msg.office", has_text=marker).wait_for(timeout=TIMEOUT_MS)  # type: ignore
        _keep(screenshot(chat, "broadcast-citizen-chat"))
        # The start is audited with who started it.
        page.goto(f"{stack.api_url}/ops/o/jakpus/audit")  # type: ignore[attr-defined]
        audit = page.content()  # type: ignore[attr-defined]
        assert "broadcast.start" in audit and "broadcast.cancel" in audit
    finally:
        produce(stack, [announcement("jakpus", "", "", number=2)])  # withdrawn
        httpx.put(f"{stack.graph_url}/__webhooks", json=config, timeout=10).raise_for_status()
