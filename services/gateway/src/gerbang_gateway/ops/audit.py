"""The audit log of `/ops`: every staff action, who and when.

The record is the `ops.audit` topic (key = office, kept forever); the Redis view
(`gerbang:ops:audit:<office>`, a sorted set by time holding each action's JSON once) is
what the audit page reads, filled by a `LogFollower` and rebuilt from the topic after
Redis loses it. An action is also applied to the view right after Kafka acknowledged it,
so the page shows it at once (the follower's copy is the same member: applied once).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from redis.asyncio import Redis

from gerbang.bus import Producer, encode
from gerbang.messages import StaffAction, Topic
from gerbang_gateway.ops.access import Viewer

log = logging.getLogger(__name__)

KEEP_PER_OFFICE = 5000
"""Newest actions kept in the view per office (the topic keeps them all)."""


def action_for(
    viewer: Viewer | None,
    action: str,
    *,
    actor: str | None = None,
    office: str | None = None,
    target_office: str | None = None,
    target: str | None = None,
    outcome: str = "ok",
    detail: str = "",
    address: str | None = None,
) -> StaffAction:
    """A staff action by `viewer` (or by an unknown `actor` for refused sign-ins)."""
    return StaffAction(
        action=action,
        actor=viewer.username if viewer else (actor or "?")[:200],
        office=viewer.scope if viewer else (office or "*"),
        target_office=target_office,
        target=target,
        outcome=outcome,
        detail=detail[:500],
        address=address,
        action_id=uuid.uuid4().hex,
    )


class AuditView:
    """The Redis view of `ops.audit`."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.base = f"{prefix}gerbang:ops:audit:"

    def _key(self, office: str) -> str:
        return f"{self.base}{office}"

    async def apply_json(self, raw: str) -> None:
        """Add one action (its JSON as on the topic) under its office and the office acted on."""
        action = StaffAction.model_validate_json(raw)
        offices = {action.office, action.target_office or action.office}
        async with self.redis.pipeline(transaction=False) as pipe:
            for office in offices:
                pipe.zadd(self._key(office), {raw: action.at.timestamp()})
                pipe.zremrangebyrank(self._key(office), 0, -KEEP_PER_OFFICE - 1)
            await pipe.execute()

    async def apply_records(self, batch: list[tuple[str, ConsumerRecord[bytes, bytes]]]) -> None:
        """`LogFollower` callback (staff actions are few: one write each)."""
        for _topic, record in batch:
            try:
                await self.apply_json(record.value.decode("utf-8"))
            except (ValidationError, UnicodeDecodeError) as exc:
                log.error("unreadable audit record skipped", extra={"error": str(exc)[:300]})

    async def recent(self, offices: list[str], limit: int = 200) -> list[dict[str, Any]]:
        """The newest actions of these offices, newest first."""
        rows: dict[str, dict[str, Any]] = {}
        for office in offices:
            for raw in await self.redis.zrevrange(self._key(office), 0, limit - 1):
                entry = json.loads(str(raw))
                rows[entry["action_id"]] = entry
        return sorted(rows.values(), key=lambda e: e["at"], reverse=True)[:limit]


class AuditLog:
    """Writes staff actions: the topic first (acks=all), then the view."""

    def __init__(self, producer: Producer, view: AuditView) -> None:
        self.producer = producer
        self.view = view

    async def record(self, action: StaffAction) -> None:
        """Record one action durably; the caller's request fails if Kafka is down."""
        await self.producer.publish(Topic.OPS_AUDIT, action.target_office or action.office, action)
        await self.view.apply_json(encode(action).decode("utf-8"))
        log.info(
            "staff action",
            extra={
                "action": action.action,
                "actor": action.actor,
                "office": action.target_office or action.office,
                "outcome": action.outcome,
            },
        )
