"""Wiring of the gateway's processes: `python -m gerbang_gateway api|router|sender`."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from gerbang.bus import Consumer, Producer
from gerbang.dialogue import DialogueSettings
from gerbang.logs import setup_logging
from gerbang.messages import DeliveryEvent, InboundMessage, OutboundReply, Topic
from gerbang.offices import load_registry
from gerbang.opsstats import OpsStats
from gerbang.profiling import maybe_profile
from gerbang.publishing.view import live_content
from gerbang.redisconn import connect_redis
from gerbang.service import run_main, run_worker
from gerbang.understanding.classify import IntentMatcher
from gerbang_gateway.api import create_app
from gerbang_gateway.broadcast import Broadcaster, BroadcastStore, unsubscribed_gate
from gerbang_gateway.events import record_event
from gerbang_gateway.graph import GraphClient, graph_session
from gerbang_gateway.handoff import Handoff, HandoffStore, sweep_idle
from gerbang_gateway.ops.staff import staff_main
from gerbang_gateway.redis_state import RateLimiter, SentLog, Sessions, StatusLog
from gerbang_gateway.router import Router
from gerbang_gateway.sender import Sender
from gerbang_gateway.settings import GatewaySettings
from gerbang_gateway.subscriptions import SubscriptionStep, SubscriptionStore


async def run_router(settings: GatewaySettings) -> None:
    """Consume whatsapp.inbound and route."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings, socket_timeout=2.0)
    stats = OpsStats(redis, settings.topic_prefix)
    sessions = Sessions(redis, settings.topic_prefix, settings.session_ttl_s)
    handoffs = HandoffStore(redis, settings.topic_prefix, settings.session_ttl_s)
    router = Router(
        registry,
        sessions,
        IntentMatcher.from_registry(registry),
        stats=stats,
        handoff=Handoff(registry, handoffs, settings.handoff_idle_s),
        dialogue=DialogueSettings(
            context_s=settings.dialogue_context_s, ticket_s=settings.ticket_append_s
        ),
        subscriptions=SubscriptionStep(registry, SubscriptionStore(redis, settings.topic_prefix)),
    )
    producer = Producer(settings, "router")

    async def language_of(office: str, wa_id: str) -> str:
        return (await sessions.load(office, wa_id)).language or "id"

    async def sweep() -> None:
        await sweep_idle(
            registry,
            handoffs,
            producer,
            idle_s=settings.handoff_idle_s,
            interval_s=settings.handoff_sweep_s,
            language_of=language_of,
        )

    consumer = Consumer(
        settings,
        producer,
        service="router",
        topic=Topic.INBOUND,
        model=InboundMessage,
        handler=router.handle,
    )
    try:
        # The menu's texts (greeting, fallback) published in /ops apply live over the YAML.
        async with live_content(settings, registry, "router"):
            await run_worker(
                settings,
                service="router",
                producer=producer,
                consumers=[consumer],
                health_port=settings.router_health_port or None,
                extra_ready=redis.ping,
                background=[sweep],
            )
    finally:
        await stats.flush()  # the last moment's ops counts
        await redis.aclose()


async def run_sender(settings: GatewaySettings) -> None:
    """Consume whatsapp.outbound and send through the Graph API."""
    registry = load_registry(settings.offices_dir)
    redis = connect_redis(settings, socket_timeout=2.0)
    statuses = StatusLog(redis, settings.topic_prefix, settings.status_log_ttl_s)
    stats = OpsStats(redis, settings.topic_prefix)
    limiter = RateLimiter(redis, settings.topic_prefix)
    subscriptions = SubscriptionStore(redis, settings.topic_prefix)
    broadcasts = BroadcastStore(redis, settings.topic_prefix)
    async with graph_session(settings.graph_timeout_s, settings.graph_max_connections) as http:
        sender = Sender(
            settings,
            registry,
            GraphClient(
                settings.graph_base_url,
                settings.graph_api_version,
                http,
                connections_per_number=settings.graph_connections_per_office,
            ),
            Sessions(redis, settings.topic_prefix, settings.session_ttl_s),
            SentLog(redis, settings.topic_prefix, settings.dedupe_ttl_s),
            limiter,
            stats=stats,
            statuses=statuses,
            still_subscribed=unsubscribed_gate(subscriptions, broadcasts),
        )
        producer = Producer(settings, "sender")
        broadcaster = Broadcaster(
            settings,
            registry,
            broadcasts,
            subscriptions,
            limiter,
            producer,
            share=settings.broadcast_share,
            poll_s=settings.broadcast_poll_s,
        )
        consumer = Consumer(
            settings,
            producer,
            service="sender",
            topic=Topic.OUTBOUND,
            model=OutboundReply,
            handler=sender.handle,
        )
        events = Consumer(
            settings,
            producer,
            service="sender",
            topic=Topic.EVENTS,
            model=DeliveryEvent,
            handler=record_event,
            group="delivery-events",
        )
        try:
            await run_worker(
                settings,
                service="sender",
                producer=producer,
                consumers=[consumer, events],
                health_port=settings.sender_health_port or None,
                extra_ready=redis.ping,
                background=[
                    broadcaster.run,
                    lambda: subscriptions.follow(settings, "sender-subscriptions"),
                ],
            )
        finally:
            await stats.flush()  # the last moment's ops counts
            await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the gateway's processes (and `staff …`, the staff-file tool)."""
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["staff"]:
        raise SystemExit(staff_main(args_in[1:]))
    parser = argparse.ArgumentParser(prog="gerbang_gateway", description=__doc__)
    parser.add_argument("role", choices=["api", "router", "sender"])
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    setup_logging(f"gateway-{args.role}", settings.log_level, settings.log_format)
    with maybe_profile(f"gateway-{args.role}"):
        _run(args.role, settings)


def _run(role: str, settings: GatewaySettings) -> None:
    if role == "api":
        uvicorn.run(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            access_log=False,
            server_header=False,  # no "server: uvicorn" on every answer
        )
    elif role == "router":
        run_main(run_router(settings))
    else:
        run_main(run_sender(settings))
