"""`FakeGraphServer`: the fake WhatsApp Graph API as a real server in a subprocess.

Usage (sync or async tests alike; control calls are quick loopback requests):

    with FakeGraphServer() as graph:            # free loopback port, waits until ready
        settings.graph_base_url = graph.url     # e.g. http://127.0.0.1:40123
        graph.fail(130429, count=2)             # the next two sends fail with 130429
        ...
        sent = graph.wait_for_sent(1, to="6281234567890")
        graph.clear()

Or as a pytest fixture: `from tests.support.fake_graph import fake_graph_server` in a
conftest.py (session scope; state is cleared before each use of `fake_graph`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

READY_LINE_PREFIX = "fake graph listening on "  # gerbang_devtools.fake_graph.READY_LINE_PREFIX


class FakeGraphServer:
    """Runs `python -m gerbang_devtools.fake_graph` on 127.0.0.1 and drives its control API."""

    def __init__(
        self,
        *,
        port: int = 0,
        max_records: int | None = None,
        latency_ms: float | None = None,
        startup_timeout: float = 20.0,
        python: str = sys.executable,
    ) -> None:
        self.port = port
        self.max_records = max_records
        self.latency_ms = latency_ms
        self.startup_timeout = startup_timeout
        self.python = python
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._http: httpx.Client | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGraphServer:
        """Start the subprocess and wait (bounded) until it answers `/healthz`."""
        if self._process is not None:
            raise RuntimeError("FakeGraphServer already started")
        command = [
            self.python, "-m", "gerbang_devtools.fake_graph",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        if self.max_records is not None:
            command += ["--max-records", str(self.max_records)]
        if self.latency_ms is not None:
            command += ["--latency-ms", str(self.latency_ms)]
        # Output goes to a file, not a pipe: nobody drains a pipe, and a full pipe would
        # freeze the server. The file also explains a failed start.
        self._log = tempfile.NamedTemporaryFile(  # closed in stop()
            prefix="fake-graph-", suffix=".log", delete=False
        )
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        try:
            self.url = self._wait_for_url()
            self._http = httpx.Client(base_url=self.url, timeout=10.0)
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + self.startup_timeout
        path = Path(self._log.name)
        while time.monotonic() < deadline:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(READY_LINE_PREFIX):
                    return line[len(READY_LINE_PREFIX) :].strip()
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"fake graph exited at start:\n{self.log_text()}")
            time.sleep(0.05)
        raise TimeoutError(
            f"fake graph did not start in {self.startup_timeout}s:\n{self.log_text()}"
        )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # bound but not serving yet: try again until the deadline
            if time.monotonic() >= deadline:
                raise TimeoutError(f"fake graph not healthy in time:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its log."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=5)
            self._process = None
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> FakeGraphServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_text(self) -> str:
        """What the server printed so far (for failure messages)."""
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")

    @property
    def http(self) -> httpx.Client:
        """A sync client on the server's base URL."""
        if self._http is None:
            raise RuntimeError("FakeGraphServer is not running")
        return self._http

    # --- control API ----------------------------------------------------------------------

    def sent(
        self,
        *,
        phone_number_id: str | None = None,
        to: str | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """Accepted sends, oldest first (each with index, to, payload, wamid, received_at…)."""
        params = {"phone_number_id": phone_number_id, "to": to, "since": since}
        response = self.http.get(
            "/__sent", params={k: v for k, v in params.items() if v is not None}
        )
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return records

    def wait_for_sent(
        self, count: int, *, timeout: float = 10.0, interval: float = 0.05, **filters: Any
    ) -> list[dict[str, Any]]:
        """Poll until at least `count` matching sends are recorded; return them."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.sent(**filters)
            if len(records) >= count:
                return records
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {count} sends matching {filters}, got {len(records)}: {records}"
                )
            time.sleep(interval)

    def reads(self, *, phone_number_id: str | None = None) -> list[dict[str, Any]]:
        """Read receipts / typing indicators received."""
        params = {"phone_number_id": phone_number_id} if phone_number_id else {}
        response = self.http.get("/__reads", params=params)
        response.raise_for_status()
        reads: list[dict[str, Any]] = response.json()
        return reads

    def stats(self) -> dict[str, Any]:
        """Counts: sent, failed, reads, by_status, by_code."""
        response = self.http.get("/__stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def clear(self) -> None:
        """Forget recorded sends and reads, reset stats, and drop failure rules."""
        self.http.delete("/__sent").raise_for_status()
        self.clear_failures()

    def fail(
        self,
        code: int | None = 130429,
        *,
        http_status: int | None = None,
        count: int | None = None,
        seconds: float | None = None,
        phone_number_id: str | None = None,
        to: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
        details: str | None = None,
        raw_body: str | None = None,
        mode: str = "fail",
        hold_s: float = 30.0,
    ) -> dict[str, Any]:
        """Queue a failure rule (see gerbang_devtools.fake_graph.FailureRule); returns it.
        `mode`: fail, hold (accept, answer after `hold_s`) or accept_then_fail."""
        rule = {
            "mode": mode,
            "hold_s": hold_s,
            "code": code,
            "http_status": http_status,
            "count": count,
            "seconds": seconds,
            "phone_number_id": phone_number_id,
            "to": to,
            "retry_after": retry_after,
            "message": message,
            "details": details,
            "raw_body": raw_body,
        }
        response = self.http.post("/__fail", json=rule)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def clear_failures(self) -> None:
        """Drop every queued failure rule."""
        self.http.delete("/__fail").raise_for_status()

    def status_webhooks(
        self, url: str | None, *, delay_ms: float = 100.0, drop: bool = False
    ) -> dict[str, Any]:
        """Post a `sent` status webhook (signed, with the callback data) to `url` after each
        accepted send, as Meta does; `drop` loses them; `url=None` stops posting."""
        config = {"url": url, "delay_ms": delay_ms, "drop": drop}
        response = self.http.put("/__webhooks", json=config)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(scope="session")
def fake_graph_server() -> Iterator[FakeGraphServer]:
    """One fake Graph API server for the whole session."""
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def fake_graph(fake_graph_server: FakeGraphServer) -> FakeGraphServer:
    """The session's fake Graph API, with records and failure rules cleared."""
    fake_graph_server.clear()
    return fake_graph_server
