"""Runs Gerbang's processes natively (no Docker): used by `make run`, the e2e tests and
the benchmark. Every process is started by us, tracked by PID, and stopped by PID.

A `Stack` has a port base, so tests and a developer's `make run` do not collide:
    base+0 gateway api · base+1 fake Graph API · base+2 status api · base+3 feedback api
    base+11..15 worker health ports (router, sender, faq, status worker, feedback worker)
    base+16, +17 the second router and sender (`replicas=2`, chaos runs)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gerbang.settings import local_kafka_bootstrap

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ProcessSpec:
    """One process of the stack."""

    name: str
    module: list[str]
    ready_url: str | None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """Gerbang's processes on loopback, with one topic prefix and one Redis database."""

    port_base: int = 8080
    topic_prefix: str = ""
    redis_db: int = 0
    kafka_bootstrap: str = field(
        default_factory=lambda: os.environ.get("GERBANG_KAFKA_BOOTSTRAP") or local_kafka_bootstrap()
    )
    redis_port: int = field(
        default_factory=lambda: int(os.environ.get("GERBANG_REDIS_PORT", "6379"))
    )
    log_format: str = "console"
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)
    only: set[str] | None = None
    """Start only these process names (default: all)."""
    log_dir: Path | None = None
    """Write each process's output to <log_dir>/<name>.log instead of our stdout."""
    replicas: int = 1
    """Routers and senders to run (2: a second of each, `router-2` and `sender-2`)."""
    graph_latency_ms: float = 0.0
    """How long the fake Graph API takes to answer a send (Meta: ≈200 ms)."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        """Gateway API."""
        return f"http://127.0.0.1:{self.port_base}"

    @property
    def graph_url(self) -> str:
        """Fake Graph API."""
        return f"http://127.0.0.1:{self.port_base + 1}"

    @property
    def status_url(self) -> str:
        """Status back-office API."""
        return f"http://127.0.0.1:{self.port_base + 2}"

    @property
    def feedback_url(self) -> str:
        """Feedback API."""
        return f"http://127.0.0.1:{self.port_base + 3}"

    def env(self) -> dict[str, str]:
        """Environment shared by every process."""
        base = self.port_base
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "GERBANG_ENVIRONMENT": "development",
            "GERBANG_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "GERBANG_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/{self.redis_db}",
            "GERBANG_TOPIC_PREFIX": self.topic_prefix,
            "GERBANG_LOG_FORMAT": self.log_format,
            "GERBANG_LOG_LEVEL": self.log_level,
            "GERBANG_OFFICES_DIR": str(REPO / "offices"),
            "GERBANG_API_PORT": str(base),
            "GERBANG_GRAPH_BASE_URL": self.graph_url,
            "GERBANG_STATUS_API_URL": self.status_url,
            "GERBANG_FEEDBACK_API_URL": self.feedback_url,
            "GERBANG_ROUTER_HEALTH_PORT": str(base + 11),
            "GERBANG_SENDER_HEALTH_PORT": str(base + 12),
        }
        env.update(self.extra_env)
        return env

    def _fake_graph_args(self) -> list[str]:
        return [
            "--host", "127.0.0.1", "--port", str(self.port_base + 1),
            # Like Meta: a signed status webhook back to the gateway for every send.
            "--status-webhook-url", f"{self.api_url}/webhook/whatsapp",
            "--latency-ms", str(self.graph_latency_ms),
        ]  # fmt: skip

    def specs(self) -> list[ProcessSpec]:
        """Every process, in start order."""
        base = self.port_base
        py = [sys.executable, "-m"]
        specs = [
            ProcessSpec(
                "fake-graph",
                [*py, "gerbang_devtools.fake_graph", *self._fake_graph_args()],
                f"{self.graph_url}/__stats",
            ),
            ProcessSpec("api", [*py, "gerbang_gateway", "api"], f"{self.api_url}/readyz"),
            ProcessSpec(
                "router", [*py, "gerbang_gateway", "router"], f"http://127.0.0.1:{base + 11}/readyz"
            ),
            ProcessSpec(
                "sender", [*py, "gerbang_gateway", "sender"], f"http://127.0.0.1:{base + 12}/readyz"
            ),
            ProcessSpec(
                "faq",
                [*py, "gerbang_faq"],
                f"http://127.0.0.1:{base + 13}/readyz",
                {"GERBANG_HEALTH_PORT": str(base + 13)},
            ),
            ProcessSpec(
                "status-api",
                [*py, "gerbang_status", "api"],
                f"{self.status_url}/readyz",
                {"GERBANG_API_PORT": str(base + 2)},
            ),
            ProcessSpec(
                "status",
                [*py, "gerbang_status", "worker"],
                f"http://127.0.0.1:{base + 14}/readyz",
                {"GERBANG_HEALTH_PORT": str(base + 14)},
            ),
            ProcessSpec(
                "feedback-api",
                [*py, "gerbang_feedback", "api"],
                f"{self.feedback_url}/readyz",
                {"GERBANG_API_PORT": str(base + 3)},
            ),
            ProcessSpec(
                "feedback",
                [*py, "gerbang_feedback", "worker"],
                f"http://127.0.0.1:{base + 15}/readyz",
                {"GERBANG_HEALTH_PORT": str(base + 15)},
            ),
        ]
        if self.replicas >= 2:
            specs += [
                ProcessSpec(
                    "router-2",
                    [*py, "gerbang_gateway", "router"],
                    f"http://127.0.0.1:{base + 16}/readyz",
                    {"GERBANG_ROUTER_HEALTH_PORT": str(base + 16)},
                ),
                ProcessSpec(
                    "sender-2",
                    [*py, "gerbang_gateway", "sender"],
                    f"http://127.0.0.1:{base + 17}/readyz",
                    {"GERBANG_SENDER_HEALTH_PORT": str(base + 17)},
                ),
            ]
        wanted = self.only
        return [s for s in specs if wanted is None or s.name.removesuffix("-2") in wanted]

    def start(self, timeout: float = 90.0) -> None:
        """Start every process and wait until each is ready (or raise with its log)."""
        env = self.env()
        for spec in self.specs():
            self.start_one(spec, env)
        deadline = time.monotonic() + timeout
        for spec in self.specs():
            self.wait_ready(spec, deadline)

    def start_one(self, spec: ProcessSpec, env: dict[str, str] | None = None) -> None:
        """Start one process (not waiting for readiness)."""
        full_env = {**(env or self.env()), **spec.env}
        out: int | IO[bytes]
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{spec.name}.log").open("ab")
        else:
            out = subprocess.PIPE
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            spec.module,
            env=full_env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[spec.name] = proc
        if out is subprocess.PIPE:
            thread = threading.Thread(target=_pump, args=(spec.name, proc), daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, spec: ProcessSpec, deadline: float) -> None:
        """Poll the process's readiness URL until 200, it exits, or the deadline passes."""
        if spec.ready_url is None:
            return
        proc = self.processes[spec.name]
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{spec.name} exited with {proc.returncode} during start-up"
                    f"{self._log_hint(spec.name)}"
                )
            try:
                with urllib.request.urlopen(spec.ready_url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{spec.name} not ready at {spec.ready_url}{self._log_hint(spec.name)}"
                )
            time.sleep(0.2)

    def _log_hint(self, name: str) -> str:
        if self.log_dir is None:
            return ""
        path = self.log_dir / f"{name}.log"
        tail = path.read_text(errors="replace").splitlines()[-30:] if path.exists() else []
        return f"; last lines of {path}:\n" + "\n".join(tail)

    def stop_one(self, name: str, timeout: float = 15.0) -> None:
        """SIGTERM one process (by PID), then SIGKILL it if it does not exit in time."""
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill_one(self, name: str) -> None:
        """SIGKILL one process (simulates a crash)."""
        proc = self.processes.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def restart_one(self, name: str, timeout: float = 60.0) -> None:
        """Stop and start one process, waiting for readiness."""
        self.stop_one(name)
        spec = next(s for s in self.specs() if s.name == name)
        self.start_one(spec)
        self.wait_ready(spec, time.monotonic() + timeout)

    def stop(self) -> None:
        """Stop everything we started, in reverse order."""
        for name in reversed(list(self.processes)):
            with contextlib.suppress(ProcessLookupError):
                self.stop_one(name)

    def pids(self) -> dict[str, int]:
        """PIDs of the running processes."""
        return {name: proc.pid for name, proc in self.processes.items()}

    @contextlib.contextmanager
    def running(self, timeout: float = 90.0) -> Iterator[Stack]:
        """Start, yield, stop."""
        try:
            self.start(timeout)
            yield self
        finally:
            self.stop()


_COLORS = ["36", "32", "33", "35", "34", "31", "96", "92", "93"]


def _pump(name: str, proc: subprocess.Popen[bytes]) -> None:
    color = _COLORS[hash(name) % len(_COLORS)]
    prefix = f"\x1b[{color}m{name:>12}\x1b[0m │ " if sys.stdout.isatty() else f"{name:>12} │ "
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        sys.stdout.write(prefix + raw.decode("utf-8", errors="replace"))
        sys.stdout.flush()
