"""The webhook API in-process against the real Kafka and Redis (issue 2, item 3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gerbang.messages import DeliveryEvent, InboundMessage, UnroutedPayload
from gerbang.offices import DEV_SECRET
from gerbang.settings import ServiceSettings
from gerbang_gateway.api import create_app
from gerbang_gateway.settings import GatewaySettings
from gerbang_gateway.signature import sign
from tests.support.kafka import read_topic
from tests.support.whatsapp import signed_text

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def gateway_settings(settings: ServiceSettings, **overrides: object) -> GatewaySettings:
    values = {
        "kafka_bootstrap": settings.kafka_bootstrap,
        "redis_url": settings.redis_url,
        "topic_prefix": settings.topic_prefix,
        "offices_dir": settings.offices_dir,
        "produce_timeout_s": 5.0,
        "max_body_bytes": 64 * 1024,
        **overrides,
    }
    return GatewaySettings(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def client_for(
    redis_db: Redis,
) -> AsyncIterator:  # type: ignore[type-arg]
    """Build an in-process client for given settings (lifespan run, real Kafka/Redis)."""
    stack = []

    async def build(settings: GatewaySettings) -> httpx.AsyncClient:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        )
        stack.append((lifespan, client))
        return client

    yield build
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


def signed(body: bytes, secret: str = DEV_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}


async def test_handshake_echoes_challenge_only_with_the_right_token(
    settings: ServiceSettings, client_for
) -> None:
    client = await client_for(gateway_settings(settings))
    ok = await client.get(
        "/webhook/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": DEV_SECRET,
            "hub.challenge": "1158201444",
        },
    )
    bad = await client.get(
        "/webhook/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert bad.status_code == 403


async def test_text_is_produced_once_with_conversation_key(
    settings: ServiceSettings, client_for
) -> None:
    client = await client_for(gateway_settings(settings))
    body = fixture("text_non_ascii")
    first = await client.post("/webhook/whatsapp", content=body, headers=signed(body))
    again = await client.post("/webhook/whatsapp", content=body, headers=signed(body))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert again.status_code == 200 and again.json() == {
        "accepted": 0,
        "duplicates": 1,
        "unrouted": 0,
        "ignored": 0,
    }
    records = await read_topic(settings, "whatsapp.inbound", expect=1)
    assert len(records) == 1
    message = InboundMessage.model_validate_json(records[0].value)
    assert records[0].key.decode() == f"{message.office}:{message.wa_id}"
    assert message.office == "jakpus"
    assert "🙏" in (message.text or "")


async def test_statuses_go_to_events_and_unknown_numbers_to_unrouted(
    settings: ServiceSettings, client_for
) -> None:
    client = await client_for(gateway_settings(settings))
    for name in ("status_failed_131047", "unknown_phone_number_id"):
        body = fixture(name)
        response = await client.post("/webhook/whatsapp", content=body, headers=signed(body))
        assert response.status_code == 200, response.text
    events = await read_topic(settings, "whatsapp.events", expect=1)
    event = DeliveryEvent.model_validate_json(events[0].value)
    assert event.status == "failed" and event.errors[0].code == 131047
    unrouted = await read_topic(settings, "whatsapp.unrouted", expect=1)
    kept = UnroutedPayload.model_validate_json(unrouted[0].value)
    assert kept.reason == "unknown phone_number_id"
    assert kept.payload["messages"], "the unrouted payload keeps the message itself"


async def test_a_text_too_large_for_kafka_is_acknowledged_and_kept_aside(
    settings: ServiceSettings, client_for
) -> None:
    """A signed 1.1 MB text (under the 4 MiB body cap, over Kafka's 1 MiB record): 200, kept
    on whatsapp.unrouted trimmed with its size and hash, and the conversation goes on. Before,
    the producer's size error was answered 503 for ever (Meta redelivers for 7 days)."""
    client = await client_for(gateway_settings(settings, max_body_bytes=4 * 1024 * 1024))
    text = "paspor " * 160_000  # 1.12 MB
    body, headers = signed_text("jakpus", "6281255500001", text, "wamid.huge")
    assert settings.kafka_max_message_bytes < len(body) < 4 * 1024 * 1024
    first = await client.post("/webhook/whatsapp", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 0, "duplicates": 0, "unrouted": 1, "ignored": 0}

    [record] = await read_topic(settings, "whatsapp.unrouted", expect=1)
    assert len(record.value) < 16 * 1024
    kept = UnroutedPayload.model_validate_json(record.value)
    assert kept.reason == "too large for the bus"
    assert kept.payload["message_id"] == "wamid.huge" and kept.payload["office"] == "jakpus"
    assert kept.payload["text_chars"] == len(text)
    assert kept.payload["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert kept.payload["text_excerpt"] == text[:2000]
    assert await read_topic(settings, "whatsapp.inbound") == []

    # The citizen's next, ordinary message is routed as usual.
    small, small_headers = signed_text("jakpus", "6281255500001", "syarat paspor?", "wamid.ok")
    after = await client.post("/webhook/whatsapp", content=small, headers=small_headers)
    assert after.status_code == 200 and after.json()["accepted"] == 1
    [routed] = await read_topic(settings, "whatsapp.inbound", expect=1)
    assert InboundMessage.model_validate_json(routed.value).message_id == "wamid.ok"


async def test_bad_input_gets_clear_errors_and_produces_nothing(
    settings: ServiceSettings, client_for
) -> None:
    client = await client_for(gateway_settings(settings))
    body = fixture("text")
    unsigned = await client.post(
        "/webhook/whatsapp", content=body, headers={"Content-Type": "application/json"}
    )
    wrong = await client.post("/webhook/whatsapp", content=body, headers=signed(body, "other"))
    garbage = b'{"object": "whatsapp_business_account", "entry": '
    malformed = await client.post("/webhook/whatsapp", content=garbage, headers=signed(garbage))
    huge = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * 70_000 + b'"}'
    too_large = await client.post("/webhook/whatsapp", content=huge, headers=signed(huge))
    assert [r.status_code for r in (unsigned, wrong, malformed, too_large)] == [401, 401, 400, 413]
    assert malformed.json()["error"] == "malformed_webhook"
    assert await read_topic(settings, "whatsapp.inbound", timeout=3) == []


async def test_redis_down_answers_503_and_loses_nothing(
    settings: ServiceSettings, client_for
) -> None:
    down = await client_for(gateway_settings(settings, redis_url="redis://127.0.0.1:1/0"))
    body = fixture("text")
    response = await down.post("/webhook/whatsapp", content=body, headers=signed(body))
    assert response.status_code == 503
    assert await read_topic(settings, "whatsapp.inbound", timeout=3) == []
    # Meta redelivers; with Redis back the message goes through exactly once.
    up = await client_for(gateway_settings(settings))
    again = await up.post("/webhook/whatsapp", content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["accepted"] == 1
    assert len(await read_topic(settings, "whatsapp.inbound", expect=1)) == 1


async def test_readiness_reports_dependencies(settings: ServiceSettings, client_for) -> None:
    good = await client_for(gateway_settings(settings))
    bad = await client_for(gateway_settings(settings, redis_url="redis://127.0.0.1:1/0"))
    ready = await good.get("/readyz")
    not_ready = await bad.get("/readyz")
    assert ready.status_code == 200 and json.loads(ready.text)["kafka"] is True
    assert not_ready.status_code == 503 and not_ready.json()["redis"] is False
