"""Settings defaults that point at local infrastructure."""

from __future__ import annotations

import pytest

from gerbang.settings import ServiceSettings


def test_the_default_broker_follows_the_local_kafka_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process started outside `make` with its own GERBANG_KAFKA_PORT reaches its own
    broker, not whichever runs on 9092; an explicit bootstrap still wins."""
    monkeypatch.delenv("GERBANG_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("GERBANG_KAFKA_PORT", raising=False)
    assert ServiceSettings().kafka_bootstrap == "127.0.0.1:9092"
    monkeypatch.setenv("GERBANG_KAFKA_PORT", "9292")
    assert ServiceSettings().kafka_bootstrap == "127.0.0.1:9292"
    monkeypatch.setenv("GERBANG_KAFKA_BOOTSTRAP", "127.0.0.1:9392,127.0.0.1:9394")
    assert ServiceSettings().kafka_bootstrap == "127.0.0.1:9392,127.0.0.1:9394"


def test_the_default_redis_follows_the_local_redis_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GERBANG_REDIS_URL", raising=False)
    monkeypatch.setenv("GERBANG_REDIS_PORT", "6579")
    assert ServiceSettings().redis_url == "redis://127.0.0.1:6579/0"
