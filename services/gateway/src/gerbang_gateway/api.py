"""The webhook API: Meta's verification handshake and signed webhook POSTs.

A POST is answered 200 only once its messages are durably in Kafka (acks=all): if Kafka or
Redis is down we answer 503 and Meta delivers again (for up to 7 days), so nothing is lost.
What we accept but cannot route (an unknown number, a malformed change, a message too large
for Kafka) is kept on `whatsapp.unrouted` and answered 200, because any other answer makes
Meta redeliver it for a week (reference: whatsapp-cloud-api.md §1.4). Size is checked before
producing: a record over `kafka_max_message_bytes` is the payload's fault, not an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from gerbang import metrics
from gerbang.bus import Producer, Publish
from gerbang.logs import bind
from gerbang.messages import DeliveryEvent, DeliveryStatus, Topic, UnroutedPayload
from gerbang.offices import OfficeRegistry, load_registry, office_secret
from gerbang.profiling import write_profile
from gerbang.redisconn import connect_redis
from gerbang.service import settle_heap
from gerbang_gateway.broadcast import BroadcastStore
from gerbang_gateway.ops.pages import install_ops, ops_running
from gerbang_gateway.redis_state import Dedupe, StatusLog
from gerbang_gateway.settings import GatewaySettings
from gerbang_gateway.signature import (
    InvalidHandshake,
    InvalidSignature,
    verify_handshake,
    verify_signature,
)
from gerbang_gateway.subscriptions import SubscriptionStore
from gerbang_gateway.webhook import (
    MalformedWebhook,
    dedupe_key,
    keep_aside_oversized,
    parse_webhook,
)

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """What the API needs, built once at start-up."""

    settings: GatewaySettings
    registry: OfficeRegistry
    producer: Producer
    redis: Redis
    dedupe: Dedupe
    statuses: StatusLog
    broadcasts: BroadcastStore
    subscriptions: SubscriptionStore
    secrets: dict[str, frozenset[str]]
    """app secret → office codes signed with it (one Meta app may serve several offices)."""


async def get_gateway(request: Request) -> Gateway:
    """The gateway state of this app.

    `async` on purpose: FastAPI runs a plain `def` dependency in a worker thread, which cost
    every webhook a thread-pool round trip (≈24% of the edge's CPU at 64 connections).
    """
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def _app_secrets(settings: GatewaySettings, registry: OfficeRegistry) -> dict[str, frozenset[str]]:
    by_secret: dict[str, set[str]] = {}
    for office in registry:
        secret = office_secret(office.code, "APP_SECRET", development=settings.development)
        by_secret.setdefault(secret, set()).add(office.code)
    return {secret: frozenset(codes) for secret, codes in by_secret.items()}


WEBHOOK_PATH = "/webhook/whatsapp"

Answer = tuple[int, dict[str, Any]]
"""A webhook's HTTP status and JSON body."""


def _error(status: int, error: str, detail: str) -> Answer:
    return status, {"error": error, "detail": detail}


class GatewayApp(FastAPI):
    """FastAPI, with Meta's webhook POST answered ahead of the middleware stack.

    Every webhook (the citizens' messages and, for each reply, Meta's status webhooks) used to
    pass through Starlette's error middleware, FastAPI's telemetry and body-limit layers, the
    `/ops` security headers, the exception middleware, an exit stack and the router before
    reaching a handler that reads the raw body and answers itself. Here a POST to the
    webhook path goes straight to `webhook_asgi`; everything else is FastAPI as before.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST":
            await webhook_asgi(self.state.gateway, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def webhook_asgi(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """A signed webhook from Meta as a plain ASGI exchange: messages to `whatsapp.inbound`,
    statuses to the status log (and failures to `whatsapp.events`)."""
    started = time.perf_counter()
    signature: str | None = None
    declared = b""
    for name, value in scope["headers"]:
        if name == b"x-hub-signature-256":
            signature = value.decode("latin-1")
        elif name == b"content-length":
            declared = value
    limit = gateway.settings.max_body_bytes
    body: bytes | None = None
    if not (declared.isdigit() and int(declared) > limit):
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # Meta gave up on this delivery; it delivers again
            chunks += message.get("body", b"")
            if len(chunks) > limit:
                break
            if not message.get("more_body", False):
                body = bytes(chunks)
                break
    status, answer = await _receive(gateway, body, signature)
    payload = _render(answer)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(payload)).encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
    metrics.WEBHOOK_ACK_SECONDS.observe(time.perf_counter() - started)


def _render(answer: dict[str, Any]) -> bytes:
    """The answer as Starlette's JSONResponse renders it; the accepted webhook's counts (every
    webhook but a refused one) without the JSON encoder."""
    if all(type(value) is int for value in answer.values()):
        return (
            "{" + ",".join(f'"{name}":{value}' for name, value in answer.items()) + "}"
        ).encode()
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _install_simulator(app: FastAPI, settings: GatewaySettings) -> None:
    """Mount `/simulator` in development, from the development tools (tools/devtools).

    The production images hold only this service's member, so there the page does not exist;
    the import is here, not at the top, because production must start without it.
    """
    if not (settings.development and settings.simulator_enabled):
        return
    try:
        from gerbang_devtools.simulator import install_simulator
    except ImportError:
        log.warning("simulator enabled but gerbang-devtools is not installed; no /simulator")
        return
    install_simulator(app, settings)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway's FastAPI app (webhook, health, metrics, ops pages)."""
    settings = settings or GatewaySettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_registry(settings.offices_dir)
        producer = Producer(settings, "gateway-api")
        # Fails fast (2 s) when Redis is down or saturated: the webhook answers 503, Meta retries.
        redis = connect_redis(
            settings,
            socket_timeout=2.0,
            pool_timeout=2.0,
        )
        await producer.start()
        app.state.gateway = Gateway(
            settings=settings,
            registry=registry,
            producer=producer,
            redis=redis,
            dedupe=Dedupe(redis, settings.topic_prefix, settings.dedupe_ttl_s),
            statuses=StatusLog(redis, settings.topic_prefix, settings.status_log_ttl_s),
            broadcasts=BroadcastStore(redis, settings.topic_prefix),
            subscriptions=SubscriptionStore(redis, settings.topic_prefix),
            secrets=_app_secrets(settings, registry),
        )
        log.info("gateway api ready", extra={"offices": len(registry)})
        try:
            async with ops_running(app):
                settle_heap()
                yield
        finally:
            await app.state.gateway.dedupe.flush()
            await producer.stop()
            await redis.aclose()
            write_profile()

    app = GatewayApp(title="Gerbang gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings

    @app.get(WEBHOOK_PATH, response_class=PlainTextResponse)
    async def handshake(
        gateway: GatewayDep,
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
    ) -> Response:
        """Meta's subscription check: echo the challenge if the verify token matches."""
        try:
            answer = verify_handshake(
                mode, token, challenge, gateway.settings.verify_token.get_secret_value()
            )
        except InvalidHandshake as exc:
            return PlainTextResponse(f"verification failed: {exc}", status_code=403)
        return PlainTextResponse(answer)

    # POST WEBHOOK_PATH is answered by `GatewayApp` itself (`webhook_asgi`), before routing.

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(gateway: GatewayDep) -> Response:
        """Ready when Redis and Kafka answer."""
        checks: dict[str, bool] = {}
        try:
            checks["redis"] = bool(await gateway.redis.ping())
        except RedisError:
            checks["redis"] = False
        try:
            client = gateway.producer._producer.client
            checks["kafka"] = bool(
                await asyncio.wait_for(client.ready(client.get_random_node()), 2)
            )
        except (KafkaError, TimeoutError, TypeError):
            checks["kafka"] = False
        ok = all(checks.values())
        return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics of the API process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # After the webhook's routes: Starlette tries routes in order, and every webhook used to
    # be matched against each `/ops` route first.
    install_ops(app)
    _install_simulator(app, settings)
    return app


async def _receive(gateway: Gateway, body: bytes | None, signature: str | None) -> Answer:
    """The answer to a webhook (`body` None: over `max_body_bytes`)."""
    settings = gateway.settings
    if body is None:
        metrics.WEBHOOKS.labels("too_large").inc()
        return _error(413, "payload_too_large", f"body over {settings.max_body_bytes} bytes")
    try:
        secret = verify_signature(body, signature, gateway.secrets.keys())
    except InvalidSignature as exc:
        metrics.WEBHOOKS.labels("bad_signature").inc()
        log.warning("webhook rejected: bad signature", extra={"reason": str(exc)})
        return _error(401, "invalid_signature", str(exc))
    received_at = dt.datetime.now(dt.UTC)
    try:
        parsed = parse_webhook(body, gateway.registry, received_at=received_at)
    except MalformedWebhook as exc:
        metrics.WEBHOOKS.labels("malformed").inc()
        log.warning("webhook rejected: malformed", extra={"reason": str(exc)})
        return _error(400, "malformed_webhook", str(exc))
    parsed = keep_aside_oversized(
        parsed,
        message_limit=settings.max_inbound_message_bytes,
        record_limit=settings.kafka_max_message_bytes,
    )

    allowed = gateway.secrets[secret]
    messages = [m for m in parsed.messages if m.office in allowed]
    events = [e for e in parsed.events if e.office in allowed]
    unrouted = list(parsed.unrouted)
    for stray in [m for m in parsed.messages if m.office not in allowed] + [
        e for e in parsed.events if e.office not in allowed
    ]:
        # Signed with another app's secret than this office's: keep it, do not route it.
        unrouted.append(
            UnroutedPayload(
                reason="signed with a secret that is not this office's",
                phone_number_id=stray.phone_number_id,
                payload={"message_id": stray.message_id, "office": stray.office},
            )
        )
    # Every reply brings Meta's sent/delivered/read webhooks: they are counted and marked in
    # the status log, nothing more. Only a status that needs a reader (a failure, errors, a
    # status Meta adds later) goes to whatsapp.events, with dedupe: see `_needs_record`.
    routine = [e for e in events if not _needs_record(e)]
    events = [e for e in events if _needs_record(e)]
    ids = [dedupe_key(item) for item in [*messages, *events]]
    try:
        claimed, done, pending = await gateway.dedupe.claim(ids)
    except RedisError as exc:
        metrics.WEBHOOKS.labels("redis_unavailable").inc()
        log.error("redis unavailable; asking Meta to redeliver", extra={"error": repr(exc)})
        return _error(503, "unavailable", "state store unavailable, retry later")
    try:
        # Meta has the messages these statuses are about: a sender that does not know the
        # outcome of such a send learns it here (gerbang_gateway.sender, `_reconcile`).
        await gateway.statuses.record(
            [(e.callback_data, e.message_id) for e in [*routine, *events] if e.callback_data]
        )
        # A broadcast's delivery report (only broadcast sends cost a call here).
        await gateway.broadcasts.record_statuses([*routine, *events])
    except RedisError as exc:
        await _release(gateway, claimed)
        metrics.WEBHOOKS.labels("redis_unavailable").inc()
        log.error("redis unavailable; asking Meta to redeliver", extra={"error": repr(exc)})
        return _error(503, "unavailable", "state store unavailable, retry later")
    if pending:
        # The same message is being produced by a concurrent delivery; if that fails, this
        # one must not have been acked, so ask Meta to come back.
        metrics.WEBHOOKS.labels("concurrent_duplicate").inc()
        await _release(gateway, claimed)
        return _error(503, "in_progress", "the same message is being processed, retry later")
    fresh = set(claimed)
    publishes = [Publish(Topic.INBOUND, m.key, m) for m in messages if dedupe_key(m) in fresh]
    publishes += [Publish(Topic.EVENTS, e.key, e) for e in events if dedupe_key(e) in fresh]
    publishes += [Publish(Topic.UNROUTED, u.phone_number_id, u) for u in unrouted]
    if publishes:
        try:
            async with asyncio.timeout(settings.produce_timeout_s):  # no task of its own
                await gateway.producer.publish_many(publishes)
        except (KafkaError, TimeoutError) as exc:
            await _release(gateway, claimed)
            metrics.WEBHOOKS.labels("kafka_unavailable").inc()
            log.error("kafka unavailable; asking Meta to redeliver", extra={"error": repr(exc)})
            return _error(503, "unavailable", "message bus unavailable, retry later")
    # Already durable in Kafka: answer 200 now. The confirmation joins the other webhooks'
    # in one Redis round trip; if it is lost, the pending claim expires and a redelivery
    # after that is produced again (the sender's idempotency key stops a second reply).
    if claimed:
        gateway.dedupe.confirm_soon(claimed)
    for message in messages:
        with bind(office=message.office, message_id=message.message_id, wa_id=message.wa_id):
            if dedupe_key(message) in fresh:
                metrics.MESSAGES_IN.labels(message.office, message.kind.value).inc()
            else:
                metrics.DUPLICATES_DROPPED.labels(message.office).inc()
                log.info("redelivered message dropped")
    for event in [*routine, *(e for e in events if dedupe_key(e) in fresh)]:
        metrics.DELIVERY_EVENTS.labels(event.office, str(event.status)).inc()
    for item in unrouted:
        metrics.UNROUTED.labels(item.reason[:40]).inc()
    _ACCEPTED.inc()
    return 200, {
        "accepted": len(fresh) + len(routine),
        "duplicates": len(done),
        "unrouted": len(unrouted),
        "ignored": len(parsed.ignored),
    }


_ACCEPTED = metrics.WEBHOOKS.labels("accepted")
"""Every accepted webhook's label child, looked up once (a lookup costs more than the count)."""

_ROUTINE_STATUSES = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ})


def _needs_record(event: DeliveryEvent) -> bool:
    """Whether a status goes to whatsapp.events (deduplicated) rather than only being counted.

    A routine sent/delivered/read status without errors has no reader beyond the counter
    and the status log (`StatusLog`, idempotent), so it costs no dedupe claim and no Kafka
    record; a Meta redelivery of one is counted twice, which a rate cannot tell from noise.
    """
    return event.status not in _ROUTINE_STATUSES or bool(event.errors)


async def _release(gateway: Gateway, ids: list[str]) -> None:
    try:
        await gateway.dedupe.release(ids)
    except RedisError as exc:
        # The pending claims expire by themselves (Dedupe.PENDING_TTL_S).
        log.warning("could not release dedupe claims", extra={"error": repr(exc)})
