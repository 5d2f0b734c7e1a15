"""The WhatsApp Cloud API (Meta Graph API) client used by the gateway's sender.

Three pieces, each usable alone:

- `build_payload` turns a reply's content (`gerbang.messages.ReplyContent`) into the exact
  JSON body of `POST /<version>/<phone_number_id>/messages`.
- `GraphClient` sends it and returns the wamid, or raises a typed `SendError` that says what
  the sender should do next (retry with backoff, retry this citizen later, send a template
  instead, or give up and dead-letter).
- `backoff_delay` is the pure exponential-with-full-jitter delay the sender sleeps between
  retries.

The access token is passed per call (each office has its own) and never appears in an
exception, a log line or a repr.

Reference: /work/shared/reference/whatsapp-cloud-api.md §1.5 (payloads, limits),
§1.6 (throughput, 24-hour window, error codes), §1.7 (read receipts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from gerbang.messages import (
    ButtonsContent,
    ListContent,
    ReplyContent,
    TemplateContent,
    TextContent,
)
from gerbang.phone import mask

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"

_NON_DIGITS = re.compile(r"\D+")


# --- payloads -----------------------------------------------------------------------------


def recipient(wa_id: str) -> str:
    """The `to` of a send: `+` and the digits of the wa_id.

    Without the `+` Meta prepends the *business number's* country code, so a number written
    without it could reach the wrong person (reference §1.5).
    """
    digits = _NON_DIGITS.sub("", wa_id)
    if not digits:
        raise ValueError("wa_id has no digits")
    return "+" + digits


def build_payload(wa_id: str, content: ReplyContent) -> dict[str, Any]:
    """The Cloud API JSON body that sends `content` to the citizen `wa_id`."""
    envelope: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient(wa_id),
    }
    if isinstance(content, TextContent):
        return envelope | {
            "type": "text",
            "text": {"preview_url": content.preview_url, "body": content.body},
        }
    if isinstance(content, ListContent):
        return envelope | {"type": "interactive", "interactive": _list(content)}
    if isinstance(content, ButtonsContent):
        return envelope | {"type": "interactive", "interactive": _buttons(content)}
    if isinstance(content, TemplateContent):
        return envelope | {"type": "template", "template": _template(content)}
    raise TypeError(f"no WhatsApp payload for content of type {type(content).__name__}")


def _frame(header: str | None, body: str, footer: str | None) -> dict[str, Any]:
    """Header (text only), body and footer shared by lists and reply buttons."""
    frame: dict[str, Any] = {}
    if header:
        frame["header"] = {"type": "text", "text": header}
    frame["body"] = {"text": body}
    if footer:
        frame["footer"] = {"text": footer}
    return frame


def _list(content: ListContent) -> dict[str, Any]:
    sections = [
        {
            "title": section.title,
            "rows": [
                {"id": row.id, "title": row.title}
                | ({"description": row.description} if row.description else {})
                for row in section.rows
            ],
        }
        for section in content.sections
    ]
    return (
        {"type": "list"}
        | _frame(content.header, content.body, content.footer)
        | {"action": {"button": content.button, "sections": sections}}
    )


def _buttons(content: ButtonsContent) -> dict[str, Any]:
    buttons = [
        {"type": "reply", "reply": {"id": button.id, "title": button.title}}
        for button in content.buttons
    ]
    return (
        {"type": "button"}
        | _frame(content.header, content.body, content.footer)
        | {"action": {"buttons": buttons}}
    )


def _template(content: TemplateContent) -> dict[str, Any]:
    template: dict[str, Any] = {"name": content.name, "language": {"code": content.language}}
    # A template without variables is sent without components; an empty parameter list
    # would be a parameter-count mismatch (132000) for nothing.
    if content.body_parameters:
        template["components"] = [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": text} for text in content.body_parameters],
            }
        ]
    return template


# --- errors -------------------------------------------------------------------------------


class SendError(Exception):
    """The Graph API did not accept a message. `code` is Meta's `error.code` (None when the
    failure was not an error object: a timeout, a refused connection, an HTML error page)."""

    def __init__(
        self,
        code: int | None,
        message: str,
        details: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.http_status = http_status

    def __str__(self) -> str:
        parts = [f"code={self.code}", f"http_status={self.http_status}", self.message]
        if self.details:
            parts.append(f"details={self.details}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


class RetryableSendError(SendError):
    """Try again later with backoff: throughput or app limits, Meta's transient failures,
    timeouts and connection errors. `retry_after` is Meta's `Retry-After`, if it sent one."""

    def __init__(
        self,
        code: int | None,
        message: str,
        details: str | None = None,
        http_status: int | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, details, http_status)
        self.retry_after = retry_after


class OutcomeUnknown(RetryableSendError):
    """The request may have reached Meta, but no answer came back (a timeout, a connection
    dropped mid-call): Meta may have accepted the message. Not to be repeated blindly; the
    sender reconciles it with the status webhook first."""


class PairRateLimited(RetryableSendError):
    """131056: too many messages to this one citizen. Retry *that citizen only* later,
    4^X seconds after the X-th refusal (`pair_rate_limit_delay`); others are unaffected."""


class OutsideWindowError(SendError):
    """131047: more than 24 hours since the citizen's last message. A free-form message
    will never pass; send the reply's approved template instead."""


class PermanentSendError(SendError):
    """Not worth a blind retry: bad payload, unknown or blocked recipient, auth or permission
    failure, spam limit. Dead-letter it, visibly to ops."""


# Meta says to branch on `error.code`, not on HTTP status (reference §1.6).
THROUGHPUT_LIMIT = 130429
PAIR_RATE_LIMIT = 131056
RE_ENGAGEMENT = 131047
RETRYABLE_CODES: frozenset[int] = frozenset(
    {
        THROUGHPUT_LIMIT,
        4,  # application request limit
        80007,  # WABA rate limit
        131000,  # something went wrong
        131016,  # service temporarily unavailable
        2,  # API service temporarily down or overloaded
        131057,  # account in maintenance (e.g. a throughput upgrade, ~1 min)
    }
)
# Known codes that must not be retried blindly, listed so that an HTTP 5xx carrying one of
# them is still permanent (an *unknown* code on a 5xx is treated as transient).
PERMANENT_CODES: frozenset[int] = frozenset(
    {0, 1, 3, 10, 100, 190, 368, 131005, 131008, 131009, 131021, 131026, 131031, 131048}
    | {131051, 131052, 131053, 133016}
    | set(range(200, 300))
    | {132000, 132001, 132005, 132007, 132012, 132015, 132016, 132068, 132069}
)


def classify_error(
    http_status: int,
    body: bytes | str | Mapping[str, Any] | None,
    retry_after: float | None = None,
) -> SendError:
    """The typed error for a Graph API response that was not a successful send.

    Branches on Meta's `error.code`; only when the body carries none (an HTML error page, an
    empty 502 from a proxy) does the HTTP status decide: 408, 429 and 5xx are retryable,
    anything else permanent.
    """
    error = _error_object(body)
    code = _int_or_none(error.get("code")) if error else None
    if error is None or code is None:
        retryable = http_status in (408, 429) or http_status >= 500
        message = f"HTTP {http_status} without a Graph API error object"
        if retryable:
            return RetryableSendError(None, message, None, http_status, retry_after=retry_after)
        return PermanentSendError(None, message, None, http_status)

    message = str(error.get("message") or error.get("error_user_msg") or f"(#{code})")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    details = str(details) if details is not None else None
    if code == PAIR_RATE_LIMIT:
        return PairRateLimited(code, message, details, http_status, retry_after=retry_after)
    if code == RE_ENGAGEMENT:
        return OutsideWindowError(code, message, details, http_status)
    if code in RETRYABLE_CODES:
        return RetryableSendError(code, message, details, http_status, retry_after=retry_after)
    if code not in PERMANENT_CODES and (http_status >= 500 or http_status == 429):
        # A code we do not know, on a status that says "try again": trust the status.
        return RetryableSendError(code, message, details, http_status, retry_after=retry_after)
    return PermanentSendError(code, message, details, http_status)


def _error_object(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if body is None:
        return None
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    return error if isinstance(error, Mapping) else None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


# --- backoff ------------------------------------------------------------------------------


class RandomSource(Protocol):
    """What `backoff_delay` needs of a random generator (`random.Random` fits)."""

    def random(self) -> float: ...


def backoff_delay(attempt: int, *, base: float, cap: float, rng: RandomSource) -> float:
    """Seconds to wait before retry number `attempt` (0 = the first retry).

    Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)), so
    that senders that failed together do not retry together.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    # 2**64 already exceeds any sensible cap; bounding the exponent keeps floats finite.
    ceiling = min(cap, base * 2.0 ** min(attempt, 64))
    return rng.random() * ceiling


def pair_rate_limit_delay(attempt: int, *, cap: float = 3600.0) -> float:
    """Meta's advice after 131056: wait 4^X seconds, X = 0, 1, 2, … (capped)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return min(cap, 4.0 ** min(attempt, 32))


# --- the client ---------------------------------------------------------------------------


def graph_session(timeout_s: float, max_connections: int) -> aiohttp.ClientSession:
    """The HTTP session a `GraphClient` sends through (the caller opens and closes it).

    aiohttp, not httpx, on this hot path: in a loopback benchmark against the fake Graph API
    an httpx POST cost ≈2.3 ms of CPU and an aiohttp one ≈0.17 ms, and the sender was the
    pipeline's bottleneck.
    """
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300),
        raise_for_status=False,
        # The Graph API sets no cookies: no jar to filter for every call.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class GraphClient:
    """Sends messages through the Graph API. Holds no token: each call gets its office's.

    One connection pool serves every office, but each office's number may hold at most
    `connections_per_number` of it at once: when Meta is slow for one number (holding its
    answers up to the timeout), that number's calls queue behind its own budget and every
    other office's replies keep their connections. With one shared pool, a stalled number
    once held all of them and every office's sends stopped for the timeout.
    """

    def __init__(
        self,
        base_url: str,
        api_version: str,
        http: aiohttp.ClientSession,
        *,
        connections_per_number: int | None = None,
    ) -> None:
        """`http` is owned by the caller (it opens and closes it, and sets its timeouts and
        its pool's total: see `graph_session`). `connections_per_number`: the budget of
        each phone_number_id (None: no budget, the pool's total only)."""
        if connections_per_number is not None and connections_per_number < 1:
            raise ValueError("connections_per_number must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version.strip("/")
        self._http = http
        self._per_number = connections_per_number
        self._budgets: dict[str, asyncio.Semaphore] = {}

    def _budget(self, phone_number_id: str) -> contextlib.AbstractAsyncContextManager[object]:
        """The number's share of the pool. Waiting here is outside the call's timeout (the
        aiohttp timeout starts with the request), so a queued call is never a timed-out one
        whose outcome is unknown: it was simply not sent yet."""
        if self._per_number is None:
            return contextlib.nullcontext()
        budget = self._budgets.get(phone_number_id)
        if budget is None:
            budget = self._budgets[phone_number_id] = asyncio.Semaphore(self._per_number)
        return budget

    def __repr__(self) -> str:
        return f"GraphClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    def messages_url(self, phone_number_id: str) -> str:
        """`<base>/<version>/<phone_number_id>/messages`."""
        return f"{self.base_url}/{self.api_version}/{quote(phone_number_id, safe='')}/messages"

    async def send(self, phone_number_id: str, access_token: str, payload: dict[str, Any]) -> str:
        """Send one message from the office number `phone_number_id`; return its wamid.

        Raises a `SendError` subclass. A timeout or a connection lost after the request went
        out is `OutcomeUnknown`: Meta may have accepted the message, so the caller reconciles
        before sending it again (gerbang_gateway.sender).
        """
        body = await self._post(phone_number_id, access_token, payload)
        messages = body.get("messages")
        wamid = None
        if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
            wamid = messages[0].get("id")
        if not isinstance(wamid, str) or not wamid:
            # Accepted (2xx) but without an id: retrying might send it twice, so give up
            # visibly instead.
            raise PermanentSendError(None, "Graph API answered 2xx without messages[0].id")
        return wamid

    async def mark_read(
        self,
        phone_number_id: str,
        access_token: str,
        message_id: str,
        *,
        typing: bool = False,
    ) -> None:
        """Mark the inbound `message_id` (and earlier ones) read; with `typing`, also show
        the typing indicator (until we reply, at most 25 s) — reference §1.7."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        await self._post(phone_number_id, access_token, payload)

    async def _post(
        self, phone_number_id: str, access_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        if not access_token:
            raise PermanentSendError(None, "no access token configured for this number")
        try:
            async with (
                self._budget(phone_number_id),
                self._http.post(
                    self.messages_url(phone_number_id),
                    json=payload,
                    headers={"Authorization": f"Bearer {access_token}"},
                ) as response,
            ):
                status = response.status
                content = await response.read()
                retry_after = response.headers.get("retry-after")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never connected: Meta has nothing, a plain retry is safe. `from None`: nothing
            # downstream (error reporters, dead letters) should hold the request and its token.
            raise RetryableSendError(
                None, f"cannot reach the Graph API ({type(exc).__name__}: {exc})"
            ) from None
        except TimeoutError as exc:
            raise OutcomeUnknown(
                None, f"timeout talking to the Graph API ({type(exc).__name__})"
            ) from None
        except aiohttp.ClientError as exc:
            raise OutcomeUnknown(
                None, f"no answer from the Graph API ({type(exc).__name__}: {exc})"
            ) from None

        if 200 <= status < 300:
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise PermanentSendError(
                    None,
                    "Graph API answered 2xx with a body that is not a JSON object",
                    http_status=status,
                )
            return body

        error = classify_error(status, content, parse_retry_after(retry_after))
        _scrub(error, access_token)
        # The sender logs the failure with its office and reply context; this is detail.
        log.debug(
            "graph send refused",
            extra={
                "phone_number_id": phone_number_id,
                "to": mask(str(payload.get("to", ""))),
                "code": error.code,
                "http_status": error.http_status,
                "error_class": type(error).__name__,
            },
        )
        raise error


def _scrub(error: SendError, token: str) -> None:
    """Remove the token from text Meta echoed back (defence in depth: it should not)."""
    error.message = error.message.replace(token, "***")
    if error.details:
        error.details = error.details.replace(token, "***")
    error.args = (error.message,)
