"""The status service on the real Kafka broker and Redis: API → topic → view → conversation."""

from __future__ import annotations

import random

import pytest
from gerbang.bus import Producer
from gerbang.messages import OutboundReply, Topic
from gerbang.offices import OfficeRegistry
from gerbang_status.conversation import OPTIN_PREFIX
from gerbang_status.settings import StatusSettings

from .integration_support import (
    Citizen,
    TopicReader,
    api_client,
    api_headers,
    create,
    running_worker,
    updates_on_topic,
)

pytestmark = pytest.mark.integration


def new_wa_id() -> str:
    return f"62857{random.randrange(10**8):08d}"


@pytest.fixture
async def outbound(status_settings: StatusSettings):  # type: ignore[no-untyped-def]
    reader = TopicReader(status_settings, Topic.OUTBOUND, OutboundReply)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture
async def citizen_producer(status_settings: StatusSettings):  # type: ignore[no-untyped-def]
    producer = Producer(status_settings, "test-router")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def citizen(registry: OfficeRegistry, citizen_producer: Producer, outbound: TopicReader):  # type: ignore[no-untyped-def]
    def make(office: str = "jakpus", wa_id: str | None = None, language: str = "id") -> Citizen:
        return Citizen(office, wa_id or new_wa_id(), citizen_producer, outbound, registry,
                       language=language)  # fmt: skip

    return make


async def test_created_via_api_then_answered(status_settings, registry, redis3, citizen) -> None:
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        created = await create(client, "jakpus", "1234-5678-90123", stage="ready_for_pickup")
        assert created["result"] == "created" and created["record"]["version"] == 1

        got = await client.get("/v1/applications/1234567890123", headers=api_headers("jakpus"))
        assert got.status_code == 200 and got.json()["record"]["stage"] == "ready_for_pickup"
        assert (await client.get("/v1/applications/1234567890123")).status_code == 401
        other = await client.get("/v1/applications/1234567890123", headers=api_headers("bogor"))
        assert other.status_code == 403
        missing = await client.get("/v1/applications/999999999", headers=api_headers("jakpus"))
        assert missing.status_code == 404

        applicant = citizen("jakpus")
        asked = await applicant.say("cek status")
        assert "nomor permohonan" in asked and applicant.expected
        assert "tanggal lahir" in await applicant.say("1234567890123")
        reply = await applicant.last_reply("12 mei 90")
        assert reply.content.type == "buttons"
        assert "Siap diambil" in reply.content.body and "30 hari" in reply.content.body
        assert reply.content.buttons[0].id == f"{OPTIN_PREFIX}1234567890123"

        # One message with both, in English.
        english = citizen("jakpus", language="en")
        assert "Ready for pickup" in await english.say("application 1234567890123 born 12 May 1990")

        # The update is on the compacted topic, keyed by the application number.
        [record] = await updates_on_topic(status_settings)
        assert record.application_no == "1234567890123" and record.office == "jakpus"


async def test_validation_errors_name_the_field(status_settings, registry, redis3) -> None:
    async with api_client(status_settings, registry) as client:
        headers = api_headers("jakpus")
        bad_date = await client.post("/v1/applications", headers=headers, json={
            "application_no": "1234567", "stage": "paid", "date_of_birth": "31-02-1990",
            "applicant_name": "A"})  # fmt: skip
        assert bad_date.status_code == 422 and bad_date.json()["field"] == "date_of_birth"
        bad_stage = await client.post("/v1/applications", headers=headers, json={
            "application_no": "1234567", "stage": "lost"})  # fmt: skip
        assert bad_stage.status_code == 422 and "stage" in bad_stage.json()["detail"]
        no_dob = await client.post("/v1/applications", headers=headers, json={
            "application_no": "1234567", "stage": "paid"})  # fmt: skip
        assert no_dob.status_code == 422 and "date_of_birth" in no_dob.json()["detail"]
        wrong_key = await client.post("/v1/applications", headers={"X-API-Key": "nope"}, json={})
        assert wrong_key.status_code == 401
    assert await updates_on_topic(status_settings) == []
