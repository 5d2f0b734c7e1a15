"""Talking to a running stack like Meta and a citizen would: signed webhooks in, replies out."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

import httpx

from deploy.local.stack import REPO, Stack
from gerbang.messages import InboundKind, InboundMessage
from gerbang.offices import DEV_SECRET, Office, load_registry
from gerbang_devtools.webhooks import encode_signed, message_webhook, reply_message, text_message

REGISTRY = load_registry(REPO / "offices")


def office(code: str) -> Office:
    """An office of the repository's offices/."""
    return REGISTRY.get(code)


def inbound_text(wa_id: str, message_id: str, at: dt.datetime, text: str) -> InboundMessage:
    """A citizen's text to Jakarta Pusat as the webhook API publishes it (received at `at`)."""
    return InboundMessage(
        office="jakpus",
        phone_number_id="100000000000001",
        wa_id=wa_id,
        message_id=message_id,
        timestamp=at,
        received_at=at,
        kind=InboundKind.TEXT,
        text=text,
    )


def citizen() -> str:
    """A fresh citizen wa_id, so tests never see each other's replies."""
    return f"62857{random.randrange(10**8):08d}"


def signed_text(
    code: str, wa_id: str, text: str, message_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A text webhook as Meta would sign it with the development app secret."""
    return encode_signed(
        message_webhook(office(code), wa_id, text_message(text, message_id)), DEV_SECRET
    )


def signed_tap(
    code: str, wa_id: str, reply_id: str, title: str, kind: str = "list_reply"
) -> tuple[bytes, dict[str, str]]:
    """A tapped list row or button."""
    return encode_signed(
        message_webhook(office(code), wa_id, reply_message(reply_id, title, kind=kind)),
        DEV_SECRET,
    )


def post(stack: Stack, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST a webhook to the gateway."""
    return httpx.post(f"{stack.api_url}/webhook/whatsapp", content=raw, headers=headers, timeout=30)


def replies(stack: Stack, wa_id: str) -> list[dict[str, Any]]:
    """Everything the fake Graph API accepted for this citizen."""
    response = httpx.get(f"{stack.graph_url}/__sent", params={"to": wa_id}, timeout=10)
    response.raise_for_status()
    return list(response.json())


def wait_replies(
    stack: Stack, wa_id: str, n: int = 1, timeout: float = 30.0, settle: float = 1.5
) -> list[dict[str, Any]]:
    """At least `n` replies for the citizen (then `settle` seconds to catch extra ones)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = replies(stack, wa_id)
        if len(got) >= n:
            time.sleep(settle)
            return replies(stack, wa_id)
        time.sleep(0.2)
    raise AssertionError(
        f"{wa_id}: expected {n} replies within {timeout}s, got {replies(stack, wa_id)}"
    )


def text_of(record: dict[str, Any]) -> str:
    """The readable text of a recorded send (text body, list/buttons body and rows)."""
    payload = record["payload"]
    if payload["type"] == "text":
        return str(payload["text"]["body"])
    if payload["type"] == "interactive":
        interactive = payload["interactive"]
        parts = [interactive["body"]["text"]]
        action = interactive["action"]
        for section in action.get("sections", []):
            parts += [row["title"] for row in section["rows"]]
        parts += [b["reply"]["title"] for b in action.get("buttons", [])]
        return "\n".join(parts)
    return str(payload)
