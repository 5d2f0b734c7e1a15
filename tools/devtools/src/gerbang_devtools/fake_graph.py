"""A fake WhatsApp Cloud API (Meta Graph API): a real HTTP server for development and tests.

It is the only fake in Gerbang's tests. It answers `POST /<version>/<phone_number_id>/messages`
the way Meta does — same success body, same error shape, the documented payload limits — and
records every accepted send so that tests and the simulator can see what a citizen would
have received. It can be told to fail like Meta does (rate limits, 5xx, the 24-hour window).

Run it:  python -m gerbang_devtools.fake_graph --host 127.0.0.1 --port 8081

Control endpoints (not part of Meta's API):

- `GET /__sent?phone_number_id=&to=&since=&limit=` — accepted sends, oldest first. Each record
  has a monotonically increasing `index` (never reused, even after a clear); poll
  incrementally with `since=<last index + 1>`.
- `DELETE /__sent` — forget the records (sends and read receipts) and reset `/__stats`.
- `GET /__reads` — read receipts / typing indicators received (kept apart from sends).
- `GET /__stats` — counts: sent, failed, reads, by HTTP status, by error code.
- `POST /__fail` — queue a failure rule (body: `FailureRule`); `GET /__fail` lists the rules;
  `DELETE /__fail` clears them. Rules are tried in the order they were added; the first one
  that matches a send makes it fail and uses up one of its `count`.
- `GET /__webhooks` / `PUT /__webhooks` — the status webhooks it posts back (body:
  `StatusWebhooks`): like Meta, every accepted send gets a `sent` status webhook (and more
  statuses if asked) carrying the send's `biz_opaque_callback_data`, POSTed to `url` after
  `delay_ms`, signed with the number's app secret (`X-Hub-Signature-256`), batched per number,
  and retried with backoff on anything but 200 (as Meta redelivers). `drop: true` loses them
  all (a status that never comes). Also `--status-webhook-url` / `--status-delay-ms`; the
  app secret from `FAKE_GRAPH_APP_SECRET` (default: the documented development secret).
- `GET /healthz` — readiness.

Beyond failing, a rule's `mode` can make Meta *accept* a send and still not answer in time
(`hold`: the answer comes `hold_s` later, past the sender's timeout) or answer an error
(`accept_then_fail`): the message was sent and its status webhook comes, but the sender
cannot know — an unknown outcome.

Failure presets (`code` → Meta's message and HTTP status, override with `http_status`):
130429 throughput limit (HTTP 400 as Meta documents it; ask for 429 to test that path),
131056 pair rate limit, 131047 re-engagement (only free-form messages fail; templates pass, as
outside the 24-hour window), 131000 / 131016 / 131057 (HTTP 500), 2 (HTTP 503), 131026,
131048, 4, 80007, 100, 190 (401), 368 (403). `code: null` answers a non-JSON body (an HTML
error page by default, or `raw_body`), like a proxy in front of Meta would.

Reference: /work/shared/reference/whatsapp-cloud-api.md §1.5–1.7.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import ipaddress
import itertools
import json
import os
import re
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from gerbang_devtools.webhooks import encode_signed, webhook_envelope

DEFAULT_MAX_RECORDS = 500_000
DEV_APP_SECRET = "gerbang-dev-secret"  # noqa: S105 - the documented development secret
READY_LINE_PREFIX = "fake graph listening on "

_NON_DIGITS = re.compile(r"\D+")

# --- Meta's errors ------------------------------------------------------------------------

# code → (message, default HTTP status). Messages follow Meta's error-code table
# (reference §1.6); the HTTP statuses are the ones that table lists.
ERROR_PRESETS: dict[int, tuple[str, int]] = {
    130429: ("(#130429) Rate limit hit", 400),
    131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit", 400),
    131047: ("(#131047) Re-engagement message", 400),
    131048: ("(#131048) Spam rate limit hit", 400),
    131026: ("(#131026) Message Undeliverable", 400),
    131000: ("(#131000) Something went wrong", 500),
    131016: ("(#131016) Service unavailable", 500),
    131057: ("(#131057) Account in maintenance mode", 500),
    2: ("(#2) Service temporarily unavailable", 503),
    4: ("(#4) Application request limit reached", 400),
    80007: ("(#80007) Rate limit issues", 400),
    100: ("(#100) Invalid parameter", 400),
    190: ("Invalid OAuth access token - Cannot parse access token", 401),
    368: ("(#368) Temporarily blocked for policies violations", 403),
}
RE_ENGAGEMENT = 131047
_DEFAULT_HTML = "<html><body><h1>500 Internal Server Error</h1></body></html>"


def meta_error(code: int, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    """Meta's error body: `{"error": {message, type, code, error_data, fbtrace_id}}`."""
    preset_message, _ = ERROR_PRESETS.get(code, (f"(#{code}) Error", 400))
    return {
        "error": {
            "message": message or preset_message,
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details or (message or preset_message),
            },
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
    }


# --- payload validation (pure) ------------------------------------------------------------


class InvalidPayload(ValueError):
    """The payload breaks one of Meta's rules; the text is Meta's `error_data.details`."""


def _text(value: Any, field_name: str, *, max_len: int, min_len: int = 1) -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{field_name} must be a string")
    if len(value) < min_len:
        raise InvalidPayload(f"{field_name} is required")
    if len(value) > max_len:
        raise InvalidPayload(f"{field_name} is too long: {len(value)} characters (max {max_len})")
    return value


def _obj(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{field_name} must be an object")
    return value


def _optional_text_part(interactive: dict[str, Any], part: str, *, max_len: int) -> None:
    """Header (text only) or footer: `{"type": "text", "text": ...}` / `{"text": ...}`."""
    if part not in interactive:
        return
    obj = _obj(interactive[part], f"interactive.{part}")
    if part == "header" and obj.get("type", "text") != "text":
        # Media headers exist (buttons only) but Gerbang never sends them.
        raise InvalidPayload("interactive.header.type: only text headers are supported here")
    _text(obj.get("text"), f"interactive.{part}.text", max_len=max_len)


def _validate_list(interactive: dict[str, Any]) -> None:
    _optional_text_part(interactive, "header", max_len=60)
    _optional_text_part(interactive, "footer", max_len=60)
    _text(
        _obj(interactive.get("body"), "interactive.body").get("text"),
        "interactive.body.text",
        max_len=4096,
    )
    action = _obj(interactive.get("action"), "interactive.action")
    _text(action.get("button"), "interactive.action.button", max_len=20)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise InvalidPayload("interactive.action.sections must hold 1 to 10 sections")
    total_rows = 0
    row_ids: set[str] = set()
    for s, section in enumerate(sections):
        section = _obj(section, f"sections[{s}]")
        if "title" in section or len(sections) > 1:
            _text(section.get("title"), f"sections[{s}].title", max_len=24)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise InvalidPayload(f"sections[{s}].rows must hold at least 1 row")
        for r, row in enumerate(rows):
            row = _obj(row, f"sections[{s}].rows[{r}]")
            row_id = _text(row.get("id"), f"sections[{s}].rows[{r}].id", max_len=200)
            _text(row.get("title"), f"sections[{s}].rows[{r}].title", max_len=24)
            if "description" in row:
                _text(row["description"], f"sections[{s}].rows[{r}].description", max_len=72)
            if row_id in row_ids:
                raise InvalidPayload(f"row id {row_id!r} is not unique")
            row_ids.add(row_id)
        total_rows += len(rows)
    if total_rows > 10:
        raise InvalidPayload(f"Total row count exceed max allowed count: 10 (got {total_rows})")


def _validate_buttons(interactive: dict[str, Any]) -> None:
    _optional_text_part(interactive, "header", max_len=60)
    _optional_text_part(interactive, "footer", max_len=60)
    _text(
        _obj(interactive.get("body"), "interactive.body").get("text"),
        "interactive.body.text",
        max_len=1024,
    )
    action = _obj(interactive.get("action"), "interactive.action")
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise InvalidPayload("interactive.action.buttons must hold 1 to 3 buttons")
    titles: set[str] = set()
    ids: set[str] = set()
    for b, button in enumerate(buttons):
        button = _obj(button, f"buttons[{b}]")
        if button.get("type") != "reply":
            raise InvalidPayload(f"buttons[{b}].type must be 'reply'")
        reply = _obj(button.get("reply"), f"buttons[{b}].reply")
        button_id = _text(reply.get("id"), f"buttons[{b}].reply.id", max_len=256)
        title = _text(reply.get("title"), f"buttons[{b}].reply.title", max_len=20)
        if title in titles:
            raise InvalidPayload(f"button title {title!r} is not unique")
        if button_id in ids:
            raise InvalidPayload(f"button id {button_id!r} is not unique")
        titles.add(title)
        ids.add(button_id)


def _validate_template(template: dict[str, Any]) -> None:
    _text(template.get("name"), "template.name", max_len=512)
    language = _obj(template.get("language"), "template.language")
    _text(language.get("code"), "template.language.code", max_len=15)
    components = template.get("components", [])
    if not isinstance(components, list):
        raise InvalidPayload("template.components must be a list")
    for c, component in enumerate(components):
        component = _obj(component, f"template.components[{c}]")
        if not isinstance(component.get("type"), str):
            raise InvalidPayload(f"template.components[{c}].type is required")
        for p, parameter in enumerate(component.get("parameters", [])):
            parameter = _obj(parameter, f"template.components[{c}].parameters[{p}]")
            if parameter.get("type") == "text":
                _text(
                    parameter.get("text"),
                    f"template.components[{c}].parameters[{p}].text",
                    max_len=32768,
                )


def validate_message(payload: Any) -> None:
    """Raise `InvalidPayload` if Meta would refuse this send with error 100 (reference §1.5)."""
    payload = _obj(payload, "body")
    if payload.get("messaging_product") != "whatsapp":
        raise InvalidPayload("messaging_product must be 'whatsapp'")
    if payload.get("recipient_type", "individual") not in ("individual", "group"):
        raise InvalidPayload("recipient_type must be 'individual' or 'group'")
    to = payload.get("to")
    if not isinstance(to, str) or not _NON_DIGITS.sub("", to):
        raise InvalidPayload("The parameter to is required.")
    kind = payload.get("type", "text")
    if kind == "text":
        text = _obj(payload.get("text"), "text")
        _text(text.get("body"), "text.body", max_len=4096)
    elif kind == "interactive":
        interactive = _obj(payload.get("interactive"), "interactive")
        if interactive.get("type") == "list":
            _validate_list(interactive)
        elif interactive.get("type") == "button":
            _validate_buttons(interactive)
        else:
            raise InvalidPayload("interactive.type must be 'list' or 'button'")
    elif kind == "template":
        _validate_template(_obj(payload.get("template"), "template"))
    else:
        raise InvalidPayload(f"type {kind!r} is not supported by this fake")


def validate_read_receipt(payload: dict[str, Any]) -> None:
    """Raise `InvalidPayload` unless this is a valid mark-as-read / typing-indicator body."""
    if payload.get("messaging_product") != "whatsapp":
        raise InvalidPayload("messaging_product must be 'whatsapp'")
    _text(payload.get("message_id"), "message_id", max_len=512)
    if "typing_indicator" in payload:
        indicator = _obj(payload["typing_indicator"], "typing_indicator")
        if indicator.get("type") != "text":
            raise InvalidPayload("typing_indicator.type must be 'text'")


# --- failure injection --------------------------------------------------------------------


class FailureRule(BaseModel):
    """A failure to inject. Without `count` and `seconds`, it fails the next send only."""

    model_config = ConfigDict(extra="forbid")

    code: int | None = Field(
        default=130429, description="Meta error code; null answers a non-JSON body"
    )
    http_status: int | None = Field(
        default=None, ge=400, le=599, description="Default: the preset's status, else 400"
    )
    count: int | None = Field(default=None, ge=1, description="Fail this many matching sends")
    seconds: float | None = Field(default=None, gt=0, description="Fail every match this long")
    phone_number_id: str | None = Field(default=None, description="Only sends from this number")
    to: str | None = Field(default=None, description="Only sends to this citizen (any format)")
    retry_after: float | None = Field(default=None, ge=0, description="Send a Retry-After header")
    message: str | None = Field(default=None, description="Override Meta's message")
    details: str | None = Field(default=None, description="Override error_data.details")
    raw_body: str | None = Field(default=None, description="With code null: the body to answer")
    mode: Literal["fail", "hold", "accept_then_fail"] = Field(
        default="fail",
        description="fail: refuse the send; hold: accept it (recorded, status webhook posted) "
        "and answer success only after hold_s; accept_then_fail: accept it and answer the error",
    )
    hold_s: float = Field(default=30.0, ge=0, le=600, description="With mode hold: answer delay")


class StatusWebhooks(BaseModel):
    """Where and how the fake posts status webhooks back, as Meta does."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="The gateway's webhook URL; None: off")
    delay_ms: float = Field(default=300.0, ge=0, description="Delay after the send is accepted")
    drop: bool = Field(default=False, description="Post nothing (statuses that never come)")
    statuses: list[str] = Field(
        default_factory=lambda: ["sent"], description="Statuses posted per send, in order"
    )
    app_secrets: dict[str, str] = Field(
        default_factory=dict, description="App secret per phone_number_id (else the default)"
    )
    max_attempts: int = Field(default=60, ge=1, description="Posts of one webhook before giving up")


@dataclass
class _ActiveRule:
    id: int
    rule: FailureRule
    remaining: int | None
    until: float | None  # time.monotonic() deadline
    hits: int = 0

    def expired(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return True
        return self.until is not None and now >= self.until

    def matches(self, phone_number_id: str, payload: dict[str, Any]) -> bool:
        rule = self.rule
        if rule.phone_number_id is not None and rule.phone_number_id != phone_number_id:
            return False
        if rule.to is not None and _digits(rule.to) != _digits(str(payload.get("to", ""))):
            return False
        # Outside the 24-hour window Meta refuses free-form messages; templates still pass.
        return not (rule.code == RE_ENGAGEMENT and payload.get("type") == "template")

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "remaining": self.remaining,
            "hits": self.hits,
        } | self.rule.model_dump()


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", value)


@dataclass
class FakeGraphState:
    """Everything the fake remembers. Single event loop: no locks needed between awaits."""

    max_records: int = DEFAULT_MAX_RECORDS
    latency_ms: float = 0.0
    sent: collections.deque[dict[str, Any]] = field(init=False)
    reads: collections.deque[dict[str, Any]] = field(init=False)
    rules: list[_ActiveRule] = field(default_factory=list)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    by_code: collections.Counter[int] = field(default_factory=collections.Counter)
    _index: Iterator[int] = field(default_factory=itertools.count)
    _rule_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    webhooks: StatusWebhooks = field(default_factory=StatusWebhooks)
    app_secret: str = DEV_APP_SECRET
    # Statuses waiting to be posted: (due monotonic time, attempts, phone_number_id, status).
    outbox: list[tuple[float, int, str, dict[str, Any]]] = field(default_factory=list)
    poster: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.sent = collections.deque(maxlen=self.max_records)
        self.reads = collections.deque(maxlen=self.max_records)

    def accepted(self, phone_number_id: str, to: str, wamid: str, payload: dict[str, Any]) -> None:
        """Queue the status webhooks of an accepted send (if configured)."""
        config = self.webhooks
        if config.url is None:
            return
        if config.drop:
            self.counts["webhook_statuses_dropped"] += len(config.statuses)
            return
        due = time.monotonic() + config.delay_ms / 1000
        for name in config.statuses:
            status: dict[str, Any] = {
                "id": wamid,
                "status": name,
                "timestamp": str(int(time.time())),
                "recipient_id": _digits(to),
                "pricing": {"billable": False, "pricing_model": "PMP", "category": "service"},
            }
            callback = payload.get("biz_opaque_callback_data")
            if isinstance(callback, str):
                status["biz_opaque_callback_data"] = callback
            self.outbox.append((due, 0, phone_number_id, status))
        if self.poster is None or self.poster.done():
            self.poster = asyncio.get_running_loop().create_task(self._post_statuses())

    async def _post_statuses(self) -> None:
        """Post due statuses, batched per number; retry a batch on anything but 200."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while self.outbox:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                due = [item for item in self.outbox if item[0] <= now]
                if not due:
                    continue
                self.outbox = [item for item in self.outbox if item[0] > now]
                batches: dict[str, list[tuple[float, int, str, dict[str, Any]]]] = {}
                for item in due:
                    batches.setdefault(item[2], []).append(item)
                for number, items in batches.items():
                    for start in range(0, len(items), 50):
                        await self._post_batch(http, number, items[start : start + 50])

    async def _post_batch(
        self,
        http: aiohttp.ClientSession,
        phone_number_id: str,
        items: list[tuple[float, int, str, dict[str, Any]]],
    ) -> None:
        config = self.webhooks
        if config.url is None:
            return
        secret = config.app_secrets.get(phone_number_id, self.app_secret)
        body, headers = encode_signed(
            status_webhook(phone_number_id, [status for *_, status in items]), secret
        )
        status_code = 0
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.post(config.url, data=body, headers=headers) as response:
                await response.read()
                status_code = response.status
        if status_code == 200:
            self.counts["webhook_posts"] += 1
            self.counts["webhook_statuses"] += len(items)
            return
        self.counts["webhook_post_failures"] += 1
        retry_at = time.monotonic() + min(5.0, 0.25 * 2 ** min(items[0][1], 5))
        for _, attempts, number, status in items:
            if attempts + 1 < config.max_attempts:
                self.outbox.append((retry_at, attempts + 1, number, status))
            else:
                self.counts["webhook_statuses_given_up"] += 1

    def next_index(self) -> int:
        return next(self._index)

    def add_rule(self, rule: FailureRule) -> _ActiveRule:
        remaining = rule.count if rule.count is not None else (None if rule.seconds else 1)
        until = time.monotonic() + rule.seconds if rule.seconds else None
        active = _ActiveRule(next(self._rule_ids), rule, remaining, until)
        self.rules.append(active)
        return active

    def take_failure(self, phone_number_id: str, payload: dict[str, Any]) -> FailureRule | None:
        """The first live rule matching this send, with one use consumed."""
        now = time.monotonic()
        self.rules = [active for active in self.rules if not active.expired(now)]
        for active in self.rules:
            if active.matches(phone_number_id, payload):
                active.hits += 1
                if active.remaining is not None:
                    active.remaining -= 1
                return active.rule
        return None

    def clear_records(self) -> None:
        self.sent.clear()
        self.reads.clear()
        self.counts.clear()
        self.by_status.clear()
        self.by_code.clear()

    def count_failure(self, http_status: int, code: int | None) -> None:
        self.counts["failed"] += 1
        self.by_status[http_status] += 1
        if code is not None:
            self.by_code[code] += 1


def status_webhook(phone_number_id: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """Meta's webhook envelope carrying statuses of messages sent from one number."""
    return webhook_envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": phone_number_id},
            "statuses": statuses,
        }
    )


def _now() -> tuple[str, float]:
    unix = time.time()
    iso = dt.datetime.fromtimestamp(unix, dt.UTC).isoformat().replace("+00:00", "Z")
    return iso, unix


def _filter_tail(
    records: collections.deque[dict[str, Any]],
    *,
    since: int | None,
    phone_number_id: str | None,
    to: str | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """Records matching the filters, oldest first. With `since`, walk from the newest end
    and stop at the first older record, so incremental polling stays cheap at 500k records."""
    source: Iterable[dict[str, Any]]
    if since is not None:
        tail: list[dict[str, Any]] = []
        for record in reversed(records):
            if record["index"] < since:
                break
            tail.append(record)
        tail.reverse()
        source = tail
    else:
        source = records
    want_to = _digits(to) if to else None
    result = []
    for record in source:
        if phone_number_id is not None and record["phone_number_id"] != phone_number_id:
            continue
        if want_to is not None and _digits(record.get("to", "")) != want_to:
            continue
        result.append(record)
        if limit is not None and len(result) >= limit:
            break
    return result


# --- the app ------------------------------------------------------------------------------


def create_app(
    *,
    max_records: int = DEFAULT_MAX_RECORDS,
    latency_ms: float = 0.0,
    webhooks: StatusWebhooks | None = None,
    app_secret: str = DEV_APP_SECRET,
) -> FastAPI:
    """The fake Graph API as an ASGI app (state lives in `app.state.graph`)."""
    app = FastAPI(title="Fake WhatsApp Graph API", docs_url=None, redoc_url=None)
    state = FakeGraphState(max_records=max_records, latency_ms=latency_ms)
    state.webhooks = webhooks or StatusWebhooks()
    state.app_secret = app_secret
    app.state.graph = state

    def error_response(
        http_status: int, code: int, message: str | None = None, details: str | None = None
    ) -> JSONResponse:
        state.count_failure(http_status, code)
        return JSONResponse(meta_error(code, message, details), status_code=http_status)

    def injected_response(rule: FailureRule) -> Response:
        if rule.code is None:
            preset_status = 500
        else:
            preset_status = ERROR_PRESETS.get(rule.code, ("", 400))[1]
        http_status = rule.http_status or preset_status
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
        state.count_failure(http_status, rule.code)
        if rule.code is None:
            return Response(
                rule.raw_body if rule.raw_body is not None else _DEFAULT_HTML,
                status_code=http_status,
                media_type="text/html",
                headers=headers,
            )
        return JSONResponse(
            meta_error(rule.code, rule.message, rule.details),
            status_code=http_status,
            headers=headers,
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/{version}/{phone_number_id}/messages")
    async def messages(version: str, phone_number_id: str, request: Request) -> Response:
        if state.latency_ms > 0:
            await asyncio.sleep(state.latency_ms / 1000)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(401, 190)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return error_response(400, 100, details="Request body is not valid JSON")
        if not isinstance(payload, dict):
            return error_response(400, 100, details="Request body must be a JSON object")

        if payload.get("status") == "read":
            try:
                validate_read_receipt(payload)
            except InvalidPayload as exc:
                return error_response(400, 100, details=str(exc))
            received_at, received_at_unix = _now()
            state.reads.append(
                {
                    "index": state.next_index(),
                    "phone_number_id": phone_number_id,
                    "message_id": payload["message_id"],
                    "typing": "typing_indicator" in payload,
                    "received_at": received_at,
                    "received_at_unix": received_at_unix,
                }
            )
            state.counts["reads"] += 1
            state.by_status[200] += 1
            return JSONResponse({"success": True})

        try:
            validate_message(payload)
        except InvalidPayload as exc:
            return error_response(400, 100, details=str(exc))
        rule = state.take_failure(phone_number_id, payload)
        if rule is not None and rule.mode == "fail":
            return injected_response(rule)

        to = payload["to"]
        wamid = "wamid.FAKE" + uuid.uuid4().hex.upper()
        received_at, received_at_unix = _now()
        state.sent.append(
            {
                "index": state.next_index(),
                "phone_number_id": phone_number_id,
                "to": to,
                "payload": payload,
                "wamid": wamid,
                "api_version": version,
                "received_at": received_at,
                "received_at_unix": received_at_unix,
            }
        )
        state.counts["sent"] += 1
        state.accepted(phone_number_id, to, wamid, payload)
        if rule is not None and rule.mode == "accept_then_fail":
            return injected_response(rule)  # Meta has it; the sender learns only from status
        if rule is not None and rule.mode == "hold":
            await asyncio.sleep(rule.hold_s)  # answered after the sender stopped waiting
        state.by_status[200] += 1
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": _digits(to)}],
                "messages": [{"id": wamid}],
            }
        )

    @app.get("/__sent")
    async def list_sent(
        phone_number_id: str | None = None,
        to: str | None = None,
        since: int | None = Query(default=None, ge=0),
        limit: int | None = Query(default=None, ge=1),
    ) -> list[dict[str, Any]]:
        return _filter_tail(
            state.sent, since=since, phone_number_id=phone_number_id, to=to, limit=limit
        )

    @app.get("/__reads")
    async def list_reads(
        phone_number_id: str | None = None,
        since: int | None = Query(default=None, ge=0),
    ) -> list[dict[str, Any]]:
        return _filter_tail(
            state.reads, since=since, phone_number_id=phone_number_id, to=None, limit=None
        )

    @app.delete("/__sent")
    async def clear_sent() -> dict[str, bool]:
        state.clear_records()
        return {"cleared": True}

    @app.get("/__webhooks")
    async def get_webhooks() -> dict[str, Any]:
        return state.webhooks.model_dump(exclude={"app_secrets"}) | {"pending": len(state.outbox)}

    @app.put("/__webhooks")
    async def put_webhooks(config: StatusWebhooks) -> dict[str, Any]:
        state.webhooks = config
        return config.model_dump(exclude={"app_secrets"})

    @app.get("/__stats")
    async def stats() -> dict[str, Any]:
        return {
            "sent": state.counts["sent"],
            "failed": state.counts["failed"],
            "reads": state.counts["reads"],
            "webhooks": {
                name: state.counts[f"webhook_{name}"]
                for name in (
                    "posts",
                    "statuses",
                    "post_failures",
                    "statuses_dropped",
                    "statuses_given_up",
                )
            }
            | {"pending": len(state.outbox)},
            "by_status": {str(k): v for k, v in sorted(state.by_status.items())},
            "by_code": {str(k): v for k, v in sorted(state.by_code.items())},
            "records": len(state.sent),
            "max_records": state.max_records,
            "rules": len(state.rules),
        }

    @app.post("/__fail")
    async def add_failure(rule: FailureRule) -> dict[str, Any]:
        return state.add_rule(rule).describe()

    @app.get("/__fail")
    async def list_failures() -> list[dict[str, Any]]:
        now = time.monotonic()
        return [active.describe() for active in state.rules if not active.expired(now)]

    @app.delete("/__fail")
    async def clear_failures() -> dict[str, bool]:
        state.rules.clear()
        return {"cleared": True}

    return app


# --- the command --------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gerbang_devtools.fake_graph",
        description="A fake WhatsApp Cloud API for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--max-records", type=int, default=DEFAULT_MAX_RECORDS)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Delay every send")
    parser.add_argument("--allow-remote", action="store_true", help="Allow a non-loopback --host")
    parser.add_argument(
        "--status-webhook-url", default=None, help="Post status webhooks here, as Meta does"
    )
    parser.add_argument("--status-delay-ms", type=float, default=300.0)
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the fake with uvicorn. Prints `fake graph listening on <url>` once bound."""
    import uvicorn

    args = _parse_args(argv)
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"refusing to listen on {args.host!r}: not a loopback address "
            "(pass --allow-remote to override)",
            file=sys.stderr,
        )
        return 2
    if args.max_records < 1:
        print("--max-records must be >= 1", file=sys.stderr)
        return 2

    # Bind here rather than in uvicorn so that `--port 0` can report the port it got; the
    # socket listens from this point, so a client that reads the line can connect at once.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"{READY_LINE_PREFIX}http://{url_host}:{port}", flush=True)

    app = create_app(
        max_records=args.max_records,
        latency_ms=args.latency_ms,
        webhooks=StatusWebhooks(url=args.status_webhook_url, delay_ms=args.status_delay_ms),
        # From the environment, not the command line (which `ps` shows to everyone).
        app_secret=os.environ.get("FAKE_GRAPH_APP_SECRET", DEV_APP_SECRET),
    )
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
