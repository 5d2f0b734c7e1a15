"""Browser tests: headless Debian Chromium driven by Playwright against the running stack.

`deploy/local/ensure-chromium.sh` installs /usr/bin/chromium (`make test` calls it); we never
run `playwright install`. The stack is every Gerbang process that exists on this branch, on a
fresh topic prefix and free ports (tests/e2e/conftest.py's `start_stack`); a test that needs a
process that is missing fails and says which.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import Stack
from tests.e2e.conftest import ARTIFACTS, start_stack, stop_stack

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GERBANG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _runnable(spec_module: list[str]) -> bool:
    """Whether `python -m <package>` exists on this branch."""
    module = spec_module[2]
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations is None:  # a plain module: `python -m` runs it
        return True
    return importlib.util.find_spec(f"{module}.__main__") is not None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed by deploy/local/ensure-chromium.sh if missing."""
    if not Path(CHROMIUM).exists():
        script = REPO / "deploy" / "local" / "ensure-chromium.sh"
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
        if result.returncode != 0 or not Path(CHROMIUM).exists():
            pytest.fail(f"Chromium is not installed at {CHROMIUM}: {result.stderr.strip()}")
    return CHROMIUM


@pytest.fixture(scope="package")
def stack(kafka_bootstrap: str) -> Iterator[Stack]:
    """Every process of this branch (status/feedback only once their services exist)."""
    available = {spec.name for spec in Stack().specs() if _runnable(spec.module)}
    running = start_stack(kafka_bootstrap, only=available)
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="package")
def browser(chromium_path: str, stack: Stack) -> Iterator[object]:
    """One headless Chromium for the browser tests.

    Depends on `stack` so that the stack starts first: Playwright's sync API keeps an event
    loop running in this thread, where `asyncio.run` is refused (see `run_sync`). Package
    scope, not session: that loop must be gone before the async tests of the other packages
    (pytest-asyncio's runner refuses to start inside a running loop).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def require_process(stack: Stack, name: str) -> None:
    """Fail (never skip) when a process the test needs is not part of this branch."""
    if name not in stack.processes:
        pytest.fail(
            f"{name} is not running: its service has no `python -m` entry point on this branch "
            f"yet (started: {sorted(stack.processes)})"
        )


def open_chat(browser: object, stack: Stack, code: str, viewport: dict[str, int]) -> object:
    """The simulator, as a new citizen writing to office `code`'s number."""
    from tests.support.whatsapp import citizen

    context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{stack.api_url}/simulator")
    page.select_option("#office", code)
    wa_id = citizen()
    page.fill("#citizen", wa_id)
    # The page reads where the citizen's replies start (a fetch) before it polls: a message
    # typed before that answer lands could have its reply counted as already seen (under load).
    with page.expect_response(
        lambda r: (
            "/simulator/replies" in r.url and f"wa_id={wa_id}" in r.url and "since" not in r.url
        )
    ):
        page.dispatch_event("#citizen", "change")
    page.wait_for_function("document.querySelector('#chat-title').textContent.length > 0")
    return page
