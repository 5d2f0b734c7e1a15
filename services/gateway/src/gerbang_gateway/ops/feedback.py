"""The feedback inbox on `/ops`, read from and written to the feedback service's API.

The ops server calls the feedback API with its own national key and forces the office
filter to the signed-in office itself: an office's staff never hold a feedback key, and
cannot widen what they see by editing a URL.

    GET  /v1/feedback?office=<code>&status=open&limit=<n>   the open items
    GET  /v1/feedback/<ticket>                              one item (to check its office)
    POST /v1/feedback/<ticket>/handled  {"note", "by"}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from gerbang.phone import mask

log = logging.getLogger(__name__)


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
        """The office's open tickets, newest first as the API orders them."""
        response = await self._call(
            "GET", "/v1/feedback", params={"office": office, "status": "open", "limit": limit}
        )
        if response.status_code != 200:
            raise FeedbackUnavailable(f"feedback API answered {response.status_code}")
        items = [FeedbackItem.from_api(item) for item in _items(response.json())]
        # Belt and braces: never show another office's ticket, whatever the API returned.
        return [item for item in items if item.office == office and item.status == "open"]

    async def mark_handled(self, office: str, ticket: str, note: str, handled_by: str) -> None:
        """Mark one of the office's tickets handled (`NotThisOffice` if it is not its own)."""
        found = await self._call("GET", f"/v1/feedback/{ticket}")
        if found.status_code == 404:
            raise NotThisOffice(ticket)
        if found.status_code != 200:
            raise FeedbackUnavailable(f"feedback API answered {found.status_code}")
        if found.json().get("office") != office:
            raise NotThisOffice(ticket)
        response = await self._call(
            "POST",
            f"/v1/feedback/{ticket}/handled",
            json={"note": note, "by": handled_by},
        )
        if response.status_code == 404:
            raise NotThisOffice(ticket)
        if response.status_code not in (200, 201, 204):
            raise FeedbackUnavailable(f"feedback API answered {response.status_code}")
        log.info("feedback marked handled", extra={"office": office, "ticket": ticket})
