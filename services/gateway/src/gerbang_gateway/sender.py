"""The sender worker: `whatsapp.outbound` → Meta's Graph API, once per reply.

Per reply, in order (steps 1, 2 and 4's reservation are one Redis call for the first attempt,
shared by every reply in flight: `SendStarts`):
1. idempotency: a key already sent is skipped (a redelivered reply is never sent twice); a
   key whose send has an unknown outcome (a sender died mid-send, a call timed out) is
   reconciled with Meta's status webhook before it is ever sent again (see `SentLog`);
2. the reply's directive is stored in the conversation (before the citizen can answer);
3. the 24-hour window: outside it only an approved template may go (131047 otherwise);
4. the number's throughput (Redis, shared by every sender replica);
5. the Graph API call, retried with backoff and jitter on retryable errors; what cannot be
   sent is dead-lettered to `whatsapp.outbound.dlq` with the error, visible to ops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from gerbang import metrics
from gerbang.bus import Publish, Reject
from gerbang.messages import OutboundReply, ReplyContent, TemplateContent
from gerbang.offices import OfficeRegistry, office_secret
from gerbang.opsstats import OpsStats
from gerbang_gateway.graph import (
    GraphClient,
    OutcomeUnknown,
    OutsideWindowError,
    PairRateLimited,
    PermanentSendError,
    RetryableSendError,
    backoff_delay,
    build_payload,
)
from gerbang_gateway.redis_state import (
    RateLimiter,
    SendStart,
    SendStarts,
    SentLog,
    Sessions,
    StatusLog,
    sending_value,
)
from gerbang_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


def callback_data(reply: OutboundReply) -> str:
    """What the send carries as `biz_opaque_callback_data` (Meta's limit: 512 characters) and
    Meta echoes in the send's status webhooks: the reply's idempotency key."""
    return reply.idempotency_key[:512]


@dataclass(frozen=True)
class _Settled:
    """How a wait for a send of unknown outcome ended: Meta's status showed it sent
    (`wamid`), we took the claim over to send again (`claim`), or neither (look again)."""

    wamid: str | None = None
    claim: str | None = None


@dataclass
class _Call:
    """Our claim on a reply, and whether a Graph call of ours may have reached Meta (then the
    claim must stay for reconciliation, never be released)."""

    claim: str
    deadline: float
    maybe_sent: bool = False
    start: SendStart | None = None
    """The first round trip's conversation and rate-limit slot (`SendStarts`), if it won
    the claim; None when the claim was won later (then `_send` reads and reserves itself)."""


class _HandledElsewhere(Exception):
    """Another sender took over this reply's claim: its outcome is that sender's now."""


class Sender:
    """Sends replies through the Graph API; one instance per process."""

    POLL_S = 0.2
    """How often a reply of unknown outcome looks for Meta's status."""

    def __init__(
        self,
        settings: GatewaySettings,
        registry: OfficeRegistry,
        graph: GraphClient,
        sessions: Sessions,
        sent: SentLog,
        limiter: RateLimiter,
        stats: OpsStats | None = None,
        *,
        statuses: StatusLog | None = None,
        still_subscribed: Callable[[OutboundReply], Awaitable[bool]] | None = None,
    ) -> None:
        """`statuses`: where the webhook API notes Meta's status webhooks (default: the same
        Redis as `sent`); `still_subscribed`: whether a broadcast send may still go (the
        citizen may have opted out since it was produced)."""
        self.settings = settings
        self.registry = registry
        self.graph = graph
        self.sessions = sessions
        self.sent = sent
        self.statuses = statuses or StatusLog(sent.redis, sent.prefix, settings.status_log_ttl_s)
        self.limiter = limiter
        self.starts = SendStarts(sessions, sent, limiter)
        self.stats = stats
        self.still_subscribed = still_subscribed
        self._tokens = {
            office.code: office_secret(
                office.code, "ACCESS_TOKEN", development=settings.development
            )
            for office in registry
        }
        self._rng = random.Random()
        # Claims this process holds whose Graph call never started, but whose release failed
        # (Redis down): the retry of the same reply may take them over at once.
        self._unsent: dict[str, str] = {}

    def _deadline(self) -> float:
        """Until when a send started now may still turn out to have reached Meta: the call's
        timeout, then the time Meta's status webhook may take."""
        return time.time() + self.settings.graph_timeout_s + self.settings.send_status_wait_s

    async def handle(self, reply: OutboundReply) -> Sequence[Publish]:
        """Send one reply (or skip it if it was sent already)."""
        if (
            reply.broadcast is not None
            and self.still_subscribed is not None
            and not await self.still_subscribed(reply)
        ):
            log.info("broadcast send held back: the citizen opted out, or the broadcast stopped")
            return []
        call = await self._acquire(reply)
        if call is None:
            return []
        try:
            wamid, kind = await self._send(reply, call)
        except _HandledElsewhere:
            return []
        except BaseException:
            if not call.maybe_sent:
                await self._release(reply.idempotency_key, call.claim)
            raise
        # Meta has the message: only this write is left, and it is retried alone (never
        # claim-and-send again, which would send twice).
        await _write_until_done(self.sent.confirm, reply.idempotency_key, wamid)
        metrics.MESSAGES_OUT.labels(
            reply.office, reply.intent.value if reply.intent else "", kind
        ).inc()
        latency = (
            max(0.0, time.time() - reply.inbound_received_at.timestamp())
            if reply.inbound_received_at is not None
            else None
        )
        if latency is not None:
            metrics.E2E_SECONDS.labels(reply.office).observe(latency)
        if self.stats is not None:  # per-office history for /ops
            await self.stats.record_sent(reply.office, latency)
        log.info("reply sent", extra={"wamid": wamid, "kind": kind})
        return []

    async def _acquire(self, reply: OutboundReply) -> _Call | None:
        """Claim the reply for sending; None if it was sent already (or is found sent by
        Meta's status webhook after a send of unknown outcome)."""
        key = reply.idempotency_key
        first = True
        while True:
            deadline = self._deadline()
            if first:  # the claim, the conversation and the rate-limit slot in one call
                first = False
                try:
                    start = await self.starts.start(
                        reply, deadline, self.registry.get(reply.office).whatsapp.throughput_mps
                    )
                except RedisError:
                    # The call may have claimed the reply before its answer was lost: then
                    # the claim is ours, with no Graph call behind it, and the retry may take
                    # it back at once (as after a failed release).
                    self._unsent[key] = sending_value(deadline)
                    raise
                if start.claim.free:
                    return _Call(sending_value(deadline), deadline, start=start)
                claim = start.claim
                if claim.wamid is None and not claim.pending:
                    continue
            else:
                claim = await self.sent.claim(key, deadline)
                if claim.free:
                    return _Call(sending_value(deadline), deadline)
            if claim.wamid is not None:
                log.info("reply already sent; skipped", extra={"idempotency_key": key})
                return None
            assert claim.pending is not None
            if self._unsent.pop(key, None) == claim.pending:
                # Our own earlier attempt, which never called Meta: take it back at once.
                if await self.sent.take_over(key, claim.pending, deadline):
                    return _Call(sending_value(deadline), deadline)
                continue
            # Another sender is sending it, or one died mid-send (outcome unknown).
            settled = await self._reconcile(reply, claim.pending, claim.deadline or deadline)
            if settled.wamid is not None:
                await _write_until_done(self.sent.confirm, key, settled.wamid)
                return None
            if settled.claim is not None:
                return _Call(settled.claim, self._deadline())

    async def _reconcile(self, reply: OutboundReply, seen: str, until: float) -> _Settled:
        """Wait (up to `until`) for Meta's status of a send of unknown outcome; take the
        claim over once `until` passed without one. Returns early when the claim changes
        (its owner confirmed, released or retried it)."""
        key = reply.idempotency_key
        while True:
            wamid = await self.statuses.seen(callback_data(reply))
            if wamid is not None:
                await self._settled_unknown(reply.office, "status")
                log.info("send of unknown outcome reached Meta (status seen); not repeated")
                return _Settled(wamid=wamid)
            if time.time() >= until:
                deadline = self._deadline()
                if await self.sent.take_over(key, seen, deadline):
                    await self._settled_unknown(reply.office, "resent")
                    log.warning("no status from Meta for a send of unknown outcome; resending")
                    return _Settled(claim=sending_value(deadline))
                return _Settled()
            await asyncio.sleep(self.POLL_S)
            current = await self.sent.peek(key)
            if current is None or current.pending != seen:
                return _Settled()

    async def _settled_unknown(self, office: str, how: str) -> None:
        metrics.SEND_OUTCOME_UNKNOWN.labels(office, how).inc()
        if self.stats is not None:  # visible in /ops
            await self.stats.record_unknown_outcome(office, how)

    async def _release(self, key: str, claim: str) -> None:
        try:
            await self.sent.release(key)
        except RedisError as exc:
            # Meta surely has nothing; the next attempt here takes the claim back at once
            # (another sender waits out its deadline).
            self._unsent[key] = claim
            log.warning("claim not released (Redis)", extra={"error": repr(exc)})

    async def _send(self, reply: OutboundReply, call: _Call) -> tuple[str, str]:
        office = self.registry.get(reply.office)
        now = time.time()
        if call.start is not None and call.start.session is not None:
            session = call.start.session
        else:
            session = await self.sessions.apply_reply(reply, now)
        content: ReplyContent = reply.content
        # (A reply refused here may leave its reserved slot unused: a second's budget one
        # message short, never over the number's throughput.)
        if not session.within_window(now, self.settings.window_hours):
            content = self._outside_window(reply)
        attempt = 0
        while True:
            attempt += 1
            per_second = office.whatsapp.throughput_mps
            if attempt == 1 and call.start is not None:
                await self.limiter.wait_for(reply.phone_number_id, per_second, call.start.at_ms)
            else:
                await self.limiter.acquire(reply.phone_number_id, per_second)
            if self._deadline() > call.deadline + 1.0:
                # The wait for a slot was long: move the claim's deadline past this call.
                call.deadline = self._deadline()
                call.claim = await self.sent.extend(reply.idempotency_key, call.deadline)
            try:
                payload = build_payload(reply.wa_id, content)
                # Meta echoes this in the status webhooks: ties a delivery to its reply, and
                # settles a send of unknown outcome (see `_reconcile`).
                payload["biz_opaque_callback_data"] = callback_data(reply)
                call.maybe_sent = True
                wamid = await self.graph.send(
                    reply.phone_number_id, self._tokens[reply.office], payload
                )
                return wamid, content.type
            except OutcomeUnknown as exc:
                metrics.SEND_FAILURES.labels(reply.office, "unknown", "no").inc()
                log.warning("send of unknown outcome; waiting for Meta's status")
                settled = await self._reconcile(
                    reply, call.claim, time.time() + self.settings.send_status_wait_s
                )
                if settled.wamid is not None:
                    return settled.wamid, content.type
                if settled.claim is None:
                    raise _HandledElsewhere from exc
                call.claim, call.deadline = settled.claim, self._deadline()
                if attempt >= self.settings.send_max_attempts:
                    call.maybe_sent = False
                    raise Reject(f"gave up after {attempt} attempts: {exc}") from exc
            except OutsideWindowError as exc:
                call.maybe_sent = False
                metrics.SEND_FAILURES.labels(reply.office, str(exc.code), "no").inc()
                await self._record_failure(reply.office, exc.code)
                if isinstance(content, TemplateContent):
                    raise Reject(f"template refused outside the window: {exc}") from exc
                content = self._outside_window(reply)
            except PermanentSendError as exc:
                call.maybe_sent = False
                metrics.SEND_FAILURES.labels(reply.office, str(exc.code), "yes").inc()
                await self._record_failure(reply.office, exc.code)
                raise Reject(f"Graph API refused the message: {exc}") from exc
            except RetryableSendError as exc:
                call.maybe_sent = False
                final = attempt >= self.settings.send_max_attempts
                metrics.SEND_FAILURES.labels(
                    reply.office, str(exc.code), "yes" if final else "no"
                ).inc()
                await self._record_failure(reply.office, exc.code)
                if final:
                    raise Reject(f"gave up after {attempt} attempts: {exc}") from exc
                delay = self._delay(exc, attempt)
                log.warning(
                    "send failed, retrying",
                    extra={"code": exc.code, "attempt": attempt, "retry_in_s": round(delay, 2)},
                )
                await asyncio.sleep(delay)

    async def _record_failure(self, office: str, code: int | None) -> None:
        if self.stats is not None:  # per-office history for /ops
            await self.stats.record_send_failure(office, code)

    def _delay(self, exc: RetryableSendError, attempt: int) -> float:
        if isinstance(exc, PairRateLimited):
            # Meta: retry a pair-rate-limited user after 4^X seconds.
            return float(min(4 ** (attempt - 1), self.settings.send_backoff_cap_s))
        if exc.retry_after is not None:
            return min(exc.retry_after, self.settings.send_backoff_cap_s)
        return backoff_delay(
            attempt,
            base=self.settings.send_backoff_base_s,
            cap=self.settings.send_backoff_cap_s,
            rng=self._rng,
        )

    @staticmethod
    def _outside_window(reply: OutboundReply) -> TemplateContent:
        if reply.template_fallback is None:
            raise Reject(
                "outside the 24-hour window and the reply has no approved template; "
                "configure the office's status_template"
            )
        return reply.template_fallback


async def _write_until_done(write: Callable[[str, str], Awaitable[None]], *args: str) -> None:
    """Retry one bookkeeping write (Redis down or loading) until it is stored: the send it
    records already happened, so only the write may be repeated."""
    attempt = 0
    while True:
        try:
            await write(*args)
            return
        except RedisError as exc:
            attempt += 1
            delay = min(5.0, 0.05 * 2**attempt)
            log.warning(
                "bookkeeping after a send failed; retrying that write alone",
                extra={"error": repr(exc), "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
