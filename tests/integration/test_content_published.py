"""Published content on the real broker: a publish reaches a second worker within seconds
without a restart; a restarted worker rebuilds it from the compacted topic; `gerbang content
export` reproduces what is live, and `import` of that file into an empty deployment gives the
same live content."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gerbang import cli
from gerbang.bus import Producer
from gerbang.faq.content import render
from gerbang.messages import ContentRecord, Intent, Topic
from gerbang.offices import NATIONAL_SCOPE, LocalizedText, OfficeRegistry, load_registry
from gerbang.publishing.transfer import export_yaml, read_view
from gerbang.publishing.versions import ANNOUNCEMENT, Edit, examples_key, publish_now, rollback
from gerbang.publishing.view import live_content
from gerbang.settings import ServiceSettings
from gerbang.topics import delete_topics, ensure_topics
from gerbang.understanding.classify import IntentMatcher
from tests.conftest import REPO, new_prefix
from tests.support.aio import run_sync

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)


def _registry() -> OfficeRegistry:
    return load_registry(REPO / "offices")


async def _publish(settings: ServiceSettings, *records: ContentRecord) -> None:
    producer = Producer(settings, "test-content")
    await producer.start()
    try:
        for record in records:
            await producer.publish(Topic.CONTENT_PUBLISHED, record.key, record)
    finally:
        await producer.stop()


async def _until(condition: object, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def _records() -> list[ContentRecord]:
    pickup = publish_now(
        None,
        "jakpus",
        "pickup",
        Edit(LocalizedText(id="Ambil di {short_name} (v1)", en="Pick up at {short_name} (v1)")),
        author="jakpus.lead",
        now=NOW,
    )
    fees = publish_now(
        None,
        NATIONAL_SCOPE,
        "fees",
        Edit(
            LocalizedText(id="Biaya nasional baru", en="New national fees"),
            source="PP 45/2024",
            verified_on=NOW.date(),
        ),
        author="national",
        now=NOW,
    )
    notice = publish_now(
        None,
        "bogor",
        ANNOUNCEMENT,
        Edit(
            LocalizedText(id="Kantor tutup besok", en="Closed tomorrow"),
            valid_from=NOW - dt.timedelta(hours=1),
            valid_until=NOW + dt.timedelta(days=1),
        ),
        author="bogor.lead",
        now=NOW,
    )
    return [pickup, fees, notice]


async def test_the_topic_is_compacted(settings: ServiceSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        name = settings.topic(Topic.CONTENT_PUBLISHED)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
        assert configs["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_publish_reaches_a_second_worker_live_and_a_restart_rebuilds(
    settings: ServiceSettings,
) -> None:
    first, second = _registry(), _registry()
    jakpus, bogor = first.get("jakpus"), first.get("bogor")
    yaml_pickup = render(second, second.get("jakpus"), "pickup", "id")
    async with (
        live_content(settings, first, "worker-1"),
        live_content(settings, second, "worker-2") as view,
    ):
        assert view.caught_up.is_set()  # an empty topic: caught up at once
        pickup, fees, notice = _records()
        await _publish(settings, pickup, fees, notice)
        took = await _until(
            lambda: (
                render(second, second.get("jakpus"), "pickup", "id")
                == "Ambil di Kanim Jakarta Pusat (v1)"
            )
        )
        assert took < 5.0
        # bogor's announcement (the record after the fees: wait for it too) stands above
        # bogor's answers, not jakpus's.
        await _until(
            lambda: render(first, bogor, "fees", "en") == "📢 Closed tomorrow\n\nNew national fees"
        )
        assert render(first, bogor, "fees", "en") == "📢 Closed tomorrow\n\nNew national fees"
        assert render(first, jakpus, "fees", "en") == "New national fees"
        # A rollback is a new record: back to the YAML at both workers.
        await _publish(settings, rollback(pickup, by="jakpus.lead", now=NOW))
        await _until(lambda: render(second, second.get("jakpus"), "pickup", "id") == yaml_pickup)
        await _until(lambda: render(first, jakpus, "pickup", "id") == yaml_pickup)

    # A restarted worker (a new process: a fresh registry) rebuilds everything from the topic.
    restarted = _registry()
    async with live_content(settings, restarted, "worker-3") as view:
        assert view.caught_up.is_set()
        assert render(restarted, restarted.get("bogor"), "fees", "en").endswith("New national fees")
        assert render(restarted, restarted.get("jakpus"), "pickup", "id") == yaml_pickup
        record = view.record("jakpus", "pickup")
        assert record is not None and [v.number for v in record.versions] == [2, 1]


def test_export_reproduces_live_and_import_recreates_it(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the `gerbang` command: export, import into an empty deployment, export again."""
    source = ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=new_prefix())
    target = ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=new_prefix())
    for settings in (source, target):
        run_sync(ensure_topics(settings))
    try:
        run_sync(_publish(source, *_records()))
        monkeypatch.setenv("GERBANG_KAFKA_BOOTSTRAP", kafka_bootstrap)
        monkeypatch.setenv("GERBANG_OFFICES_DIR", str(REPO / "offices"))
        exported = tmp_path / "content.yaml"
        monkeypatch.setenv("GERBANG_TOPIC_PREFIX", source.topic_prefix)
        assert cli.main(["content", "export", "--out", str(exported)]) == 0
        live = run_sync(read_view(source, _registry()))
        assert exported.read_text() == export_yaml(live)
        assert "New national fees" in exported.read_text()

        monkeypatch.setenv("GERBANG_TOPIC_PREFIX", target.topic_prefix)
        assert cli.main(["content", "import", str(exported)]) == 0
        copied_registry = _registry()
        copied = run_sync(read_view(target, copied_registry))
        assert export_yaml(copied) == exported.read_text()
        assert all(r.live and r.live.author == "import" for r in copied)
        for office in ("jakpus", "bogor", "batam"):
            for topic in ("pickup", "fees"):
                assert render(copied_registry, copied_registry.get(office), topic, "id") == render(
                    live.registry, live.registry.get(office), topic, "id"
                )
        # Importing the same file again publishes nothing new.
        assert cli.main(["content", "import", str(exported)]) == 0
        assert [len(r.versions) for r in run_sync(read_view(target, _registry()))] == [1, 1, 1]

        # A broken file is refused whole: nothing published.
        broken = tmp_path / "broken.yaml"
        broken.write_text(
            "jakpus:\n  pickup:\n    text: {id: 'baru', en: 'new'}\n"
            "  fees:\n    text: {id: 'murah', en: 'cheap'}\n"
        )
        assert cli.main(["content", "import", str(broken)]) == 1
        after = run_sync(read_view(target, _registry()))
        assert export_yaml(after) == exported.read_text()
    finally:
        for settings in (source, target):
            run_sync(delete_topics(settings))


def test_office_examples_and_topics_rebuild_and_move_between_deployments(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A miss attached to a topic and an office's own topic: a restarted worker rebuilds them
    from the topic and its matcher routes by them; export → import into an empty deployment
    reproduces them (own topic first, then the examples that may point at it)."""
    miss = "apakah boleh pakai jilbab waktu foto paspor"
    own = "own.mpp_sabtu"
    records = [
        publish_now(
            None,
            "jakpus",
            own,
            Edit(
                LocalizedText(id="MPP buka Sabtu 08.00–12.00", en="MPP opens Sat 08:00–12:00"),
                title=LocalizedText(id="Layanan MPP Sabtu", en="Saturday MPP"),
                examples=("apakah bisa bikin paspor di mal pelayanan publik hari sabtu",),
            ),
            author="jakpus.lead",
            now=NOW,
        ),
        publish_now(
            None,
            "jakpus",
            examples_key(own),
            Edit(None, examples=("mpp buka hari sabtu?",)),
            author="jakpus.lead",
            now=NOW,
        ),
        publish_now(
            None,
            "jakpus",
            examples_key("requirements"),
            Edit(None, examples=(miss,)),
            author="jakpus.lead",
            now=NOW,
        ),
    ]
    source = ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=new_prefix())
    target = ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=new_prefix())
    for settings in (source, target):
        run_sync(ensure_topics(settings))
    try:
        run_sync(_publish(source, *records))
        restarted = _registry()
        live = run_sync(read_view(source, restarted))
        matcher = IntentMatcher.from_registry(restarted)["jakpus"]
        assert matcher.understand(miss, office_code="jakpus").intent is Intent.FAQ_REQUIREMENTS
        mpp = matcher.understand("mpp buka sabtu ga", office_code="jakpus")
        assert (mpp.intent, mpp.office_topic) == (Intent.FAQ_OFFICE_TOPIC, own)
        assert matcher.understand(miss, office_code="bogor").intent is not (Intent.FAQ_REQUIREMENTS)

        monkeypatch.setenv("GERBANG_KAFKA_BOOTSTRAP", kafka_bootstrap)
        monkeypatch.setenv("GERBANG_OFFICES_DIR", str(REPO / "offices"))
        exported = tmp_path / "content.yaml"
        monkeypatch.setenv("GERBANG_TOPIC_PREFIX", source.topic_prefix)
        assert cli.main(["content", "export", "--out", str(exported)]) == 0
        assert exported.read_text() == export_yaml(live)
        monkeypatch.setenv("GERBANG_TOPIC_PREFIX", target.topic_prefix)
        assert cli.main(["content", "import", str(exported)]) == 0
        copied = run_sync(read_view(target, _registry()))
        assert export_yaml(copied) == exported.read_text()
        assert render(copied.registry, copied.registry.get("jakpus"), own, "id") == (
            "MPP buka Sabtu 08.00–12.00"
        )
    finally:
        for settings in (source, target):
            run_sync(delete_topics(settings))
