"""Closing the loop on misses (issue 11), through the running pipeline (webhook API, Kafka,
router, FAQ worker, Redis, sender, fake Graph API) and a real browser:

- a question the FAQ could not answer shows in `/ops`; the office lead attaches it to a topic
  from the misses list and publishes; the same question, and a paraphrase with typos of it,
  are then answered with that topic at that office, and another office answers as before;
  `gerbang ask --published` (reading content.published from Kafka) gives the same answer;
- an agent drafts a new office topic (title, answer, example questions); publishing is the
  lead's; after publish the pipeline answers it."""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
import uuid
from collections.abc import Callable

import pytest

from deploy.local.stack import Stack
from gerbang import cli
from tests.browser.conftest import DESKTOP, screenshot
from tests.browser.test_content import _sign_in
from tests.support.ops import csrf, staff
from tests.support.whatsapp import citizen, post, signed_text, text_of, wait_replies

pytestmark = pytest.mark.e2e

MISS = "apakah boleh pakai jilbab waktu foto paspor"
PARAPHRASE_WITH_TYPO = "apa boleh pake jilbab wkt foto pasport?"
REQUIREMENTS = "Syarat paspor baru"  # the requirements answer's title (national YAML)
WAIT_S = 30.0


def _answer(stack: Stack, code: str, text: str) -> str:
    wa_id = citizen()
    assert post(stack, *signed_text(code, wa_id, text)).status_code == 200
    return text_of(wait_replies(stack, wa_id, 1, settle=0.2)[0])


def _eventually(check: Callable[[], str], want: str) -> str:
    """Ask until the answer holds `want` (workers apply a publish within seconds)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = check()
        if want in answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def _ask_published(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> dict[str, str]:
    monkeypatch.setenv("GERBANG_KAFKA_BOOTSTRAP", stack.kafka_bootstrap)
    monkeypatch.setenv("GERBANG_TOPIC_PREFIX", stack.topic_prefix)
    capsys.readouterr()
    # Its own thread: Playwright's sync API keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        code = pool.submit(cli.main, ["ask", "--office", "jakpus", "--json", "--published", text])
        assert code.result() == 0
    answer: dict[str, str] = json.loads(capsys.readouterr().out)
    return answer


def test_attach_a_miss_from_the_list_and_publish(
    browser: object,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missed = _answer(stack, "jakpus", MISS)
    assert REQUIREMENTS not in missed
    batam_before = _answer(stack, "batam", MISS)

    page = _sign_in(browser, stack, "jakpus.lead", DESKTOP)
    page.goto(f"{stack.api_url}/ops/o/jakpus")  # type: ignore[attr-defined]
    row = page.locator("ul.misses li", has_text=MISS).first  # type: ignore[attr-defined]
    row.wait_for(timeout=WAIT_S * 1000)
    screenshot(page, "learn-misses-list")
    row.locator("a.learn").click()
    page.wait_for_url(re.compile(r"/ops/o/jakpus/learn/new"))  # type: ignore[attr-defined]
    assert page.inner_text("#miss-text") == MISS  # type: ignore[attr-defined]
    page.select_option("#topic", "requirements")  # type: ignore[attr-defined]
    page.fill("#attach_reason", "banyak yang tanya foto berjilbab")  # type: ignore[attr-defined]
    screenshot(page, "learn-attach-miss")
    page.click("#attach button[value=publish]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/ops/o/jakpus/learn\?n=published"))  # type: ignore[attr-defined]
    learnt = page.locator('[data-key="examples.requirements"]')  # type: ignore[attr-defined]
    assert MISS in learnt.inner_text() and "terbit" in learnt.inner_text()
    screenshot(page, "learn-attached-published")

    answered = _eventually(lambda: _answer(stack, "jakpus", MISS), REQUIREMENTS)
    assert REQUIREMENTS in answered, answered
    paraphrased = _answer(stack, "jakpus", PARAPHRASE_WITH_TYPO)
    assert REQUIREMENTS in paraphrased, paraphrased
    assert _answer(stack, "batam", MISS) == batam_before  # another office: unaffected

    offline = _ask_published(stack, monkeypatch, capsys, MISS)
    assert (offline["intent"], offline["topic"]) == ("faq:requirements", "requirements")
    assert offline["reply"].startswith(answered), (offline["reply"], answered)

    # Rollback in one click: the example is forgotten again.
    page.click('[data-key="examples.requirements"] form[action$="/rollback"] button')  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"n=rolled_back"))  # type: ignore[attr-defined]
    undone = _eventually(lambda: _answer(stack, "jakpus", MISS), "belum memahami")
    assert REQUIREMENTS not in undone
    page.goto(f"{stack.api_url}/ops/o/jakpus/audit")  # type: ignore[attr-defined]
    page.locator('tr[data-action="content.publish"]').first.wait_for(timeout=WAIT_S * 1000)  # type: ignore[attr-defined]


def test_a_new_office_topic_is_drafted_published_and_answered(stack: Stack) -> None:
    marker = uuid.uuid4().hex[:6]
    name = f"mpp_sabtu_{marker}"
    question = "apakah bisa bikin paspor di mal pelayanan publik hari sabtu"
    fields = {
        "name": name,
        "title_id": "Layanan MPP Sabtu",
        "title_en": "Saturday MPP",
        "text_id": f"Loket paspor Mal Pelayanan Publik buka *Sabtu 08.00–12.00* ({marker}).",
        "text_en": f"The Public Service Mall counter opens *Saturday 08:00–12:00* ({marker}).",
        "examples": f"{question}\nmpp buka hari sabtu?",
    }
    agent = staff(stack, "jakpus.agent")
    token = csrf(agent, "/ops/o/jakpus/learn")
    too_long = agent.post(
        "/ops/o/jakpus/learn/topic",
        data={**fields, "title_id": "x" * 30, "step": "draft", "csrf": token},
    )
    assert too_long.status_code == 422 and "title.id" in too_long.text  # the field named
    refused = agent.post(
        "/ops/o/jakpus/learn/topic", data={**fields, "step": "publish", "csrf": token}
    )
    assert refused.status_code == 403 and "Hanya kepala kantor" in refused.text
    drafted = agent.post(
        "/ops/o/jakpus/learn/topic", data={**fields, "step": "draft", "csrf": token}
    )
    assert drafted.status_code == 303
    assert marker not in _answer(stack, "jakpus", question)  # a draft is not live

    lead = staff(stack, "jakpus.lead")
    published = lead.post(
        f"/ops/o/jakpus/content/own.{name}/publish",
        data={"csrf": csrf(lead, "/ops/o/jakpus/learn")},
    )
    assert published.status_code == 303
    answered = _eventually(lambda: _answer(stack, "jakpus", question), marker)
    assert marker in answered and "Sabtu 08.00–12.00" in answered
    assert marker in _answer(
        stack, "jakpus", "bisa buat pasport di mall pelayanan publik hr sabtu ga"
    )
    assert marker not in _answer(stack, "batam", question)
