"""Every process's view of `content.published`, applied to its office registry live.

The topic is compacted and small (one record per scope and topic), so each process that
renders answers (the FAQ worker, the router's menu, the gateway's `/ops`) keeps all of it in
memory: it reads the topic from the beginning at start (a restart rebuilds it) and then
follows it (`gerbang.bus.tail`), so a publish reaches every worker within about a second and
without a restart. Applying a record is idempotent: the record is the whole state of its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from gerbang.bus import Replayed, tail
from gerbang.messages import ContentKind, ContentRecord, Topic
from gerbang.offices import NATIONAL_SCOPE, Notice, OfficeRegistry, OwnTopic
from gerbang.publishing.validate import candidate_answer
from gerbang.publishing.versions import Edit, examples_target
from gerbang.settings import ServiceSettings

log = logging.getLogger(__name__)


class ContentView:
    """The latest record of every key of `content.published`, applied to `registry`."""

    def __init__(self, registry: OfficeRegistry) -> None:
        self.registry = registry
        self.records: dict[str, ContentRecord] = {}
        self.caught_up = asyncio.Event()
        """Set once the records that existed when the process started are applied."""

    def record(self, scope: str, topic: str) -> ContentRecord | None:
        """The record of a scope's topic, if anything was ever written for it."""
        return self.records.get(f"{scope}:{topic}")

    def __iter__(self) -> Iterator[ContentRecord]:
        return iter(sorted(self.records.values(), key=lambda r: (r.scope, r.topic)))

    def apply(self, record: ContentRecord) -> None:
        """Take a record in: keep it, and make its live version what citizens read."""
        if record.scope != NATIONAL_SCOPE and record.scope not in self.registry.offices:
            log.warning("content for an unknown office ignored", extra={"key": record.key})
            return
        current = self.records.get(record.key)
        if current is not None and _newest(current) > _newest(record):
            return  # an older record read again after a reconnect: already superseded
        self.records[record.key] = record
        live = record.live
        published = self.registry.published
        if record.kind is ContentKind.ANNOUNCEMENT:
            notice = None
            if live and live.text and live.valid_from and live.valid_until:
                notice = Notice(live.text, live.valid_from, live.valid_until)
            published.set_notice(record.scope, notice)
            return
        if record.kind is ContentKind.EXAMPLES:
            target = examples_target(record.topic) or ""
            published.set_examples(record.scope, target, live.examples if live else ())
            return
        if record.kind is ContentKind.OFFICE_TOPIC:
            own = None
            if live is not None and live.text is not None and live.title is not None:
                own = OwnTopic(live.title, live.examples)
            published.set_own_topic(record.scope, record.topic, own)
        answer = None
        if live is not None and live.text is not None:
            edit = Edit(text=live.text, source=live.source, verified_on=live.verified_on)
            answer = candidate_answer(
                self.registry,
                record.scope,
                record.topic,
                edit,
                published_on=(live.published_at or live.at).date(),
            )
        published.set_answer(record.scope, record.topic, answer)

    async def apply_batch(self, batch: list[Replayed[ContentRecord]]) -> None:
        """`gerbang.bus.tail`'s callback: records in, tombstones remove, junk is logged."""
        for item in batch:
            if item.value is not None:
                self.apply(item.value)
            elif item.raw is None and item.key:
                self.remove(item.key)
            else:
                log.error(
                    "content record does not decode; ignored",
                    extra={"key": item.key, "offset": item.offset, "error": str(item.error)},
                )

    def remove(self, key: str) -> None:
        """A tombstone: the key is gone, the YAML baseline answers again."""
        record = self.records.pop(key, None)
        if record is None:
            return
        if record.kind is ContentKind.ANNOUNCEMENT:
            self.registry.published.set_notice(record.scope, None)
        elif record.kind is ContentKind.EXAMPLES:
            self.registry.published.set_examples(
                record.scope, examples_target(record.topic) or "", ()
            )
        else:
            if record.kind is ContentKind.OFFICE_TOPIC:
                self.registry.published.set_own_topic(record.scope, record.topic, None)
            self.registry.published.set_answer(record.scope, record.topic, None)


def _newest(record: ContentRecord) -> int:
    return max(v.number for v in record.versions)


async def follow_content(settings: ServiceSettings, view: ContentView, client_id: str) -> None:
    """Keep `view` up to date from `content.published` until cancelled."""
    await tail(
        settings,
        Topic.CONTENT_PUBLISHED,
        ContentRecord,
        view.apply_batch,
        client_id=f"{client_id}-content",
        caught_up=view.caught_up,
    )


@contextlib.asynccontextmanager
async def live_content(
    settings: ServiceSettings, registry: OfficeRegistry, client_id: str, wait_s: float = 30.0
) -> AsyncIterator[ContentView]:
    """A view of `content.published` on `registry` for the duration of a block; entered once
    what was published before the start is applied (or after `wait_s`: the YAML answers
    meanwhile, and the view catches up as soon as Kafka lets it)."""
    view = ContentView(registry)
    task = asyncio.create_task(follow_content(settings, view, client_id), name="content-view")
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(view.caught_up.wait(), wait_s)
        if not view.caught_up.is_set():
            log.warning("published content not read yet; answering from the YAML meanwhile")
        yield view
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
