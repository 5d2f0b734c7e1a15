"""The `/ops` broadcasts: an office lead sends the live announcement once to the citizens who
subscribed, and follows its delivery report (from Meta's status webhooks).

Routes:
    GET  /ops/o/{office}/broadcasts          subscribers, the live announcement, every
                                             broadcast with its report (newest first)
    POST /ops/o/{office}/broadcasts          start one (office lead or national staff)
    POST /ops/o/{office}/broadcasts/{id}/cancel  stop a running one (the same roles)
    GET  /ops/o/{office}/broadcasts/{id}.json  one report (the page's live updates, tests)

Office-scoped: a broadcast is listed, reported and stopped only on its own office's page
(another office's id answers 404). Starting and stopping, and a refused attempt, are audited
(`broadcast.start`, `broadcast.cancel`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gerbang_gateway.broadcast import BroadcastStore, Report
from gerbang_gateway.ops.access import ALL_OFFICES
from gerbang_gateway.ops.audit import action_for
from gerbang_gateway.ops.content import ContentRefused

_ID = re.compile(r"^[a-z0-9_]{2,32}-\d{14}-[0-9a-f]{6}$")
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
LEAD_ONLY = (
    "Hanya kepala kantor atau staf nasional yang dapat memulai siaran. / Only the office lead "
    "or national staff start a broadcast."
)
LEAD_ONLY_STOP = (
    "Hanya kepala kantor atau staf nasional yang dapat menghentikan siaran. / Only the office "
    "lead or national staff stop a broadcast."
)
NO_NOTICE = (
    "Tidak ada pengumuman yang berlaku sekarang: terbitkan pengumuman dulu di Konten. / No "
    "announcement is valid now: publish one under Konten first."
)


def _pages() -> Any:
    from gerbang_gateway.ops import pages

    return pages


def _store(request: Request) -> BroadcastStore:
    store: BroadcastStore = request.app.state.gateway.broadcasts
    return store


def _wib(unix: float) -> str:
    if not unix:
        return ""
    return dt.datetime.fromtimestamp(unix, WIB).strftime("%d %b %Y %H:%M")


def _as_json(report: Report) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["text"] = report.text.model_dump()
    data["queued"] = report.queued
    return data


def build_broadcast_router() -> APIRouter:
    """The broadcasts' routes."""
    router = APIRouter()

    @router.get("/ops/o/{office}/broadcasts", response_class=HTMLResponse)
    async def broadcasts(
        request: Request, office: str, started: str = "", cancelled: str = ""
    ) -> Response:
        pages = _pages()
        viewer, _ = await pages._office_page(request, office)
        if office == ALL_OFFICES:
            raise pages.NoSuchOffice(office)
        gateway = request.app.state.gateway
        store = _store(request)
        reports = [r for i in await store.ids(office) if (r := await store.report(i))]
        notice = gateway.registry.published.notice(office, dt.datetime.now(dt.UTC))
        return pages._render(
            request,
            "ops/broadcasts.html",
            **pages._page_context(request, viewer, office, "broadcasts"),
            subscribers=await gateway.subscriptions.count(office),
            notice=notice,
            reports=reports,
            wib=_wib,
            started=started if _ID.match(started) else "",
            cancelled=cancelled if _ID.match(cancelled) else "",
        )

    @router.post("/ops/o/{office}/broadcasts")
    async def start(
        request: Request, office: str, csrf: Annotated[str, Form(max_length=100)] = ""
    ) -> Response:
        pages = _pages()
        viewer, _ = await pages._office_page(request, office, csrf)
        if office == ALL_OFFICES:
            raise pages.NoSuchOffice(office)
        ops = pages._ops(request)
        gateway = request.app.state.gateway
        notice = gateway.registry.published.notice(office, dt.datetime.now(dt.UTC))
        refusal = LEAD_ONLY if not viewer.lead else (NO_NOTICE if notice is None else None)
        if refusal:
            await ops.audit.record(
                action_for(viewer, "broadcast.start", target_office=office, outcome="refused",
                           detail="not a lead" if refusal == LEAD_ONLY else "no announcement")
            )  # fmt: skip
            raise ContentRefused(refusal, status=403 if refusal == LEAD_ONLY else 409)
        office_config = gateway.registry.get(office)
        broadcast_id = await _store(request).create(
            office, office_config.whatsapp.phone_number_id, notice.text, viewer.username
        )
        await ops.audit.record(
            action_for(viewer, "broadcast.start", target_office=office, target=broadcast_id,
                       detail=f"{await gateway.subscriptions.count(office)} subscribers")
        )  # fmt: skip
        return RedirectResponse(
            f"/ops/o/{office}/broadcasts?started={broadcast_id}", status_code=303
        )

    @router.post("/ops/o/{office}/broadcasts/{broadcast_id}/cancel")
    async def cancel(
        request: Request,
        office: str,
        broadcast_id: str,
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        pages = _pages()
        viewer, _ = await pages._office_page(request, office, csrf)
        store = _store(request)
        found = await store.report(broadcast_id) if _ID.match(broadcast_id) else None
        if found is None or found.office != office:  # another office's: as if missing
            return JSONResponse({"error": "not_found"}, status_code=404)
        ops = pages._ops(request)
        if not viewer.lead:
            await ops.audit.record(
                action_for(viewer, "broadcast.cancel", target_office=office,
                           target=broadcast_id, outcome="refused", detail="not a lead")
            )  # fmt: skip
            raise ContentRefused(LEAD_ONLY_STOP, status=403)
        stopped = await store.cancel(broadcast_id, viewer.username)
        await ops.audit.record(
            action_for(viewer, "broadcast.cancel", target_office=office, target=broadcast_id,
                       outcome="ok" if stopped else "refused",
                       detail=f"{found.queued} of {found.targeted} queued" if stopped
                       else f"already {found.state}")
        )  # fmt: skip
        return RedirectResponse(
            f"/ops/o/{office}/broadcasts?cancelled={broadcast_id}", status_code=303
        )

    @router.get("/ops/o/{office}/broadcasts/{broadcast_id}.json")
    async def report(request: Request, office: str, broadcast_id: str) -> Response:
        pages = _pages()
        await pages._office_page(request, office)
        found = await _store(request).report(broadcast_id) if _ID.match(broadcast_id) else None
        if found is None or found.office != office:  # another office's: as if missing
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(_as_json(found))

    return router
