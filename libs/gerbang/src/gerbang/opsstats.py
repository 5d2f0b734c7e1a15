"""Numbers for the ops dashboard, kept in Redis per office and per hour.

Prometheus (gerbang.metrics) is for alerting and Grafana; it is per process and forgets on
restart. The dashboard needs per-office history that every replica of every process adds
to, so the router, the sender and the status service also count here (events gathered for a
few milliseconds, one pipeline per batch; best effort: a Redis hiccup or a crash loses a
moment's counts, never a message).

Keys (all prefixed with the deployment's topic prefix, kept `HOUR_TTL_S`):
    gerbang:ops:hour:<office>:<YYYYMMDDHH>   hash of counters of one office in one UTC hour:
        in                  messages routed (citizen messages in)
        intent:<intent>     routed messages by intent
        out                 replies the Graph API accepted
        fail:<code>         Graph API send failures by error code
        lookup:<outcome>    status lookups by outcome (found, not_found, locked, …)
        unknown:<outcome>   sends of unknown outcome and how they were settled:
                            `status` (Meta's status webhook showed it was sent: not repeated),
                            `resent` (no status within the bound: sent again)
    gerbang:ops:latency:<office>             list of the last `LATENCY_SAMPLES` response
                                             times in ms (webhook ack → reply accepted)
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.batching import Batcher

log = logging.getLogger(__name__)

HOUR_TTL_S = 8 * 24 * 3600
LATENCY_SAMPLES = 2000
LOCKED_OUTCOMES = frozenset({"locked", "lockout"})
"""Lookup outcomes that mean a wa_id or application is locked out."""


def hour_bucket(at: dt.datetime) -> str:
    """The UTC hour an event belongs to, as `YYYYMMDDHH`."""
    return at.astimezone(dt.UTC).strftime("%Y%m%d%H")


def last_hours(now: dt.datetime, hours: int) -> list[dt.datetime]:
    """The starts of the last `hours` UTC hours, oldest first, the current hour last."""
    top = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return [top - dt.timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) by nearest rank; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class HourCount:
    """Messages in during one hour."""

    start: dt.datetime
    messages_in: int


@dataclass
class OfficeStats:
    """What the overview shows for one office (or the sum of several)."""

    hours: list[HourCount]
    intents: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    lookups: Counter[str] = field(default_factory=Counter)
    unknown_outcomes: Counter[str] = field(default_factory=Counter)
    replies_out: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def messages_in(self) -> int:
        """Messages in over the whole period."""
        return sum(h.messages_in for h in self.hours)

    @property
    def p50_ms(self) -> float | None:
        """Median response time."""
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float | None:
        """95th-percentile response time."""
        return percentile(self.latencies_ms, 95)

    @property
    def lockouts(self) -> int:
        """Lookups refused because of a lockout."""
        return sum(n for outcome, n in self.lookups.items() if outcome in LOCKED_OUTCOMES)


def summarize(
    hours: Sequence[dt.datetime],
    hashes: Sequence[dict[str, str]],
    latencies_ms: Iterable[float],
) -> OfficeStats:
    """Fold the hourly hashes (one per hour, same order) and latency samples (pure)."""
    stats = OfficeStats(hours=[])
    for start, counters in zip(hours, hashes, strict=True):
        stats.hours.append(HourCount(start, int(counters.get("in", 0))))
        for name, raw in counters.items():
            kind, _, label = name.partition(":")
            value = int(raw)
            if kind == "intent":
                stats.intents[label] += value
            elif kind == "fail":
                stats.failures[label] += value
            elif kind == "lookup":
                stats.lookups[label] += value
            elif kind == "unknown":
                stats.unknown_outcomes[label] += value
            elif kind == "out":
                stats.replies_out += value
    stats.latencies_ms = list(latencies_ms)
    return stats


def merge(parts: Sequence[OfficeStats]) -> OfficeStats:
    """The sum of several offices' stats (the national view)."""
    if not parts:
        return OfficeStats(hours=[])
    merged = OfficeStats(
        hours=[
            HourCount(hour.start, sum(p.hours[i].messages_in for p in parts))
            for i, hour in enumerate(parts[0].hours)
        ]
    )
    for part in parts:
        merged.intents.update(part.intents)
        merged.failures.update(part.failures)
        merged.lookups.update(part.lookups)
        merged.unknown_outcomes.update(part.unknown_outcomes)
        merged.replies_out += part.replies_out
        merged.latencies_ms.extend(part.latencies_ms)
    return merged


# A batch of counts. KEYS: the hour hashes, then the latency lists. ARGV: the hours' TTL,
# the latency samples kept, the number of hour hashes; then per hour hash the number of
# fields and (field, amount) pairs; then per latency list the number of samples and the
# samples (pushed in order, like one LPUSH of them all).
_WRITE_SCRIPT = """
local ttl = ARGV[1]
local keep = tonumber(ARGV[2])
local hours = tonumber(ARGV[3])
local at = 4
for i = 1, hours do
  local fields = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, fields do
    redis.call('HINCRBY', KEYS[i], ARGV[at], ARGV[at + 1])
    at = at + 2
  end
  redis.call('EXPIRE', KEYS[i], ttl)
end
for i = hours + 1, #KEYS do
  local samples = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, samples do
    redis.call('LPUSH', KEYS[i], ARGV[at])
    at = at + 1
  end
  redis.call('LTRIM', KEYS[i], 0, keep - 1)
end
return 0
"""


@dataclass(frozen=True)
class _Event:
    """One counted event waiting for its batch."""

    office: str
    bucket: str
    fields: dict[str, int]
    latency_ms: float | None


class OpsStats:
    """The Redis adapter: record events (best effort), read an office's last hours.

    Recording is gathered for `FLUSH_DELAY_S`: the events of every message handled in that
    moment become one pipeline (counters summed per office and hour), instead of one round
    trip per message. Call `flush` at shutdown, so the last moment's counts are written.
    """

    FLUSH_DELAY_S = 0.02

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._events: Batcher[_Event] = Batcher(self._write, self.FLUSH_DELAY_S)
        self._write_script = redis.register_script(_WRITE_SCRIPT)

    def hour_key(self, office: str, bucket: str) -> str:
        """Hash of an office's counters in one hour."""
        return f"{self.prefix}gerbang:ops:hour:{office}:{bucket}"

    def latency_key(self, office: str) -> str:
        """List of an office's latest response times (ms)."""
        return f"{self.prefix}gerbang:ops:latency:{office}"

    async def _count(
        self,
        office: str,
        fields: dict[str, int],
        at: dt.datetime | None,
        latency_s: float | None = None,
    ) -> None:
        """Add to the office's hourly counters (and keep a latency sample), in the next batch."""
        bucket = hour_bucket(at or dt.datetime.now(dt.UTC))
        latency_ms = round(max(0.0, latency_s) * 1000, 1) if latency_s is not None else None
        self._events.add([_Event(office, bucket, fields, latency_ms)])

    async def flush(self) -> None:
        """Write what is gathered now (at shutdown)."""
        await self._events.drain()

    async def _write(self, events: list[_Event]) -> None:
        """One script call for a batch of events (`_WRITE_SCRIPT`); a Redis error loses the
        counts, not messages. One command, not four per office: with 151 offices nearly every
        event of a batch is another office's, and a pipeline of them cost the router and the
        sender more than the message itself."""
        counters: dict[str, Counter[str]] = {}
        latencies: dict[str, list[float]] = {}
        for event in events:
            counters.setdefault(self.hour_key(event.office, event.bucket), Counter()).update(
                event.fields
            )
            if event.latency_ms is not None:
                latencies.setdefault(event.office, []).append(event.latency_ms)
        keys = [*counters, *(self.latency_key(office) for office in latencies)]
        args: list[str | int | float] = [HOUR_TTL_S, LATENCY_SAMPLES, len(counters)]
        for fields in counters.values():
            args.append(len(fields))
            for name, amount in fields.items():
                args += [name, amount]
        for samples in latencies.values():
            args += [len(samples), *samples]
        try:
            await self._write_script(keys=keys, args=args)
        except RedisError as exc:
            log.warning("ops stats not recorded", extra={"error": repr(exc), "events": len(events)})

    async def record_routed(self, office: str, intent: str, at: dt.datetime | None = None) -> None:
        """A citizen message was routed with this intent."""
        await self._count(office, {"in": 1, f"intent:{intent}": 1}, at)

    async def record_sent(self, office: str, latency_s: float | None) -> None:
        """The Graph API accepted a reply; `latency_s` from webhook ack, if known."""
        await self._count(office, {"out": 1}, None, latency_s=latency_s)

    async def record_send_failure(self, office: str, code: int | str | None) -> None:
        """A Graph API send failed with this error code."""
        await self._count(office, {f"fail:{code if code is not None else 'unknown'}": 1}, None)

    async def record_unknown_outcome(self, office: str, outcome: str) -> None:
        """A send of unknown outcome was settled: `status` (seen sent) or `resent`."""
        await self._count(office, {f"unknown:{outcome}": 1}, None)

    async def record_lookup(self, office: str, outcome: str) -> None:
        """A status lookup ended with `outcome` (found, not_found, locked, …)."""
        await self._count(office, {f"lookup:{outcome}": 1}, None)

    async def office_stats(self, office: str, now: dt.datetime, hours: int = 24) -> OfficeStats:
        """An office's counters over the last `hours` hours and its latency samples."""
        [stats] = await self.offices_stats([office], now, hours)
        return stats

    async def offices_stats(
        self, offices: Sequence[str], now: dt.datetime, hours: int = 24
    ) -> list[OfficeStats]:
        """`office_stats` of several offices (same order), in one round trip: the national
        page reads all 151 offices at once."""
        starts = last_hours(now, hours)
        async with self.redis.pipeline(transaction=False) as pipe:
            for office in offices:
                for start in starts:
                    pipe.hgetall(self.hour_key(office, hour_bucket(start)))
                pipe.lrange(self.latency_key(office), 0, LATENCY_SAMPLES - 1)
            replies = await pipe.execute()
        per_office = len(starts) + 1
        result = []
        for index in range(len(offices)):
            *hashes, samples = replies[index * per_office : (index + 1) * per_office]
            result.append(summarize(starts, hashes, (float(s) for s in samples)))
        return result
