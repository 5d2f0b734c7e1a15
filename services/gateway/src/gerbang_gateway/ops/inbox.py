"""The office inbox on `/ops`: conversations held for staff, their transcripts, staff replies.

The record of a conversation is Kafka: the citizen's messages (`whatsapp.inbound`), every
answer, the bot's and the staff's (`whatsapp.outbound`), and the hold's events
(`inbox.messages`). The transcript view in Redis is filled from those topics by a
`LogFollower` (positions kept inside the view, so a flushed Redis rebuilds it from the
log). A conversation held for staff is kept for `conversation_retention_days`, any other
for `RECENT_DAYS` after its last message (what the bot said before a handoff):

    gerbang:inbox:tx:<office>:<wa_id>    sorted set entry id → time (the transcript)
    gerbang:inbox:txe:<office>:<wa_id>   hash entry id → entry JSON
    gerbang:inbox:id:<conversation id>   office:wa_id (URLs carry an opaque id, no number)

An entry's id is the message's own (the wamid, the reply's idempotency key), so an entry
read twice (redelivery, rebuild) is stored once. Who holds a conversation, and whether it is
held at all, is the router's live state (`gerbang_gateway.handoff.HandoffStore`).

Staff replies are `OutboundReply`s on `whatsapp.outbound` like every reply: the sender sends
them from the office's number, within its rate limit, once per idempotency key (one key per
reply form), and as the approved "tanggapan petugas" template when the citizen's last
message is more than 24 hours old.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from redis.asyncio import Redis

from gerbang import metrics
from gerbang.bus import Producer, Publish
from gerbang.faq.content import FaqContentError, render
from gerbang.handoff import staff_template
from gerbang.messages import (
    ButtonsContent,
    HandoffReason,
    InboundMessage,
    InboxClaimed,
    InboxEvent,
    InboxHeld,
    InboxReleased,
    Intent,
    ListContent,
    OutboundReply,
    ReleaseReason,
    TemplateContent,
    TextContent,
    Topic,
)
from gerbang.offices import Office, OfficeRegistry
from gerbang_gateway.handoff import HandoffState, HandoffStore, hold_key, release_publishes
from gerbang_gateway.redis_state import Sessions

log = logging.getLogger(__name__)

REASONS = {
    HandoffReason.ASKED: "warga minta petugas",
    HandoffReason.FALLBACKS: "bot dua kali tidak paham",
    HandoffReason.URGENT_COMPLAINT: "keluhan mendesak",
}
RELEASES = {
    ReleaseReason.CITIZEN: "warga kembali ke menu",
    ReleaseReason.STAFF: "ditutup petugas",
    ReleaseReason.IDLE: "tidak ada pesan (batas waktu)",
}
RECENT_DAYS = 7
"""How long the transcript of a conversation never held for staff is kept."""
KEEP_ENTRIES = 300
"""Newest transcript entries kept per conversation."""
WINDOW_S = 24 * 3600


# Store conversations' new transcript entries, drop those past retention or beyond the cap
# (from the order and the entries alike), and keep both `ttl` seconds (an expiry is set once,
# then only ever lengthened). Every conversation of a fetched batch in one call. KEYS: per
# conversation its order (sorted set) and its entries (hash); ARGV: the oldest score kept,
# how many entries are kept, then per conversation its ttl and entry count, and id, at, JSON
# for each entry.
_ADD_SCRIPT = """
local oldest = ARGV[1]
local keep = tonumber(ARGV[2])
local a = 3
for c = 1, #KEYS, 2 do
  local order, entries = KEYS[c], KEYS[c + 1]
  local ttl = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  local fields, scores = {}, {}
  for e = 1, n do  -- one HSET and one ZADD per 500 entries (Lua's unpack has a limit)
    fields[#fields + 1] = ARGV[a]; fields[#fields + 1] = ARGV[a + 2]
    scores[#scores + 1] = ARGV[a + 1]; scores[#scores + 1] = ARGV[a]
    a = a + 3
    if #fields == 1000 or e == n then
      redis.call('HSET', entries, unpack(fields))
      redis.call('ZADD', order, unpack(scores))
      fields, scores = {}, {}
    end
  end
  for _, stale in ipairs({
    redis.call('ZRANGEBYSCORE', order, '-inf', oldest),
    redis.call('ZRANGE', order, 0, -keep - 1),
  }) do
    for _, id in ipairs(stale) do
      redis.call('ZREM', order, id)
      redis.call('HDEL', entries, id)
    end
  end
  -- The two keys are created, trimmed and expired together: one TTL read answers for both.
  if redis.call('TTL', order) < ttl then
    redis.call('EXPIRE', order, ttl)
    redis.call('EXPIRE', entries, ttl)
  end
end
return 0
"""


def conversation_id(key: bytes, office: str, wa_id: str) -> str:
    """The opaque id of a conversation in `/ops` URLs (keyed: numbers cannot be guessed)."""
    return hashlib.blake2b(f"{office}:{wa_id}".encode(), key=key[:64], digest_size=10).hexdigest()


def content_text(content: Any) -> str:
    """What a reply said, as a line of the transcript."""
    if isinstance(content, TextContent):
        return content.body
    if isinstance(content, ButtonsContent):
        return f"{content.body}\n[{' | '.join(b.title for b in content.buttons)}]"
    if isinstance(content, ListContent):
        return f"{content.body}\n[{content.button}]"
    if isinstance(content, TemplateContent):
        return f"[template {content.name}] " + " · ".join(content.body_parameters)
    return str(content)


def entry_of(topic: str, record_value: bytes) -> tuple[str, str, dict[str, Any]] | None:
    """(office, wa_id, entry) for a record of a transcript topic, or None if not one."""
    if topic == Topic.INBOUND:
        inbound = InboundMessage.model_validate_json(record_value)
        return inbound.office, inbound.wa_id, _citizen_entry(inbound)
    if topic == Topic.OUTBOUND:
        reply = OutboundReply.model_validate_json(record_value)
        return (
            reply.office,
            reply.wa_id,
            {
                "id": reply.idempotency_key,
                "at": reply.created_at.timestamp(),
                "who": "staff" if reply.sent_by else "bot",
                "by": reply.sent_by,
                "text": content_text(reply.content)[:2000],
            },
        )
    if topic == Topic.INBOX_MESSAGES:
        event = InboxEvent.model_validate_json(record_value).root
        if isinstance(event, InboxHeld):
            text, at = f"diteruskan ke petugas: {REASONS[event.reason]}", event.since
        elif isinstance(event, InboxClaimed):
            text, at = f"diambil oleh {event.by}", event.at
        elif isinstance(event, InboxReleased):
            by = f" oleh {event.by}" if event.by else ""
            text, at = f"dikembalikan ke bot: {RELEASES[event.reason]}{by}", event.at
        else:  # the citizen's message itself is on whatsapp.inbound
            return event.office, event.wa_id, _citizen_entry(event.inbound)
        entry = {"id": f"{event.event}:{at.timestamp()}", "at": at.timestamp(), "who": "system"}
        return event.office, event.wa_id, {**entry, "by": None, "text": text}
    return None


def _citizen_entry(inbound: InboundMessage) -> dict[str, Any]:
    text = inbound.text or f"[{inbound.kind.value}]"
    return {
        "id": inbound.message_id,
        "at": inbound.received_at.timestamp(),
        "who": "citizen",
        "by": None,
        "text": text[:2000],
    }


class TranscriptView:
    """Transcripts in Redis, filled from the log."""

    def __init__(self, redis: Redis, prefix: str, id_key: bytes, retention_days: int) -> None:
        self.redis = redis
        self.base = f"{prefix}gerbang:inbox:"
        self.id_key = id_key
        self.retention_s = retention_days * 86400
        self._add = redis.register_script(_ADD_SCRIPT)

    def _keys(self, office: str, wa_id: str) -> tuple[str, str]:
        return f"{self.base}tx:{office}:{wa_id}", f"{self.base}txe:{office}:{wa_id}"

    def id_of(self, office: str, wa_id: str) -> str:
        """The conversation's opaque id."""
        return conversation_id(self.id_key, office, wa_id)

    async def remember(self, office: str, wa_id: str) -> str:
        """Make the conversation's id resolvable; returns it."""
        conv = self.id_of(office, wa_id)
        await self.redis.set(f"{self.base}id:{conv}", f"{office}:{wa_id}", ex=self.retention_s)
        return conv

    async def resolve(self, conv: str) -> tuple[str, str] | None:
        """(office, wa_id) of an id, or None."""
        if not conv.isalnum() or len(conv) > 40:
            return None
        value = await self.redis.get(f"{self.base}id:{conv}")
        if not value:
            return None
        office, _, wa_id = str(value).partition(":")
        return office, wa_id

    async def apply_records(self, batch: list[tuple[str, ConsumerRecord[bytes, bytes]]]) -> None:
        """`LogFollower` callback: a fetched batch of whatsapp.inbound/outbound and
        inbox.messages, written in one script call (and one more round trip if the batch
        holds inbox events: the held conversations' ids).

        The follower sees every message and reply of every office: one call per batch
        instead of eight commands per record was ≈15% of the webhook API's CPU under load.
        """
        now = time.time()
        conversations: dict[tuple[str, str], tuple[list[dict[str, Any]], bool]] = {}
        for topic, record in batch:
            try:
                found = entry_of(topic, record.value)
            except (ValidationError, ValueError) as exc:
                log.error(
                    "unreadable record skipped by the transcript view",
                    extra={"topic": topic, "error": str(exc)[:300]},
                )
                continue
            if found is None:
                continue
            office, wa_id, entry = found
            if entry["at"] < now - self.retention_s:
                continue  # past retention: not brought back by a rebuild
            entries, held = conversations.setdefault((office, wa_id), ([], False))
            entries.append(entry)
            if topic == Topic.INBOX_MESSAGES and not held:
                conversations[(office, wa_id)] = (entries, True)
        if not conversations:
            return
        # Every conversation's transcript lives `RECENT_DAYS` after its last message (staff
        # see what the bot said before a handoff); one that was held for staff is kept for
        # the full retention (`held`: an inbox event).
        recent = min(RECENT_DAYS * 86400, self.retention_s)
        keys: list[str] = []
        args: list[str | int | float] = [now - self.retention_s, KEEP_ENTRIES]
        for (office, wa_id), (entries, held) in conversations.items():
            keys += self._keys(office, wa_id)
            args += [self.retention_s if held else recent, len(entries)]
            for entry in entries:
                args += [entry["id"], entry["at"], json.dumps(entry, ensure_ascii=False)]
        await self._add(keys=keys, args=args)
        held_ids = {
            f"{self.base}id:{self.id_of(office, wa_id)}": f"{office}:{wa_id}"
            for (office, wa_id), (_, held) in conversations.items()
            if held
        }
        if held_ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value in held_ids.items():
                    pipe.set(key, value, ex=self.retention_s)
                await pipe.execute()

    async def transcript(
        self, office: str, wa_id: str, *, after: float = 0.0, limit: int = KEEP_ENTRIES
    ) -> list[dict[str, Any]]:
        """Entries newer than `after`, oldest first; entries past retention are gone."""
        order, entries = self._keys(office, wa_id)
        low = max(after, time.time() - self.retention_s)
        ids = await self.redis.zrangebyscore(order, f"({low}", "+inf", start=0, num=limit)
        if not ids:
            return []
        raws = await self.redis.hmget(entries, [str(i) for i in ids])
        return [json.loads(raw) for raw in raws if raw]

    async def last(self, office: str, wa_id: str) -> dict[str, Any] | None:
        """The newest entry."""
        order, entries = self._keys(office, wa_id)
        ids = await self.redis.zrevrange(order, 0, 0)
        raw = await self.redis.hget(entries, str(ids[0])) if ids else None
        return json.loads(raw) if raw else None


def quick_replies(registry: OfficeRegistry, office: Office) -> list[tuple[str, str]]:
    """(topic, text) of the office's FAQ answers that need no extra values, for the reply box."""
    found = []
    for topic in sorted(registry.national.faq):
        try:
            found.append((topic, render(registry, office, topic, "id")))
        except FaqContentError:
            continue  # needs a value only a conversation has (a number to check …)
    return found


@dataclass(frozen=True)
class Waiting:
    """A held conversation as the inbox list shows it."""

    conv: str
    wa_id: str
    state: HandoffState
    last: dict[str, Any] | None
    window_left_s: int


class NotHolder(Exception):
    """A reply or close by someone who does not hold the conversation."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


class NotHeld(LookupError):
    """The conversation is not held (closed meanwhile, or never)."""


class Inbox:
    """What `/ops` does with held conversations: list, claim, reply, close."""

    def __init__(
        self,
        registry: OfficeRegistry,
        store: HandoffStore,
        sessions: Sessions,
        transcripts: TranscriptView,
        producer: Producer,
    ) -> None:
        self.registry = registry
        self.store = store
        self.sessions = sessions
        self.transcripts = transcripts
        self.producer = producer

    async def window_left(self, office: str, wa_id: str, now: float) -> int:
        """Seconds left in the 24-hour window (0: only the template may be sent)."""
        session = await self.sessions.load(office, wa_id)
        if session.last_inbound_at <= 0:
            return 0
        return max(0, int(session.last_inbound_at + WINDOW_S - now))

    async def waiting(self, office: str) -> list[Waiting]:
        """The office's held conversations, oldest first."""
        now = time.time()
        rows = []
        for wa_id, state in await self.store.waiting(office):
            conv = await self.transcripts.remember(office, wa_id)
            rows.append(
                Waiting(
                    conv=conv,
                    wa_id=wa_id,
                    state=state,
                    last=await self.transcripts.last(office, wa_id),
                    window_left_s=await self.window_left(office, wa_id, now),
                )
            )
        return rows

    async def claim(self, office: str, wa_id: str, username: str) -> tuple[bool, str]:
        """Take the conversation (atomic: exactly one holder); publishes `InboxClaimed`."""
        ok, holder = await self.store.claim(office, wa_id, username, time.time())
        if not holder:
            raise NotHeld(wa_id)
        if ok:
            event = InboxClaimed(office=office, wa_id=wa_id, by=username)
            await self.producer.publish(Topic.INBOX_MESSAGES, event.key, event)
        return ok, holder

    async def reply(
        self, office: Office, wa_id: str, username: str, text: str, nonce: str
    ) -> OutboundReply:
        """Send a staff reply (only the holder may); one idempotency key per reply form."""
        state = await self.store.load(office.code, wa_id)
        if not state.held:
            raise NotHeld(wa_id)
        if state.holder != username:
            raise NotHolder(state.holder or "")
        reply = OutboundReply(
            office=office.code,
            phone_number_id=office.whatsapp.phone_number_id,
            wa_id=wa_id,
            idempotency_key=f"staff:{office.code}:{wa_id}:{nonce}",
            intent=Intent.HANDOFF,
            content=TextContent(body=text),
            template_fallback=staff_template(office, text),
            sent_by=username,
        )
        await self.producer.publish(Topic.OUTBOUND, reply.key, reply)
        await self.store.touch(office.code, wa_id, time.time())
        return reply

    async def close(self, office: Office, wa_id: str, username: str, *, lead: bool) -> None:
        """Give the conversation back to the bot (the holder, or a lead); the citizen is told."""
        state = await self.store.load(office.code, wa_id)
        if not state.held:
            raise NotHeld(wa_id)
        if state.holder and state.holder != username and not lead:
            raise NotHolder(state.holder)
        language = (await self.sessions.load(office.code, wa_id)).language or "id"
        publishes: list[Publish] = release_publishes(
            self.registry,
            office,
            wa_id,
            language,
            ReleaseReason.STAFF,
            since=state.since,
            by=username,
            idempotency_key=f"{hold_key(office.code, wa_id, state.since)}:released",
        )
        await self.producer.publish_many(publishes)
        if await self.store.release(office.code, wa_id, state.since, f"staff:{username}"):
            metrics.HANDOFF_RELEASES.labels(office.code, ReleaseReason.STAFF.value).inc()


def waited(state: HandoffState, now: float | None = None) -> str:
    """How long a conversation has waited, for people ("12 mnt", "3 j 5 mnt", "2 hr")."""
    seconds = int((now or time.time()) - state.since)
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} mnt"
    if seconds < 86400:
        return f"{seconds // 3600} j {seconds % 3600 // 60} mnt"
    return f"{seconds // 86400} hr"


def window_text(seconds: int) -> str:
    """The 24-hour window's time left, for people."""
    if seconds <= 0:
        return "habis"
    return f"{seconds // 3600} j {seconds % 3600 // 60} mnt"


def iso(ts: float) -> str:
    """An epoch time as ISO-8601 (for the live JSON)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()
