"""The status service on the real Kafka broker and Redis: API → topic → view → conversation."""

from __future__ import annotations

import random

import pytest

from gerbang.bus import Producer
from gerbang.messages import OutboundReply, Topic
from gerbang.offices import OfficeRegistry
from gerbang_status.conversation import OPTIN_PREFIX, neutral_text
from gerbang_status.settings import StatusSettings

from .integration_support import (
    Citizen,
    TopicReader,
    api_client,
    api_headers,
    create,
    eventually,
    group_caught_up,
    running_worker,
    updates_on_topic,
)

pytestmark = pytest.mark.integration


def new_wa_id() -> str:
    return f"62857{random.randrange(10**8):08d}"


def _neutral(registry: OfficeRegistry) -> str:
    """The one answer for an unknown number or a wrong date of birth (catalogue text)."""
    return neutral_text("id", registry.get("jakpus"), registry)


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
        # Another office's application: the very answer a missing one gets (no existence leak).
        other = await client.get("/v1/applications/1234567890123", headers=api_headers("bogor"))
        missing = await client.get("/v1/applications/1234567890124", headers=api_headers("bogor"))
        assert other.status_code == missing.status_code == 404
        assert other.json()["error"] == missing.json()["error"] == "not_found"
        assert (
            other.json()["detail"].replace("1234567890123", "1234567890124")
            == missing.json()["detail"]
        )
        assert "another office" not in other.text and "jakpus" not in other.text

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


async def test_view_rebuilt_after_redis_flush_gives_same_answers(
    status_settings, registry, redis3, citizen
) -> None:
    questions = [
        "1000000000001 12-05-1990",  # jakpus, found
        "1000000000002 1 Jan 2001",  # jakpus, updated twice
        "BGR0000003 12/5/90",  # bogor: pointer
        "1000000000001 13-05-1990",  # wrong date of birth
        "9999999999999 12-05-1990",  # unknown
    ]
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", "1000000000001", stage="paid")
        await create(
            client, "jakpus", "1000000000002", stage="submitted", date_of_birth="2001-01-01"
        )
        await create(client, "jakpus", "1000000000002", stage="approved", date_of_birth="1-1-2001")
        await create(client, "jakpus", "1000000000002", stage="printed", date_of_birth="2001-01-01")
        await create(client, "bogor", "BGR0000003", stage="printed")
        before = [await citizen("jakpus").say(q) for q in questions]
        assert "Pembayaran diterima" in before[0] and "Paspor sudah dicetak" in before[1]

        await redis3.flushdb()
        assert await redis3.dbsize() == 0
        # The worker notices the missing marker and replays the compacted topic.
        await eventually(
            lambda: redis3.exists(f"{status_settings.topic_prefix}gerbang:status:view:ready")
        )
        after = [await citizen("jakpus").say(q) for q in questions]
        assert after == before
        got = await client.get("/v1/applications/1000000000002", headers=api_headers("jakpus"))
        assert got.json()["record"]["version"] == 3

        # A write after the rebuild continues the version sequence.
        updated = await create(
            client, "jakpus", "1000000000002", stage="ready_for_pickup", date_of_birth="2001-01-01"
        )
        assert updated["record"]["version"] == 4


async def test_lookups_wait_for_the_rebuild_when_redis_was_flushed_while_down(
    status_settings, registry, redis3, citizen
) -> None:
    """Flushed before the worker starts: the first lookup is answered from the rebuilt view."""
    async with api_client(status_settings, registry) as client:
        await create(client, "jakpus", "1000000000001", stage="approved")
    await redis3.flushdb()
    async with running_worker(status_settings, registry, redis3):
        assert "Disetujui" in await citizen("jakpus").say("1000000000001 12-05-1990")


async def test_1000_wrong_guesses_lock_after_n_and_reveal_nothing(
    status_settings, registry, redis3, citizen
) -> None:
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", "1000000000001", stage="ready_for_pickup")
        guesser = citizen("jakpus")
        requests = []
        for i in range(1000):
            # Half wrong birth dates of a real application, half unknown numbers.
            text = (f"1000000000001 {1 + i % 28:02d}-01-1980" if i % 2 == 0
                    else f"{2000000000000 + i} 12-05-1990")  # fmt: skip
            requests.append(await guesser.send(text))
        answers = []
        for request in requests:
            [reply] = await guesser.replies_to(request, wait_s=120)
            answers.append(reply.content.body)
        n = status_settings.max_failures_per_wa_id
        assert answers[: n - 1] == [_neutral(registry)] * (n - 1)
        assert all("terlalu banyak percobaan" in a for a in answers[n - 1 :])
        assert {a.split("setelah")[0] for a in answers[n - 1 :]} == {
            answers[n - 1].split("setelah")[0]
        }
        for answer in answers:
            assert "Siap diambil" not in answer and "Siti" not in answer and "Bogor" not in answer

        # Locked: even the correct pair is not answered for this wa_id ...
        assert "terlalu banyak percobaan" in await guesser.say("1000000000001 12-05-1990")
        # ... while the applicant, on another phone, still gets the status.
        assert "Siap diambil" in await citizen("jakpus").say("1000000000001 12-05-1990")
        lookups = _metric("gerbang_status_lookups_total", office="jakpus", outcome="locked")
        assert lookups >= 1000 - n


async def test_owner_still_gets_their_status_after_strangers_wrong_guesses(
    status_settings, registry, redis3, citizen
) -> None:
    """Strangers who know the number cannot lock its owner out: many phones guessing one
    application only guard it (the number on file is answered, others slowed to one lookup
    a minute), while a phone that keeps guessing locks itself."""
    owner_wa_id = new_wa_id()
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", "1000000000001", stage="printed", wa_id=owner_wa_id)
        limit = status_settings.max_failures_per_application
        for day in range(1, limit + 1):  # `limit` strangers, one wrong date each
            assert await citizen("jakpus").say(f"1000000000001 {day:02d}-02-1970") == (
                _neutral(registry)
            )
        # The owner, on the number the office recorded, gets the status, and again.
        owner = citizen("jakpus", wa_id=owner_wa_id)
        for _ in range(3):
            assert "dicetak" in await owner.say("1000000000001 12-05-1990")
        # Strangers share one turn a minute now: the first has it, the next is slowed down
        # (minutes, not the hour a lock lasts), even with the right pair.
        assert await citizen("jakpus").say("1000000000001 01-03-1970") == _neutral(registry)
        slowed = await citizen("jakpus").say("1000000000001 12-05-1990")
        assert "terlalu banyak percobaan" in slowed and "dicetak" not in slowed
        turn_ttl = await redis3.ttl(
            f"{status_settings.topic_prefix}gerbang:status:turn:app:1000000000001"
        )
        assert 0 < turn_ttl <= status_settings.guarded_retry_s < status_settings.lock_s
        # A phone that keeps guessing locks itself, not the application.
        guesser = citizen("jakpus")
        answers = [await guesser.say(f"2000000000{i:03d} 12-05-1990") for i in range(6)]
        n = status_settings.max_failures_per_wa_id
        assert "terlalu banyak percobaan" in answers[n - 1] and "terlalu banyak" in answers[n]
        assert "dicetak" in await owner.say("1000000000001 12-05-1990")


async def test_guesses_from_the_number_on_file_do_not_guard_the_application(
    status_settings, registry, redis3, citizen
) -> None:
    owner_wa_id = new_wa_id()
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", "1000000000001", stage="printed", wa_id=owner_wa_id)
        owner = citizen("jakpus", wa_id=owner_wa_id)
        for day in range(1, status_settings.max_failures_per_wa_id):  # just under its limit
            assert await owner.say(f"1000000000001 {day:02d}-02-1970") == _neutral(registry)
        assert not await redis3.exists(
            f"{status_settings.topic_prefix}gerbang:status:guard:app:1000000000001"
        )
        assert "dicetak" in await citizen("jakpus").say("1000000000001 12-05-1990")


async def test_other_office_gets_a_pointer_only_with_the_right_birth_date(
    status_settings, registry, redis3, citizen
) -> None:
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "bogor", "BGR0000003", stage="printed", note="rahasia")
        bogor = registry.get("bogor")
        pointer = await citizen("jakpus").say("BGR0000003 12-05-1990")
        assert bogor.name in pointer and bogor.service_name in pointer
        assert "+62 811-0000-0002" in pointer
        assert "dicetak" not in pointer and "rahasia" not in pointer and "Siti" not in pointer
        assert await citizen("jakpus").say("BGR0000003 13-05-1990") == _neutral(registry)
        # At its own office the same pair gets the status.
        assert "Paspor sudah dicetak" in await citizen("bogor").say("BGR0000003 12-05-1990")


async def test_an_office_key_cannot_write_another_offices_application(
    status_settings, registry, redis3
) -> None:
    async with api_client(status_settings, registry) as client:
        await create(client, "bogor", "BGR0000003", stage="printed")
        jakpus = api_headers("jakpus")
        body = {"application_no": "BGR0000003", "stage": "cancelled"}
        taken = await client.post("/v1/applications", json=body, headers=jakpus)
        assert taken.status_code == 403
        claimed = await client.post("/v1/applications", headers=jakpus, json={
            "application_no": "2000000000001", "office": "bogor", "stage": "paid",
            "date_of_birth": "1990-05-12", "applicant_name": "A"})  # fmt: skip
        assert claimed.status_code == 403
        bulk = await client.post(
            "/v1/applications/bulk", headers={**jakpus, "Content-Type": "text/csv"},
            content=b"application_no,stage\nBGR0000003,cancelled\n",
        )  # fmt: skip
        assert bulk.status_code == 200
        assert bulk.json()["rows"][0]["status"] == 403
        got = await client.get("/v1/applications/BGR0000003", headers=api_headers("bogor"))
        assert got.json()["record"]["stage"] == "printed"
    records = await updates_on_topic(status_settings)
    assert [(r.application_no, r.office, r.version) for r in records] == [
        ("BGR0000003", "bogor", 1)
    ]


async def test_bulk_upload_reports_each_row(status_settings, registry, redis3) -> None:
    csv_body = (
        b"application_no;stage;date_of_birth;applicant_name;wa_id;note\n"
        b"1000000000001;paid;12-05-1990;Siti Rahayu;0812-3456-7890;\n"
        b"1000000000002;perhaps;12-05-1990;Budi;;\n"
        b"1000000000003;paid;31-02-1990;Budi;;\n"
        b"1000000000004;needs_action;1 Januari 2001;Dewi;;Bawa KK asli\n"
        b"1000000000001;biometrics;;;;\n"
    )
    async with api_client(status_settings, registry) as client:
        headers = {**api_headers("jakpus"), "Content-Type": "text/csv"}
        response = await client.post("/v1/applications/bulk", headers=headers, content=csv_body)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        assert [(r["row"], r["result"]) for r in rows] == [
            (2, "created"),
            (3, "error"),
            (4, "error"),
            (5, "created"),
            (6, "updated"),
        ]
        assert "row 3: field stage" in rows[1]["error"]
        assert rows[1]["application_no"] == "1000000000002"
        assert "row 4: field date_of_birth" in rows[2]["error"]
        assert rows[4]["version"] == 2
        jsonl = b'{"application_no": "1000000000004", "stage": "in_process", "note": ""}\n{oops\n'
        response = await client.post("/v1/applications/bulk", headers=api_headers("jakpus"),
                                     content=jsonl)  # fmt: skip
        assert [r["result"] for r in response.json()["rows"]] == ["updated", "error"]
        bad = await client.post(
            "/v1/applications/bulk", headers=headers, content=b"nomor,tahap\n1,2\n"
        )
        assert bad.status_code == 422 and "application_no" in bad.json()["detail"]
        got = await client.get("/v1/applications/1000000000004", headers=api_headers("jakpus"))
        assert got.json()["record"]["stage"] == "in_process"
        assert got.json()["record"]["note"] is None
    records = await updates_on_topic(status_settings)
    # Only the newest version of 1000000000001 in the chunk is published; then the JSON line.
    assert sorted((r.application_no, r.version) for r in records) == [
        ("1000000000001", 2),
        ("1000000000004", 1),
        ("1000000000004", 2),
    ]


async def test_a_typed_yes_to_the_invitation_opts_in_as_the_tap_does(
    status_settings, registry, redis3, citizen
) -> None:
    """After a found status, "iya mau" typed (the router hands it back with the invitation's
    context) switches notifications on; typed without a lookup it does nothing."""
    number = "1000000000007"
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", number, stage="paid")
        applicant = citizen("jakpus")
        found = await applicant.last_reply(f"{number} 12-05-1990")
        assert found.expect is not None and found.expect.context == {"optin": number}
        applicant.context, applicant.expected = dict(found.expect.context), True
        confirmed = await applicant.say("iya mau")
        assert number in confirmed and "kabar" in confirmed.lower()
        stranger = citizen("jakpus")  # the same words, no invitation: nothing switched on
        stranger.context, stranger.expected = {"optin": number}, True
        assert "cek status" in await stranger.say("iya mau")


async def test_opted_in_applicant_gets_one_notification_per_stage_change(
    status_settings, registry, redis3, citizen, outbound
) -> None:
    number = "1000000000001"
    async with running_worker(status_settings, registry, redis3), \
            api_client(status_settings, registry) as client:  # fmt: skip
        await create(client, "jakpus", number, stage="paid")
        applicant = citizen("jakpus")
        # A tap without a lookup first is refused (a forged button id gets nothing).
        assert "cek status" in await applicant.say(
            "Kabari saya", reply_id=f"{OPTIN_PREFIX}{number}"
        )
        found = await applicant.last_reply(f"{number} 12-05-1990")
        button = found.content.buttons[0]
        confirmed = await applicant.say(button.title, reply_id=button.id)
        assert number in confirmed and "kabar" in confirmed.lower()

        await create(client, "jakpus", number, stage="biometrics")  # v2: notify
        await create(client, "jakpus", number, stage="biometrics", note="catatan")  # v3: no
        await create(client, "jakpus", number, stage="ready_for_pickup")  # v4: notify

        def notifications() -> list[OutboundReply]:
            return [r for r in outbound.items if r.idempotency_key.startswith("status:")]

        await eventually(lambda: len(notifications()) >= 2)
        # Replays: a fresh consumer group reads status.updates from the beginning, and the
        # view is rebuilt from the topic (marker gone); neither may notify again.
        async with running_worker(
            status_settings, registry, redis3, view_group="status.replay"
        ) as replay:
            await eventually(lambda: replay.consumers[0].ready)
            await group_caught_up(status_settings, "status.replay", Topic.STATUS_UPDATES)
        marker = f"{status_settings.topic_prefix}gerbang:status:view:ready"
        await redis3.delete(marker)
        await eventually(lambda: redis3.exists(marker))
        sent = notifications()
        assert [n.idempotency_key for n in sent] == [f"status:{number}:v2", f"status:{number}:v4"]
        assert all(n.wa_id == applicant.wa_id and n.in_reply_to is None for n in sent)
        assert "Foto, sidik jari" in sent[0].content.body
        assert "Siap diambil" in sent[1].content.body
        assert sent[1].template_fallback is not None
        assert sent[1].template_fallback.name == "status_paspor_update"
        assert sent[1].template_fallback.body_parameters == [number, "Siap diambil"]


def _metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0
