"""The sender worker: `whatsapp.outbound` → Meta's Graph API, once per reply.

Per reply, in order:
1. idempotency: a key already sent is skipped (a redelivered reply is never sent twice);
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
from collections.abc import Sequence

from gerbang import metrics
from gerbang.bus import Publish, Reject
from gerbang.messages import OutboundReply, ReplyContent, TemplateContent
from gerbang.offices import OfficeRegistry, office_secret
from gerbang.opsstats import OpsStats
from gerbang_gateway.graph import (
    GraphClient,
    OutsideWindowError,
    PairRateLimited,
    PermanentSendError,
    RetryableSendError,
    backoff_delay,
    build_payload,
)
from gerbang_gateway.redis_state import RateLimiter, SentLog, Sessions
from gerbang_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class Sender:
    """Sends replies through the Graph API; one instance per process."""

    def __init__(
        self,
        settings: GatewaySettings,
        registry: OfficeRegistry,
        graph: GraphClient,
        sessions: Sessions,
        sent: SentLog,
        limiter: RateLimiter,
        stats: OpsStats | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.graph = graph
        self.sessions = sessions
        self.sent = sent
        self.limiter = limiter
        self.stats = stats
        self._tokens = {
            office.code: office_secret(
                office.code, "ACCESS_TOKEN", development=settings.development
            )
            for office in registry
        }
        self._rng = random.Random()

    async def handle(self, reply: OutboundReply) -> Sequence[Publish]:
        """Send one reply (or skip it if it was sent already)."""
        previous = await self.sent.claim(reply.idempotency_key)
        while previous == "sending":
            # Another sender holds the claim (a rebalance moment); wait for its outcome.
            await asyncio.sleep(0.5)
            previous = await self.sent.claim(reply.idempotency_key)
        if previous is not None:
            log.info(
                "reply already sent; skipped", extra={"idempotency_key": reply.idempotency_key}
            )
            return []
        try:
            wamid, kind = await self._send(reply)
        except BaseException:
            await self.sent.release(reply.idempotency_key)
            raise
        await self.sent.confirm(reply.idempotency_key, wamid)
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

    async def _send(self, reply: OutboundReply) -> tuple[str, str]:
        office = self.registry.get(reply.office)
        now = time.time()
        session = await self.sessions.apply_reply(reply, now)
        content: ReplyContent = reply.content
        if not session.within_window(now, self.settings.window_hours):
            content = self._outside_window(reply)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(reply.phone_number_id, office.whatsapp.throughput_mps)
            try:
                payload = build_payload(reply.wa_id, content)
                # Meta echoes this in the status webhooks: ties a delivery to its reply.
                payload["biz_opaque_callback_data"] = reply.idempotency_key[:512]
                wamid = await self.graph.send(
                    reply.phone_number_id, self._tokens[reply.office], payload
                )
                return wamid, content.type
            except OutsideWindowError as exc:
                metrics.SEND_FAILURES.labels(reply.office, str(exc.code), "no").inc()
                await self._record_failure(reply.office, exc.code)
                if isinstance(content, TemplateContent):
                    raise Reject(f"template refused outside the window: {exc}") from exc
                content = self._outside_window(reply)
            except PermanentSendError as exc:
                metrics.SEND_FAILURES.labels(reply.office, str(exc.code), "yes").inc()
                await self._record_failure(reply.office, exc.code)
                raise Reject(f"Graph API refused the message: {exc}") from exc
            except RetryableSendError as exc:
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
