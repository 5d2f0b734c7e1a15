"""The feedback worker and API on the real Kafka broker and Redis (database 4).

Crash recovery, replay, office isolation, urgent reports, CSV = list, handling, rebuild.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import httpx
import pytest
import pytest_asyncio
from feedback_support import committed, feedback_request, running_worker, send_requests
from redis.asyncio import Redis

from gerbang.bus import Producer, Publish
from gerbang.messages import (
    FeedbackHandled,
    FeedbackRecord,
    Intent,
    OutboundReply,
    Service,
    ServiceRequest,
    Topic,
)
from gerbang.offices import OfficeRegistry, dev_token
from gerbang_feedback.api import create_app
from gerbang_feedback.main import VIEW_GROUP
from gerbang_feedback.rebuild import ensure_view, purge_expired
from gerbang_feedback.settings import DEV_NATIONAL_API_KEY, FeedbackSettings
from gerbang_feedback.tickets import WIB
from gerbang_feedback.view import FeedbackView
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.integration

JAKPUS_KEY = dev_token("jakpus", "FEEDBACK_API_KEY")
BOGOR_KEY = dev_token("bogor", "FEEDBACK_API_KEY")


async def records_on_log(settings: FeedbackSettings, expect: int) -> list[FeedbackRecord]:
    """FeedbackRecords on feedback.recorded (duplicates included)."""
    raw = await read_topic(settings, Topic.FEEDBACK_RECORDED, expect=expect, timeout=30)
    values = [json.loads(r.value) for r in raw]
    return [FeedbackRecord.model_validate(v) for v in values if v.get("event") != "handled"]


async def replies(settings: FeedbackSettings, expect: int) -> list[OutboundReply]:
    """Replies on whatsapp.outbound."""
    raw = await read_topic(settings, Topic.OUTBOUND, expect=expect, timeout=30)
    return [OutboundReply.model_validate_json(r.value) for r in raw]


@pytest_asyncio.fixture
async def api(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """The feedback API in-process (real Redis view, real producer)."""
    producer = Producer(settings, "feedback-api")
    await producer.start()
    app = create_app(settings, registry, FeedbackView(redis_db, settings.topic_prefix), producer)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            yield client
    finally:
        await producer.stop()


async def listed(
    api: httpx.AsyncClient, key: str, expect: int | None = None, **params: Any
) -> dict[str, Any]:
    """GET /v1/feedback; with `expect`, wait until that many tickets are listed."""

    async def fetch() -> dict[str, Any] | None:
        response = await api.get("/v1/feedback", params=params, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if expect is None or body["total"] == expect else None

    result: dict[str, Any] = await eventually(fetch, timeout=30)
    return result


# --- the worker killed between receiving and recording ------------------------------------


class DiesAfterRecording(Producer):
    """Produces the handler's output durably, then hangs: the process dies before the commit."""

    def __init__(self, settings: FeedbackSettings) -> None:
        super().__init__(settings, "feedback")
        self.recorded = asyncio.Event()

    async def publish_many(self, messages: Sequence[Publish]) -> None:
        await super().publish_many(messages)
        if any(m.topic == Topic.FEEDBACK_RECORDED for m in messages):
            self.recorded.set()
            await asyncio.Event().wait()  # killed here: outputs are on Kafka, offset is not


@pytest.mark.parametrize("dies", ["before_recording", "after_recording"])
async def test_worker_killed_between_receiving_and_recording_records_exactly_once(
    settings: FeedbackSettings,
    registry: OfficeRegistry,
    redis_db: Redis,
    api: httpx.AsyncClient,
    dies: str,
) -> None:
    request = feedback_request(
        "wamid.crash1", "antrian lama banget, petugas jutek", intent=Intent.FEEDBACK_COMPLAINT
    )
    await send_requests(settings, request)

    if dies == "after_recording":
        dying = DiesAfterRecording(settings)
        async with running_worker(settings, registry, redis_db, producer=dying):
            await asyncio.wait_for(dying.recorded.wait(), 30)
    else:
        received = asyncio.Event()

        async def dies_on_receipt(_: ServiceRequest) -> list[Publish]:
            received.set()
            await asyncio.Event().wait()  # killed before any ticket or record
            return []

        async with running_worker(settings, registry, redis_db, requests_handler=dies_on_receipt):
            await asyncio.wait_for(received.wait(), 30)
        assert await redis_db.keys("*gerbang:feedback:msg:*") == []
    assert await committed(settings, "feedback", Topic.FEEDBACK_REQUESTS) == 0, "no commit"

    on_log = 2 if dies == "after_recording" else 1
    async with running_worker(settings, registry, redis_db):
        sent = await replies(settings, expect=on_log)
        # Wait until the view consumer has applied every record on the log, duplicates too.
        await eventually(
            lambda: _at_least(committed(settings, VIEW_GROUP, Topic.FEEDBACK_RECORDED), on_log),
            timeout=30,
        )
        body = await listed(api, JAKPUS_KEY)
    assert await committed(settings, "feedback", Topic.FEEDBACK_REQUESTS) == 1

    log = await records_on_log(settings, expect=on_log)
    # At-least-once on the log (the redelivery produced the same record again) ...
    assert len(log) == on_log
    assert len({r.ticket for r in log}) == 1
    assert log[0].ticket.endswith("-000001")
    # ... exactly once where the office reads it: one ticket, one entry.
    assert body["total"] == 1
    assert [item["ticket"] for item in body["items"]] == [log[0].ticket]
    # The citizen's confirmations share one idempotency key (the sender sends it once).
    assert {reply.idempotency_key for reply in sent} == {"reply:wamid.crash1:0"}
    assert all(log[0].ticket in reply.content.body for reply in sent)  # type: ignore[union-attr]


async def _at_least(count: Awaitable[int], minimum: int) -> bool:
    return await count >= minimum


# --- replay ---------------------------------------------------------------------------------


async def test_a_replayed_message_gets_the_same_ticket(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    first = feedback_request("wamid.replay1", "sebaiknya ruang tunggu ditambah kursi")
    other = feedback_request("wamid.replay2", "saran: tambah loket pengambilan paspor")
    async with running_worker(settings, registry, redis_db):
        await send_requests(settings, first)
        await replies(settings, expect=1)
        await send_requests(settings, first)  # Kafka or the router delivers it again
        await send_requests(settings, other)
        sent = await replies(settings, expect=3)
        body = await listed(api, JAKPUS_KEY, expect=2)

    by_message: dict[str, set[str]] = {}
    for reply in sent:
        ticket = next(w.strip("*") for w in reply.content.body.split() if w.startswith("*JKP-"))  # type: ignore[union-attr]
        by_message.setdefault(reply.in_reply_to or "", set()).add(ticket)
    assert len(by_message["wamid.replay1"]) == 1, "a replay must not get a new ticket"
    assert by_message["wamid.replay1"] != by_message["wamid.replay2"]
    year = first.inbound.received_at.year
    assert by_message["wamid.replay1"] == {f"JKP-{year}-000001"}
    assert by_message["wamid.replay2"] == {f"JKP-{year}-000002"}
    assert sorted(item["ticket"] for item in body["items"]) == [
        f"JKP-{year}-000001",
        f"JKP-{year}-000002",
    ]


# --- office isolation -----------------------------------------------------------------------


async def test_an_offices_key_cannot_read_another_offices_feedback(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    async with running_worker(settings, registry, redis_db):
        await send_requests(
            settings,
            feedback_request("wamid.iso1", "petugas loket ramah sekali, terima kasih"),
            feedback_request(
                "wamid.iso2", "antrian di bogor lama banget", office="bogor", wa_id="6285711112222"
            ),
        )
        national = await listed(api, DEV_NATIONAL_API_KEY, expect=2)

    tickets = {item["office"]: item["ticket"] for item in national["items"]}
    assert set(tickets) == {"jakpus", "bogor"}
    assert tickets["bogor"].startswith("BGR-")

    jakpus = await listed(api, JAKPUS_KEY)
    assert [item["office"] for item in jakpus["items"]] == ["jakpus"]
    headers = {"X-API-Key": JAKPUS_KEY}
    assert (
        await api.get("/v1/feedback", params={"office": "bogor"}, headers=headers)
    ).status_code == 403
    # Another office's ticket gets exactly the answer a ticket that does not exist gets:
    # ticket numbers are sequential, so a 403 would tell how much feedback bogor receives.
    theirs = await api.get(f"/v1/feedback/{tickets['bogor']}", headers=headers)
    missing = await api.get("/v1/feedback/BGR-2026-999999", headers=headers)
    assert (theirs.status_code, theirs.json()) == (404, {"detail": "no such ticket"})
    assert (missing.status_code, missing.json()) == (theirs.status_code, theirs.json())
    assert (
        await api.get("/v1/feedback.csv", params={"office": "bogor"}, headers=headers)
    ).status_code == 403
    handled = await api.post(
        f"/v1/feedback/{tickets['bogor']}/handled", json={"by": "x", "note": "y"}, headers=headers
    )
    assert (handled.status_code, handled.json()) == (404, {"detail": "no such ticket"})
    bogor_view = await api.get(f"/v1/feedback/{tickets['bogor']}", headers={"X-API-Key": BOGOR_KEY})
    assert bogor_view.status_code == 200
    assert (await api.get("/v1/feedback")).status_code == 401
    assert (await api.get("/v1/feedback", headers={"X-API-Key": "wrong"})).status_code == 401


# --- urgent reports ---------------------------------------------------------------------------


async def test_pungli_and_impersonation_reports_are_flagged_urgent(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    reports = {
        "wamid.pungli": ("petugasnya minta duit 300rb biar cepet, ini pungli kan", "pungli"),
        "wamid.fake": ("ada oknum ngaku petugas imigrasi di WA minta transfer", "impersonation"),
        "wamid.fine": ("terima kasih, pelayanannya cepat dan bebas pungli", None),
    }
    async with running_worker(settings, registry, redis_db):
        await send_requests(
            settings,
            *(
                feedback_request(mid, text, wa_id=f"62812000000{i}")
                for i, (mid, (text, _)) in enumerate(reports.items())
            ),
        )
        sent = await replies(settings, expect=5)
        urgent = await listed(api, JAKPUS_KEY, expect=2, urgent="true")
    # An urgent complaint is also offered a person; the router expects the "ya".
    offers = [reply for reply in sent if reply.intent is Intent.HANDOFF]
    sent = [reply for reply in sent if reply.intent is not Intent.HANDOFF]
    assert {offer.in_reply_to for offer in offers} == {"wamid.pungli", "wamid.fake"}
    assert all(o.expect and o.expect.service is Service.ROUTER for o in offers)

    log = {r.message_id: r for r in await records_on_log(settings, expect=3)}
    for message_id, (_, flag) in reports.items():
        record = log[message_id]
        assert record.urgent is (flag is not None)
        if flag:
            assert record.kind.value == "complaint" and flag in record.flags
    channels = registry.national.complaint_channels.get("id")
    for reply in sent:
        body = reply.content.body  # type: ignore[union-attr]
        assert (channels in body) is (reply.in_reply_to != "wamid.fine")
    assert {item["ticket"] for item in urgent["items"]} == {
        log["wamid.pungli"].ticket,
        log["wamid.fake"].ticket,
    }
    # The office must call back an urgent complaint: the single record shows the number.
    single = await api.get(
        f"/v1/feedback/{log['wamid.pungli'].ticket}", headers={"X-API-Key": JAKPUS_KEY}
    )
    assert single.json()["phone"] == log["wamid.pungli"].wa_id
    assert all("*" in item["phone"] for item in urgent["items"]), "lists always mask"


# --- CSV = list --------------------------------------------------------------------------------


async def test_csv_export_contains_what_the_api_lists(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    texts = [
        "antrian lama banget",
        "petugas jutek sekali",
        "sebaiknya ada ruang laktasi",
        "mantap pelayanannya",
        'kecewa, "informasi" tidak jelas, petugas kasar',
    ]
    async with running_worker(settings, registry, redis_db):
        await send_requests(
            settings,
            *(
                feedback_request(f"wamid.csv{i}", text, wa_id=f"6281300000{i:02d}")
                for i, text in enumerate(texts)
            ),
        )
        everything = await listed(api, JAKPUS_KEY, expect=len(texts))

    headers = {"X-API-Key": JAKPUS_KEY}
    for params in ({}, {"kind": "complaint"}, {"kind": "complaint", "limit": 2, "offset": 1}):
        listing = (await api.get("/v1/feedback", params=params, headers=headers)).json()
        export = await api.get("/v1/feedback.csv", params=params, headers=headers)
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [row["ticket"] for row in rows] == [item["ticket"] for item in listing["items"]]
        for row, item in zip(rows, listing["items"], strict=True):
            assert row["text"] == item["text"]
            assert row["phone"] == item["phone"] and "*" in row["phone"]
            assert row["kind"] == item["kind"] and row["status"] == item["status"]
    assert everything["total"] == len(texts)
    complaints = (
        await api.get("/v1/feedback", params={"kind": "complaint"}, headers=headers)
    ).json()
    assert complaints["total"] == 3


# --- handling -----------------------------------------------------------------------------------


async def test_mark_handled_leaves_the_open_list_and_survives_a_rebuild(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    headers = {"X-API-Key": JAKPUS_KEY}
    async with running_worker(settings, registry, redis_db) as worker:
        await send_requests(
            settings,
            feedback_request("wamid.h1", "antrian lama banget, tolong hubungi saya"),
            feedback_request("wamid.h2", "sebaiknya ada papan antrian", wa_id="6281399990000"),
        )
        opened = await listed(api, JAKPUS_KEY, expect=2, status="open")
        ticket = next(i["ticket"] for i in opened["items"] if i["kind"] == "complaint")
        response = await api.post(
            f"/v1/feedback/{ticket}/handled",
            json={"by": "Sari (humas)", "note": "sudah ditelepon"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "handled"
        assert response.json()["phone"] == "6281234567890"  # contact requested: full number

        still_open = await listed(api, JAKPUS_KEY, status="open")
        assert [i["ticket"] for i in still_open["items"]] != [] and ticket not in [
            i["ticket"] for i in still_open["items"]
        ]
        handled = await listed(api, JAKPUS_KEY, status="handled")
        assert [i["ticket"] for i in handled["items"]] == [ticket]
        assert handled["items"][0]["handled_by"] == "Sari (humas)"

        # Redis loses everything; the view comes back from the log, handling included.
        await redis_db.flushdb()
        assert await ensure_view(settings, worker.view, worker.updater) is True
        after = await listed(api, JAKPUS_KEY, status="handled")
        assert [i["ticket"] for i in after["items"]] == [ticket]
        assert after["items"][0]["note"] == "sudah ditelepon"

        # Numbers are not reused after the rebuild.
        await send_requests(settings, feedback_request("wamid.h3", "ruang tunggu panas sekali"))
        third = await listed(api, JAKPUS_KEY, expect=3)
    assert len({item["ticket"] for item in third["items"]}) == 3
    assert max(item["ticket"] for item in third["items"]).endswith("000003")


async def test_handling_is_on_the_log_of_record(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    async with running_worker(settings, registry, redis_db):
        await send_requests(settings, feedback_request("wamid.l1", "mantap pelayanannya"))
        ticket = (await listed(api, JAKPUS_KEY, expect=1))["items"][0]["ticket"]
        response = await api.post(
            f"/v1/feedback/{ticket}/handled",
            json={"by": "Andi"},
            headers={"X-API-Key": DEV_NATIONAL_API_KEY},
        )
        assert response.status_code == 200
    raw = await read_topic(settings, Topic.FEEDBACK_RECORDED, expect=2, timeout=30)
    events = [json.loads(r.value) for r in raw]
    handled = [FeedbackHandled.model_validate(e) for e in events if e.get("event") == "handled"]
    assert [(h.ticket, h.handled_by) for h in handled] == [(ticket, "Andi")]


# --- retention and health ----------------------------------------------------------------------


async def test_retention_removes_old_tickets_from_the_view_only(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = now - dt.timedelta(days=settings.retention_days + 1)
    async with running_worker(settings, registry, redis_db) as worker:
        await send_requests(
            settings,
            feedback_request("wamid.expired", "antrian lama banget", received_at=expired),
            feedback_request("wamid.recent", "antrian lama banget", wa_id="6281399990001"),
        )
        recent = await listed(api, JAKPUS_KEY, expect=1)
        # The expired record is on the log, but the view never takes it; its number stays used.
        log = await records_on_log(settings, expect=2)
        assert len(log) == 2
        year = expired.astimezone(WIB).year
        assert await redis_db.get(worker.view.seq_key("jakpus", year)) is not None

        # Time passes: the background task removes what is now past the retention.
        later = now + dt.timedelta(days=settings.retention_days + 1)
        assert await purge_expired(worker.view, registry, settings.retention_days, now=later) == 1
        assert (await listed(api, JAKPUS_KEY))["total"] == 0
        ticket = recent["items"][0]["ticket"]
        gone = await api.get(f"/v1/feedback/{ticket}", headers={"X-API-Key": JAKPUS_KEY})
        assert gone.status_code == 404
    assert len(await records_on_log(settings, expect=2)) == 2, "the log keeps everything"


async def test_health_ready_and_metrics(
    settings: FeedbackSettings, registry: OfficeRegistry, redis_db: Redis, api: httpx.AsyncClient
) -> None:
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/readyz")).status_code == 503  # the view was never built
    async with running_worker(settings, registry, redis_db):
        await send_requests(settings, feedback_request("wamid.m1", "ada calo di depan kantor"))
        await listed(api, JAKPUS_KEY, expect=1)
        assert (await api.get("/readyz")).status_code == 200
    metrics = (await api.get("/metrics")).text
    assert (
        'gerbang_feedback_recorded_total{kind="complaint",office="jakpus",urgent="true"}' in metrics
    )
