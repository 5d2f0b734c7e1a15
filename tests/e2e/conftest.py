"""The whole pipeline as separate processes (gateway api, router, sender, workers, fake Graph
API) on a fresh topic prefix, a free port range and Redis database 5."""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import Stack
from gerbang.settings import ServiceSettings
from gerbang.topics import delete_topics, ensure_topics
from tests.support.aio import run_sync

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CORE = {"fake-graph", "api", "router", "sender", "faq"}


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; a default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port_base(span: int = 16) -> int:
    """A port base whose next `span` ports are free on 127.0.0.1.

    Chosen below the ephemeral range: a port in it that is free now can be taken a moment
    later as the local port of some client's connection (Kafka, Redis, HTTP), and a service
    started there then fails with "address already in use" (seen in CI).
    """
    low, _ = ephemeral_ports()
    ceiling = max(low - span, 12_000)
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10_000, ceiling)
        ok = True
        for port in range(base, base + span):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range on 127.0.0.1")


def start_stack(kafka_bootstrap: str, only: set[str] | None = None, **extra_env: str) -> Stack:
    """A running stack with its own topics; the caller stops it."""
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    run_sync(ensure_topics(ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix)))
    stack = Stack(
        port_base=free_port_base(),
        topic_prefix=prefix,
        redis_db=5,
        kafka_bootstrap=kafka_bootstrap,
        log_format="json",
        log_dir=ARTIFACTS / "logs" / prefix.rstrip("."),
        only=only,
        extra_env={"GERBANG_SEND_BACKOFF_CAP_S": "2", **extra_env},
    )
    try:
        stack.start(timeout=120)
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    """Stop the stack's processes, then delete its topics (the broker stays lean)."""
    stack.stop()
    run_sync(
        delete_topics(
            ServiceSettings(kafka_bootstrap=stack.kafka_bootstrap, topic_prefix=stack.topic_prefix)
        )
    )


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str) -> Iterator[Stack]:
    """Every Gerbang process, shared by the tests of one module."""
    stack = start_stack(kafka_bootstrap, only=CORE if os.environ.get("GERBANG_E2E_CORE") else None)
    try:
        yield stack
    finally:
        stop_stack(stack)
