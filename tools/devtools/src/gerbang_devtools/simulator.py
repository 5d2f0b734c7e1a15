"""`/simulator`: try any office's WhatsApp number in a browser (development only).

The page is a WhatsApp-like chat. What the citizen types goes through the real path: the
server builds the webhook Meta would send (signed with the office's app secret, as
`devtools` does for the e2e tests) and POSTs it to this gateway's own
`/webhook/whatsapp`; the replies are what the fake Graph API received for that citizen.

Routes (404 unless development and `simulator_enabled`):
    GET  /simulator                                   the chat page
    POST /simulator/send     {office, wa_id, text} or {office, wa_id, reply_id, title, kind}
    GET  /simulator/replies?office=&wa_id=&since=    replies sent to the citizen since an index
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from gerbang.offices import Office, UnknownOffice, office_secret
from gerbang.phone import display, mask
from gerbang_devtools.webhooks import encode_signed, message_webhook, reply_message, text_message
from gerbang_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=PACKAGE / "templates")
TEMPLATES.env.filters["phone"] = display

WaId = Annotated[str, Field(pattern=r"^\d{8,15}$", description="The citizen's number, digits")]


class SimulatedMessage(BaseModel):
    """What the citizen does on the page: type a text, or tap a list row or a button."""

    office: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    wa_id: WaId
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    reply_id: str | None = Field(default=None, min_length=1, max_length=256)
    title: str | None = Field(default=None, max_length=24)
    kind: Literal["list_reply", "button_reply"] = "list_reply"


def webhook_for(message: SimulatedMessage, office: Office) -> dict[str, Any]:
    """The webhook body Meta would send for this citizen action."""
    if message.reply_id is not None:
        item = reply_message(message.reply_id, message.title or message.reply_id, kind=message.kind)
    elif message.text is not None:
        item = text_message(message.text)
    else:
        raise ValueError("a simulated message needs text or a reply_id")
    return message_webhook(office, message.wa_id, item, profile_name="Simulator")


def enabled(settings: GatewaySettings) -> bool:
    """The simulator exists only in development, and only when switched on."""
    return settings.development and settings.simulator_enabled


def build_router(settings: GatewaySettings) -> APIRouter:
    """The simulator's routes."""
    router = APIRouter()
    api_url = f"http://127.0.0.1:{settings.api_port}"
    graph_url = settings.graph_base_url.rstrip("/")

    def _office(request: Request, code: str) -> Office:
        if not enabled(settings):
            raise HTTPException(404)
        try:
            office: Office = request.app.state.gateway.registry.get(code)
        except UnknownOffice:
            raise HTTPException(404, "unknown office") from None
        return office

    @router.get("/simulator", response_class=HTMLResponse)
    async def page(request: Request) -> Response:
        """The chat page."""
        if not enabled(settings):
            raise HTTPException(404)
        offices = sorted(request.app.state.gateway.registry, key=lambda o: o.code)
        return TEMPLATES.TemplateResponse(request, "simulator/index.html", {"offices": offices})

    @router.post("/simulator/send")
    async def send(request: Request, message: SimulatedMessage) -> Response:
        """Sign the citizen's message as Meta would and POST it to our webhook."""
        office = _office(request, message.office)
        try:
            body = webhook_for(message, office)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        secret = office_secret(office.code, "APP_SECRET", development=True)
        raw, headers = encode_signed(body, secret)
        try:
            async with httpx.AsyncClient(timeout=15) as http:
                response = await http.post(
                    f"{api_url}/webhook/whatsapp", content=raw, headers=headers
                )
        except httpx.HTTPError as exc:
            return JSONResponse({"ok": False, "error": f"gateway unreachable: {exc!r}"}, 502)
        log.info(
            "simulated message",
            extra={
                "office": office.code,
                "wa_id": mask(message.wa_id),
                "webhook_status": response.status_code,
            },
        )
        return JSONResponse(
            {
                "ok": response.status_code == 200,
                "webhook_status": response.status_code,
                "message_id": body["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
            },
            status_code=200 if response.status_code == 200 else 502,
        )

    @router.get("/simulator/replies")
    async def replies(
        request: Request,
        office: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{1,31}$")],
        wa_id: Annotated[str, Query(pattern=r"^\d{8,15}$")],
        since: Annotated[int | None, Query(ge=0)] = None,
    ) -> Response:
        """Replies the office sent this citizen (from the fake Graph API).

        Without `since`: no messages, just the index to poll from (a new conversation).
        """
        sender = _office(request, office)
        params: dict[str, Any] = {"to": wa_id, "phone_number_id": sender.whatsapp.phone_number_id}
        if since is not None:
            params["since"] = since
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(f"{graph_url}/__sent", params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"fake Graph API unreachable: {exc!r}"}, 502)
        records = response.json()
        last = max((int(r["index"]) for r in records), default=None)
        next_index = last + 1 if last is not None else (since or 0)
        if since is None:
            return JSONResponse({"next": next_index, "messages": []})
        return JSONResponse(
            {
                "next": next_index,
                "messages": [
                    {"index": r["index"], "payload": r["payload"], "at": r.get("received_at")}
                    for r in records
                ],
            }
        )

    return router


def install_simulator(app: FastAPI, settings: GatewaySettings) -> None:
    """Mount `/simulator` and its static files (its routes answer 404 unless enabled)."""
    app.include_router(build_router(settings))
    app.mount(
        "/simulator/static", StaticFiles(directory=PACKAGE / "static"), name="simulator-static"
    )
