"""Development tools: build signed webhooks like Meta's, and try an office's number.

    uv run gerbang-send --office jakpus "syarat paspor baru apa?"

sends a signed text webhook to the local gateway as citizen 6281234567890 and prints the
office's reply as the fake Graph API received it. The simulator, the e2e tests and the load
generator build their webhooks with the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

import httpx

from gerbang.offices import DEV_SECRET, Office, default_offices_dir, load_registry, office_secret
from gerbang_gateway.signature import sign


def new_message_id() -> str:
    """A wamid-like unique id."""
    return "wamid.GBG" + uuid.uuid4().hex.upper()


def webhook_envelope(value: dict[str, Any]) -> dict[str, Any]:
    """Meta's documented webhook envelope around one `messages` change value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000999", "changes": [{"field": "messages", "value": value}]}],
    }


def message_webhook(
    office: Office,
    wa_id: str,
    message: dict[str, Any],
    *,
    profile_name: str = "Warga",
) -> dict[str, Any]:
    """A webhook body carrying one citizen message (Meta's documented envelope)."""
    return webhook_envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": office.display_number,
                "phone_number_id": office.whatsapp.phone_number_id,
            },
            "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, **message}],
        }
    )


def text_message(text: str, message_id: str | None = None, ts: int | None = None) -> dict[str, Any]:
    """The `messages[]` item of a text message."""
    return {
        "id": message_id or new_message_id(),
        "timestamp": str(ts or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def reply_message(
    reply_id: str, title: str, *, kind: str = "list_reply", message_id: str | None = None
) -> dict[str, Any]:
    """The `messages[]` item of a tapped list row (`list_reply`) or button (`button_reply`)."""
    return {
        "id": message_id or new_message_id(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
    }


def encode_signed(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """Bytes and headers as Meta sends them (escaped unicode, X-Hub-Signature-256)."""
    raw = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}


def main(argv: list[str] | None = None) -> int:
    """`gerbang-send`: send one message to an office's number and print the reply."""
    parser = argparse.ArgumentParser(
        prog="gerbang-send",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--office", default="jakpus", help="office code (default jakpus)")
    parser.add_argument("--from", dest="wa_id", default="6281234567890", help="citizen wa_id")
    parser.add_argument(
        "--gateway", default=os.environ.get("GERBANG_GATEWAY_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument(
        "--graph", default=os.environ.get("GERBANG_GRAPH_BASE_URL", "http://127.0.0.1:8081")
    )
    parser.add_argument("--reply-id", help="send a tapped list row/button id instead of text")
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("text", nargs="*", help="the message")
    args = parser.parse_args(argv)
    registry = load_registry(default_offices_dir())
    office = registry.get(args.office)
    text = " ".join(args.text) or "menu"
    message = reply_message(args.reply_id, text[:24]) if args.reply_id else text_message(text)
    secret = office_secret(office.code, "APP_SECRET", development=True, dev_default=DEV_SECRET)
    raw, headers = encode_signed(message_webhook(office, args.wa_id, message), secret)
    with httpx.Client(timeout=10) as http:
        since = len(http.get(f"{args.graph}/__sent").json())
        response = http.post(f"{args.gateway}/webhook/whatsapp", content=raw, headers=headers)
        print(f"→ {office.service_name} ({office.short_name}): {text!r}  [{response.status_code}]")
        if response.status_code != 200:
            print(response.text, file=sys.stderr)
            return 1
        deadline = time.monotonic() + args.timeout
        shown = 0
        while time.monotonic() < deadline:
            sent = [
                s
                for s in http.get(f"{args.graph}/__sent", params={"since": since}).json()
                if s["to"].lstrip("+") == args.wa_id
            ]
            for record in sent[shown:]:
                print(f"← from {record['phone_number_id']}:")
                print(json.dumps(record["payload"], ensure_ascii=False, indent=2))
            if sent and len(sent) == shown:
                return 0
            shown = len(sent)
            time.sleep(0.7)
        if not shown:
            print("no reply yet: is `make run` running? see its log", file=sys.stderr)
            return 1
    return 0
