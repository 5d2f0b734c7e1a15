"""Redis side of the feedback service: ticket numbers and the ops view of `feedback.recorded`.

Keys (all under `<topic_prefix>gerbang:feedback:`):
    msg:<message_id>                      → ticket (one ticket per inbound message)
    seq:<office>:<year>                   → last ticket number of the office that year
    ticket:<ticket>                       hash: the record and its handling
    office:<office>                       sorted set of tickets by received_at
    office:<office>:kind:<kind>           same, per kind
    office:<office>:status:<status>       same, per status (open, in_progress, answered, handled)
    office:<office>:urgent:<0|1>          same, urgent or not
    view:ready                            set once the view holds the whole log

The log of record is `feedback.recorded`; everything here can be rebuilt from it
(`rebuild.rebuild_view`). Applying an event is idempotent and a duplicate record on the log
(at-least-once delivery: a worker that died after producing and before committing) is a
no-op, so the view, the API and the CSV show every ticket exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from redis.asyncio import Redis

from gerbang.bus import Unavailable
from gerbang.messages import (
    FeedbackAddendum,
    FeedbackHandled,
    FeedbackKind,
    FeedbackProgress,
    FeedbackRecord,
)
from gerbang.offices import Office
from gerbang_feedback.inbox import (
    FeedbackEntry,
    FeedbackQuery,
    Status,
    entry_from_fields,
    handled_fields,
    progress_fields,
    record_fields,
)
from gerbang_feedback.tickets import parse_ticket, ticket_prefix

log = logging.getLogger(__name__)


class ViewNotReady(Unavailable):
    """The view is being rebuilt from the log: ticket numbers are not safe to hand out yet."""


# Returns {ticket, 1 if new}. Ticket numbers are handed out only while the view is complete
# (KEYS[3]); otherwise a flushed Redis would restart the sequence and reuse numbers.
_ASSIGN = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {false, -1} end
local seq = redis.call('INCR', KEYS[2])
local ticket = ARGV[1] .. string.format('%06d', seq)
redis.call('SET', KEYS[1], ticket)
return {ticket, 1}
"""

# KEYS: hash, msg, seq, then the index sets; ARGV: score, ticket, seq, then field/value pairs.
# First write wins: a duplicate record never overwrites a ticket (nor reopens a handled one).
_APPLY_RECORD = """
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current < tonumber(ARGV[3]) then redis.call('SET', KEYS[3], ARGV[3]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
for i = 4, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2]) end
return 1
"""

# KEYS: seq; ARGV: seq. The counter never goes back (a rebuilt view must not reuse numbers).
_RAISE_SEQ = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""

# KEYS: hash, the target status set, then every other status set; ARGV: ticket, then
# field/value pairs. Moves the ticket to the target status (its score kept).
_APPLY_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  local s = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if s then score = s; redis.call('ZREM', KEYS[i], ARGV[1]) end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if score then redis.call('ZADD', KEYS[2], score, ARGV[1]) end
return 1
"""


# KEYS: hash; ARGV: message id of the addition, the line to append. Once per message (a
# redelivered addendum is a no-op); nothing for a ticket not in the view.
_APPLY_ADDENDUM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], 'added:' .. ARGV[1], '1') == 0 then return 0 end
local text = redis.call('HGET', KEYS[1], 'text') or ''
redis.call('HSET', KEYS[1], 'text', text .. ARGV[2])
return 1
"""


class FeedbackView:
    """Ticket numbers and the ops view, on one Redis database."""

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self.redis = redis
        self.base = f"{prefix}gerbang:feedback:"
        self._assign = redis.register_script(_ASSIGN)
        self._apply_record = redis.register_script(_APPLY_RECORD)
        self._apply_status = redis.register_script(_APPLY_STATUS)
        self._raise_seq = redis.register_script(_RAISE_SEQ)
        self._apply_addendum = redis.register_script(_APPLY_ADDENDUM)

    # --- keys ---------------------------------------------------------------------------

    def msg_key(self, message_id: str) -> str:
        """Ticket of an inbound message."""
        return f"{self.base}msg:{message_id}"

    def seq_key(self, office: str, year: int) -> str:
        """Ticket counter of an office in a year."""
        return f"{self.base}seq:{office}:{year}"

    def ticket_key(self, ticket: str) -> str:
        """Hash of one ticket."""
        return f"{self.base}ticket:{ticket}"

    def office_key(self, office: str, index: str | None = None) -> str:
        """Sorted set of an office's tickets (all, or one index such as `kind:complaint`)."""
        return f"{self.base}office:{office}" + (f":{index}" if index else "")

    @property
    def ready_key(self) -> str:
        """Set once the view holds the whole log."""
        return f"{self.base}view:ready"

    def _index_keys(self, office: str) -> list[str]:
        kinds = [self.office_key(office, f"kind:{kind.value}") for kind in FeedbackKind]
        statuses = [self.office_key(office, f"status:{status.value}") for status in Status]
        urgent = [self.office_key(office, f"urgent:{flag}") for flag in ("0", "1")]
        return [self.office_key(office), *kinds, *statuses, *urgent]

    # --- tickets ------------------------------------------------------------------------

    async def assign_ticket(self, office: Office, year: int, message_id: str) -> tuple[str, bool]:
        """The ticket of an inbound message: the one it already has, else the next number.

        Returns (ticket, True if newly assigned). Atomic (one Lua script), so two workers
        handling the same redelivered message agree. Raises `ViewNotReady` while the view is
        being rebuilt.
        """
        ticket, new = await self._assign(
            keys=[self.msg_key(message_id), self.seq_key(office.code, year), self.ready_key],
            args=[ticket_prefix(office.ticket_prefix, year)],
        )
        if new == -1:
            raise ViewNotReady("feedback view is rebuilding; ticket numbers wait for it")
        return str(ticket), new == 1

    # --- applying the log ---------------------------------------------------------------

    async def apply_record(self, record: FeedbackRecord) -> bool:
        """Add a record to the view (no-op for a duplicate). True if it was new."""
        parsed = parse_ticket(record.ticket)
        fields = record_fields(record)
        keys = [
            self.ticket_key(record.ticket),
            self.msg_key(record.message_id),
            self.seq_key(record.office, parsed.year),
            self.office_key(record.office),
            self.office_key(record.office, f"kind:{record.kind.value}"),
            self.office_key(record.office, f"status:{Status.OPEN.value}"),
            self.office_key(record.office, f"urgent:{fields['urgent']}"),
        ]
        args: list[str | float | int] = [record.received_at.timestamp(), record.ticket, parsed.seq]
        for name, value in fields.items():
            args.extend((name, value))
        return bool(await self._apply_record(keys=keys, args=args))

    async def keep_sequence(self, record: FeedbackRecord) -> None:
        """Only raise the office's counter past this record's number (record past retention)."""
        parsed = parse_ticket(record.ticket)
        await self._raise_seq(keys=[self.seq_key(record.office, parsed.year)], args=[parsed.seq])

    async def _move(self, office: str, ticket: str, fields: dict[str, str]) -> bool:
        target = Status(fields["status"])
        keys = [
            self.ticket_key(ticket),
            self.office_key(office, f"status:{target.value}"),
            *(self.office_key(office, f"status:{s.value}") for s in Status if s is not target),
        ]
        args: list[str] = [ticket]
        for name, value in fields.items():
            args.extend((name, value))
        return bool(await self._apply_status(keys=keys, args=args))

    async def apply_handled(self, event: FeedbackHandled) -> bool:
        """Mark a ticket handled (closed) in the view. False if the ticket is not in it."""
        return await self._move(event.office, event.ticket, handled_fields(event))

    async def apply_progress(self, event: FeedbackProgress) -> bool:
        """Move a ticket to in progress or answered. False if the ticket is not in the view."""
        return await self._move(event.office, event.ticket, progress_fields(event))

    async def apply_addendum(self, event: FeedbackAddendum) -> bool:
        """Append the citizen's added detail to the ticket's text (once per message)."""
        line = f"\n\n[+ {event.received_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC] {event.text}"
        keys = [self.ticket_key(event.ticket)]
        return bool(await self._apply_addendum(keys=keys, args=[event.message_id, line]))

    async def mark_ready(self) -> None:
        """The view now holds the whole log: ticket numbers may be handed out."""
        await self.redis.set(self.ready_key, "1")

    async def is_ready(self) -> bool:
        """True if the view was built (False after Redis lost its data)."""
        return bool(await self.redis.exists(self.ready_key))

    # --- reading ------------------------------------------------------------------------

    async def get(self, ticket: str) -> FeedbackEntry | None:
        """One ticket, or None."""
        fields = await self.redis.hgetall(self.ticket_key(ticket))
        return entry_from_fields(fields) if fields else None

    async def query(
        self, query: FeedbackQuery, offices: Sequence[str]
    ) -> tuple[int, list[FeedbackEntry]]:
        """Tickets of `offices` matching the filters, newest first: (total, the page)."""
        low, high = query.score_range()
        matches: list[tuple[float, str]] = []
        for office in offices:
            keys = [self.office_key(office)]
            if query.kind is not None:
                keys.append(self.office_key(office, f"kind:{query.kind.value}"))
            if query.status is not None:
                keys.append(self.office_key(office, f"status:{query.status.value}"))
            if query.urgent is not None:
                keys.append(self.office_key(office, f"urgent:{int(query.urgent)}"))
            if len(keys) == 1:
                found = await self.redis.zrangebyscore(keys[0], low, high, withscores=True)
            else:
                found = [
                    (ticket, score)
                    for ticket, score in await self.redis.zinter(
                        keys, withscores=True, aggregate="MAX"
                    )
                    if low <= score <= high
                ]
            matches.extend((score, ticket) for ticket, score in found)
        matches.sort(reverse=True)
        page = matches[query.offset : query.offset + query.limit]
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, ticket in page:
                pipe.hgetall(self.ticket_key(ticket))
            hashes = await pipe.execute()
        return len(matches), [entry_from_fields(fields) for fields in hashes if fields]

    # --- retention ----------------------------------------------------------------------

    async def purge_before(self, office: str, cutoff: float, batch: int = 500) -> int:
        """Remove an office's tickets received before `cutoff` (epoch seconds) from the view."""
        removed = 0
        while True:
            tickets = await self.redis.zrangebyscore(
                self.office_key(office), "-inf", f"({cutoff}", start=0, num=batch
            )
            if not tickets:
                return removed
            async with self.redis.pipeline(transaction=False) as pipe:
                for ticket in tickets:
                    pipe.hget(self.ticket_key(ticket), "message_id")
                message_ids = await pipe.execute()
            async with self.redis.pipeline(transaction=True) as pipe:
                for ticket, message_id in zip(tickets, message_ids, strict=True):
                    for key in self._index_keys(office):
                        pipe.zrem(key, ticket)
                    pipe.delete(self.ticket_key(ticket))
                    if message_id:
                        pipe.delete(self.msg_key(message_id))
                await pipe.execute()
            removed += len(tickets)
