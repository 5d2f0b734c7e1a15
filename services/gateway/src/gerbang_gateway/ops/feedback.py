"""The feedback inbox on `/ops`, read from and written to the feedback service's API.

The ops server calls the feedback API with its own national key and forces the office
filter to the signed-in office itself: an office's staff never hold a feedback key, and
cannot widen what they see by editing a URL.

    GET  /v1/feedback?office=<code>&status=<s>&limit=<n>    the items not closed yet
    GET  /v1/feedback/<ticket>                              one item (to check its office)
    GET  /v1/feedback/summary?office=<code>                 not closed / overdue per office
    POST /v1/feedback/<ticket>/handled  {"note", "by"}      closed
    POST /v1/feedback/<ticket>/progress {"by"}              in progress
    POST /v1/feedback/<ticket>/answer   {"text", "by", "key"}  answered (sent on WhatsApp)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from gerbang.phone import mask

log = logging.getLogger(__name__)


OPEN_STATUSES = ("open", "in_progress", "answered")
"""Not closed yet ("handled" is closed)."""


class FeedbackUnavailable(Exception):
    """The feedback API could not be reached or answered an error."""


class NotThisOffice(LookupError):
    """The ticket does not exist or belongs to another office."""


@dataclass(frozen=True)
class FeedbackItem:
    """One ticket as the inbox shows it (the number masked)."""

    ticket: str
    office: str
    kind: str
    urgent: bool
    status: str
    received_at: str
    phone: str
    text: str
    callback_required: bool
    overdue: str | None = None
    """The deadline missed: "respond" or "finish" (None: on time)."""
    due_respond: str = ""
    answer: str | None = None

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> FeedbackItem:
        """Build from the API's JSON; the number is masked here whatever the API sent."""
        phone = str(item.get("phone") or item.get("wa_id") or "")
        return cls(
            ticket=str(item["ticket"]),
            office=str(item["office"]),
            kind=str(item.get("kind", "")),
            urgent=bool(item.get("urgent", False)),
            status=str(item.get("status", "open")),
            received_at=str(item.get("received_at", ""))[:16].replace("T", " "),
            phone=phone if "*" in phone else mask(phone),
            text=str(item.get("text", "")),
            callback_required=bool(item.get("callback_required", False)),
            overdue=item.get("overdue") or None,
            due_respond=str(item.get("due_respond") or "")[:10],
            answer=item.get("answer") or None,
        )


def _items(body: Any) -> list[dict[str, Any]]:
    """The list in a list answer: a bare JSON list or `{"items": [...]}`."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for name in ("items", "feedback", "results"):
            if isinstance(body.get(name), list):
                return list(body[name])
    raise FeedbackUnavailable("the feedback API answered a list in an unknown shape")


class FeedbackClient:
    """Calls the feedback API with the server's national key."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str | None) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.api_key:
            raise FeedbackUnavailable("no feedback API key configured (GERBANG_FEEDBACK_API_KEY)")
        try:
            response = await self.http.request(
                method, f"{self.base_url}{path}", headers={"X-API-Key": self.api_key}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise FeedbackUnavailable(f"feedback API unreachable: {type(exc).__name__}") from exc
        return response

    async def open_items(self, office: str, limit: int = 100) -> list[FeedbackItem]:
        """The office's tickets not closed yet (open, in progress, answered), overdue ones
        first, then newest first."""
        items: list[FeedbackItem] = []
        for status in OPEN_STATUSES:
            response = await self._call(
                "GET", "/v1/feedback", params={"office": office, "status": status, "limit": limit}
            )
            if response.status_code != 200:
                raise FeedbackUnavailable(f"feedback API answered {response.status_code}")
            items += [FeedbackItem.from_api(item) for item in _items(response.json())]
        # Belt and braces: never show another office's ticket, whatever the API returned.
        mine = [i for i in items if i.office == office and i.status in OPEN_STATUSES]
        mine.sort(key=lambda i: i.received_at, reverse=True)
        mine.sort(key=lambda i: i.overdue is None)
        return mine

    async def summary(self, offices: list[str]) -> dict[str, dict[str, int]]:
        """Per office: tickets not closed and overdue ones."""
        counts: dict[str, dict[str, int]] = {}
        for office in offices:
            response = await self._call("GET", "/v1/feedback/summary", params={"office": office})
            if response.status_code != 200:
                raise FeedbackUnavailable(f"feedback API answered {response.status_code}")
            counts[office] = dict(response.json()["offices"].get(office, {}))
        return counts

    async def _act(self, office: str, ticket: str, action: str, body: dict[str, str]) -> None:
        """POST an action on one of the office's tickets (`NotThisOffice` if not its own)."""
        found = await self._call("GET", f"/v1/feedback/{ticket}")
        if found.status_code == 404:
            raise NotThisOffice(ticket)
        if found.status_code != 200:
            raise FeedbackUnavailable(f"feedback API answered {found.status_code}")
        if found.json().get("office") != office:
            raise NotThisOffice(ticket)
        response = await self._call("POST", f"/v1/feedback/{ticket}/{action}", json=body)
        if response.status_code == 404:
            raise NotThisOffice(ticket)
        if response.status_code not in (200, 201, 204):
            raise FeedbackUnavailable(f"feedback API answered {response.status_code}")
        log.info(
            "feedback ticket updated", extra={"office": office, "ticket": ticket, "action": action}
        )

    async def mark_handled(self, office: str, ticket: str, note: str, handled_by: str) -> None:
        """Close one of the office's tickets."""
        await self._act(office, ticket, "handled", {"note": note, "by": handled_by})

    async def mark_in_progress(self, office: str, ticket: str, by: str) -> None:
        """Take one of the office's tickets up."""
        await self._act(office, ticket, "progress", {"by": by})

    async def answer(self, office: str, ticket: str, text: str, by: str, key: str) -> None:
        """Answer the citizen of one of the office's tickets on WhatsApp."""
        await self._act(office, ticket, "answer", {"text": text, "by": by, "key": key})
