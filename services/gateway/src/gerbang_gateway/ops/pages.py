"""The `/ops` pages: sign-in, per-office overview, feedback inbox, dead letters, audit log.

Server-rendered with Jinja2 and plain CSS; the little JavaScript there is (the office
switcher, the inbox's live updates) is a static file, so the Content-Security-Policy allows
no inline script. Every page and action takes the office from the URL and checks it against
the signed-in staff member (`_office_page`): an office's staff see only their office
(anything else is 403), national staff every office and the sum of all (`/ops/o/all`).
Every POST carries the session's CSRF token; every staff action is audited (`ops.audit`).

Routes:
    GET  /ops                                     → the viewer's office page (or sign-in)
    GET  /ops/login, POST /ops/login, POST /ops/logout
    GET  /ops/o/{office}                          overview
    GET  /ops/o/{office}/feedback                 open feedback
    POST /ops/o/{office}/feedback/{ticket}/answer|progress|handled
    GET  /ops/o/{office}/dead-letters
    POST /ops/o/{office}/dead-letters/{letter_id}/redrive
    GET  /ops/o/{office}/audit                    audit log and sign-in counts (leads only)
    GET  /ops/o/{office}/inbox[.json]             held conversations, oldest first
    GET  /ops/o/{office}/inbox/{conv}             a conversation: transcript, reply box
    GET  /ops/o/{office}/inbox/{conv}/live        new entries and state (polled by ops.js)
    POST /ops/o/{office}/inbox/{conv}/claim|reply|close
    /ops/o/{office}/content…                      the content editor (ops/content.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gerbang import metrics
from gerbang.logview import LogFollower
from gerbang.messages import Topic
from gerbang.offices import Office
from gerbang.opsstats import OfficeStats, OpsStats, merge
from gerbang.phone import display, mask
from gerbang.publishing.view import live_content
from gerbang_gateway.handoff import HandoffStore
from gerbang_gateway.ops.access import (
    ALL_OFFICES,
    COOKIE_NAME,
    LOGIN_CSRF_COOKIE,
    OpsSession,
    OpsSessions,
    SignInThrottle,
    Viewer,
    csrf_ok,
)
from gerbang_gateway.ops.audit import AuditLog, AuditView, action_for
from gerbang_gateway.ops.deadletters import (
    NATIONAL_BUCKET,
    DeadLetterStore,
    LetterNotFound,
    NotRedrivable,
    index_dead_letters,
    redrive,
)
from gerbang_gateway.ops.feedback import FeedbackClient, FeedbackUnavailable, NotThisOffice
from gerbang_gateway.ops.inbox import (
    Inbox,
    NotHeld,
    NotHolder,
    TranscriptView,
    Waiting,
    quick_replies,
    waited,
    window_text,
)
from gerbang_gateway.ops.staff import StaffDirectory, load_staff
from gerbang_gateway.redis_state import Sessions

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = Jinja2Templates(directory=PACKAGE / "templates")
TEMPLATES.env.filters["phone"] = display
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_OFFICE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_TICKET = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{6,}$")
_LETTER_ID = re.compile(r"^[a-z0-9._]+\.dlq:\d+:\d+$")
FAQ_MISSES_SHOWN = 30


@dataclass
class OpsState:
    """What the ops pages use, built in the API's lifespan."""

    staff: StaffDirectory
    sessions: OpsSessions
    throttle: SignInThrottle
    audit: AuditLog
    inbox: Inbox
    stats: OpsStats
    letters: DeadLetterStore
    feedback: FeedbackClient


class SignInRequired(Exception):
    """No valid session: GETs go to the sign-in page, actions get 401."""


class Forbidden(Exception):
    """The viewer may not see this office."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token (a forged cross-site form, or a stale page)."""


class NotALead(Exception):
    """The page is for office leads and national staff."""


class NoSuchConversation(LookupError):
    """The conversation id is unknown, or belongs to another office (404 either way)."""


class NoSuchOffice(Exception):
    """The URL names no office (shown to national viewers only; others get 403)."""


def _ops(request: Request) -> OpsState:
    state: OpsState = request.app.state.ops
    return state


async def _session(request: Request) -> OpsSession:
    session = await _ops(request).sessions.load(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise SignInRequired
    request.state.ops_session = session
    return session


async def _office_page(
    request: Request, office: str, csrf: str | None = None
) -> tuple[Viewer, list[Office]]:
    """The viewer and the offices a page about `office` covers; 403/404 otherwise.

    `csrf`: the form's token, for actions (POST); checked before anything else is done.
    """
    session = await _session(request)
    if request.method == "POST" and not csrf_ok(session.csrf, csrf):
        raise CsrfRefused
    viewer = session.viewer
    registry = request.app.state.gateway.registry
    if office == ALL_OFFICES:
        if not viewer.national:
            raise Forbidden
        return viewer, list(registry)
    if office not in registry.offices:
        # Same answer as a forbidden office for an office viewer: no probing of codes.
        if not viewer.national:
            raise Forbidden
        raise NoSuchOffice(office)
    if not viewer.may_see(office):
        raise Forbidden
    return viewer, [registry.get(office)]


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def _page_context(request: Request, viewer: Viewer, office: str, tab: str) -> dict[str, Any]:
    registry = request.app.state.gateway.registry
    current = registry.offices.get(office)
    session: OpsSession | None = getattr(request.state, "ops_session", None)
    return {
        "viewer": viewer,
        "csrf": session.csrf if session else "",
        "office_code": office,
        "office": current,
        "offices": list(registry) if viewer.national else [],
        "tab": tab,
        "title": current.short_name if current else "Semua kantor",
    }


def _wib(when: dt.datetime | float | None) -> str:
    if when is None:
        return ""
    if isinstance(when, float | int):
        when = dt.datetime.fromtimestamp(when, dt.UTC)
    return when.astimezone(WIB).strftime("%d %b %H:%M")


async def _faq_misses(request: Request, codes: list[str]) -> tuple[int, list[dict[str, Any]]]:
    redis = request.app.state.gateway.redis
    prefix = request.app.state.settings.topic_prefix
    async with redis.pipeline(transaction=False) as pipe:  # one round trip for 151 offices
        for code in codes:
            pipe.get(f"{prefix}gerbang:faq:miss_count:{code}")
            pipe.lrange(f"{prefix}gerbang:faq:misses:{code}", 0, FAQ_MISSES_SHOWN)
        replies = await pipe.execute()
    total = sum(int(count or 0) for count in replies[0::2])
    misses: list[dict[str, Any]] = []
    for code, latest in zip(codes, replies[1::2], strict=True):
        for raw in latest:
            entry = json.loads(raw)
            misses.append(
                {
                    "office": code,
                    "at": float(entry.get("at", 0)),
                    "text": str(entry.get("text", "")),
                }
            )
    misses.sort(key=lambda m: m["at"], reverse=True)
    for miss in misses:
        miss["when"] = _wib(miss["at"])
    return total, misses[:FAQ_MISSES_SHOWN]


def _per_office_rows(
    offices: list[Office], parts: list[OfficeStats], query: str
) -> list[tuple[Office, OfficeStats]]:
    """The national table: offices matching `query` (code, names, service, address), busiest
    first, so that 151 offices stay readable."""
    words = query.casefold().split()
    rows = [
        (o, p)
        for o, p in zip(offices, parts, strict=True)
        if all(
            word
            in " ".join((o.code, o.name, o.short_name, o.service_name, o.address.id)).casefold()
            for word in words
        )
    ]
    rows.sort(key=lambda row: (-row[1].messages_in, -row[1].replies_out, row[0].short_name))
    return rows


def _letter_buckets(viewer: Viewer, offices: list[Office], office: str) -> list[str]:
    codes = [o.code for o in offices]
    # Letters whose key names no office are national: shown only in the national sum.
    return [*codes, NATIONAL_BUCKET] if office == ALL_OFFICES and viewer.national else codes


def build_router() -> APIRouter:
    """The `/ops` routes."""
    router = APIRouter()

    @router.get("/ops", include_in_schema=False)
    async def home(request: Request, o: str | None = None, tab: str | None = None) -> Response:
        """The viewer's home page, or the office the national switcher picked."""
        session = await _ops(request).sessions.load(request.cookies.get(COOKIE_NAME))
        if session is None:
            return RedirectResponse("/ops/login", status_code=303)
        office = o if o and _OFFICE.match(o) else session.viewer.home
        tabs = ("feedback", "dead-letters", "inbox", "audit", "content")
        suffix = f"/{tab}" if tab in tabs else ""
        return RedirectResponse(f"/ops/o/{office}{suffix}", status_code=303)

    @router.get("/ops/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return _login_page(request, error=None)

    @router.post("/ops/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=512)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        ops = _ops(request)
        if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
            return _login_page(
                request, status=403, error="Formulir kedaluwarsa; silakan coba lagi."
            )
        username = username.strip().lower()
        address = request.client.host if request.client else "?"
        known = ops.staff.get(username)
        office = known.office if known else "*"
        lock = await ops.throttle.locked(username, address)
        if lock is not None:
            metrics.OPS_SIGN_IN_REFUSED.labels("locked").inc()
            await ops.throttle.count(office, "locked")
            await ops.audit.record(
                action_for(None, "sign_in", actor=username, office=office, outcome="locked",
                           detail=f"{lock.scope} locked", address=address)
            )  # fmt: skip
            minutes = max(1, round(lock.seconds / 60))
            return _login_page(
                request,
                status=429,
                error=f"Terlalu banyak percobaan gagal. Coba lagi dalam {minutes} menit. / "
                f"Too many failed attempts; try again in {minutes} min.",
                headers={"Retry-After": str(lock.seconds)},
            )
        account = await asyncio.to_thread(ops.staff.authenticate, username, password)
        if account is None:
            metrics.OPS_SIGN_IN_REFUSED.labels("wrong_password").inc()
            await ops.throttle.failed(username, address, office)
            await ops.audit.record(
                action_for(None, "sign_in", actor=username, office=office, outcome="refused",
                           address=address)
            )  # fmt: skip
            log.warning("ops sign-in refused")
            return _login_page(
                request,
                status=401,
                error="Nama pengguna atau kata sandi salah. / Wrong username or password.",
            )
        await ops.throttle.succeeded(username)
        session_id, session = await ops.sessions.create(account)
        await ops.audit.record(action_for(session.viewer, "sign_in", address=address))
        response = RedirectResponse(f"/ops/o/{session.viewer.home}", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            session_id,
            max_age=ops.sessions.session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=not request.app.state.settings.development,
            path="/ops",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ops/login")
        return response

    @router.post("/ops/logout")
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        ops = _ops(request)
        cookie = request.cookies.get(COOKIE_NAME)
        session = await ops.sessions.load(cookie)
        if session is not None and csrf_ok(session.csrf, csrf):
            await ops.sessions.end(cookie)
            await ops.audit.record(action_for(session.viewer, "sign_out"))
        response = RedirectResponse("/ops/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/ops")
        return response

    @router.get("/ops/o/{office}", response_class=HTMLResponse)
    async def overview(
        request: Request,
        office: str,
        q: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        viewer, offices = await _office_page(request, office)
        ops = _ops(request)
        now = dt.datetime.now(dt.UTC)
        parts = await ops.stats.offices_stats([o.code for o in offices], now)
        stats: OfficeStats = parts[0] if len(parts) == 1 else merge(parts)
        peak = max((h.messages_in for h in stats.hours), default=0)
        misses_total, misses = await _faq_misses(request, [o.code for o in offices])
        letters = await ops.letters.count(_letter_buckets(viewer, offices, office))
        return _render(
            request,
            "ops/overview.html",
            **_page_context(request, viewer, office, "overview"),
            stats=stats,
            peak=max(peak, 1),
            hours=[(h.start.astimezone(WIB).strftime("%H"), h.messages_in) for h in stats.hours],
            intents=stats.intents.most_common(),
            top_intent=max(stats.intents.values(), default=1),
            failures=sorted(stats.failures.items()),
            lookups=sorted(stats.lookups.items()),
            unknown_outcomes=sorted(stats.unknown_outcomes.items()),
            misses_total=misses_total,
            misses=misses,
            dead_letters=letters,
            per_office=_per_office_rows(offices, parts, q) if len(parts) > 1 else [],
            office_filter=q,
            office_count=len(offices),
        )

    @router.get("/ops/o/{office}/feedback", response_class=HTMLResponse)
    async def feedback_inbox(request: Request, office: str, done: str | None = None) -> Response:
        viewer, offices = await _office_page(request, office)
        error = None
        items = []
        summary: dict[str, dict[str, int]] = {}
        try:
            for o in offices:
                items += await _ops(request).feedback.open_items(o.code)
            if viewer.national and office == ALL_OFFICES:
                summary = await _ops(request).feedback.summary([o.code for o in offices])
        except FeedbackUnavailable as exc:
            error = str(exc)
        return _render(
            request,
            "ops/feedback.html",
            **_page_context(request, viewer, office, "feedback"),
            items=items,
            error=error,
            done=done if done and _TICKET.match(done) else None,
            what=request.query_params.get("what"),
            summary=[(o, summary[o.code]) for o in offices if o.code in summary],
            nonce=secrets.token_urlsafe(12),
        )

    @router.post("/ops/o/{office}/feedback/{ticket}/{action}")
    async def feedback_action(
        request: Request,
        office: str,
        ticket: str,
        action: str,
        text: Annotated[str, Form(max_length=4000)] = "",
        note: Annotated[str, Form(max_length=4000)] = "",
        nonce: Annotated[str, Form(max_length=40, pattern=r"^[A-Za-z0-9_-]*$")] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """answer (on WhatsApp), progress (in progress) or handled (closed, with a note)."""
        viewer, offices = await _office_page(request, office, csrf)
        if not _TICKET.match(ticket) or action not in ("answer", "progress", "handled"):
            return _render(request, "ops/error.html", status=404, message="Tiket tidak dikenal.")
        if action == "answer" and (not text.strip() or len(nonce) < 8):
            return _render(request, "ops/error.html", status=422, message="Tulis jawabannya.")
        ops = _ops(request)
        try:
            # The ticket must be one of the offices this page covers (checked by the API's
            # answer, not the URL): the client refuses another office's ticket.
            owner = _owner(offices, ticket)
            if action == "answer":
                await ops.feedback.answer(owner, ticket, text.strip(), viewer.username, nonce)
            elif action == "progress":
                await ops.feedback.mark_in_progress(owner, ticket, viewer.username)
            else:
                await ops.feedback.mark_handled(
                    owner, ticket, note.strip(), f"{viewer.username} ({viewer.name})"
                )
            await ops.audit.record(
                action_for(viewer, f"ticket_{action}", target_office=owner, target=ticket,
                           detail=(text or note).strip()[:200])
            )  # fmt: skip
        except NotThisOffice:
            return _render(request, "ops/error.html", status=404, message="Tiket tidak dikenal.")
        except FeedbackUnavailable as exc:
            return _render(request, "ops/error.html", status=502, message=str(exc))
        what = "" if action == "handled" else f"&what={action}"
        return RedirectResponse(f"/ops/o/{office}/feedback?done={ticket}{what}", status_code=303)

    @router.get("/ops/o/{office}/dead-letters", response_class=HTMLResponse)
    async def dead_letters(request: Request, office: str, done: str | None = None) -> Response:
        viewer, offices = await _office_page(request, office)
        letters = await _ops(request).letters.list(_letter_buckets(viewer, offices, office))
        return _render(
            request,
            "ops/dead_letters.html",
            **_page_context(request, viewer, office, "dead-letters"),
            letters=letters,
            done=done if done and _LETTER_ID.match(done) else None,
        )

    @router.post("/ops/o/{office}/dead-letters/{letter_id}/redrive")
    async def redrive_letter(
        request: Request,
        office: str,
        letter_id: str,
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        viewer, offices = await _office_page(request, office, csrf)
        ops = _ops(request)
        try:
            if not _LETTER_ID.match(letter_id):
                raise LetterNotFound(letter_id)
            stored = await ops.letters.get(letter_id)
            if stored.get("office") not in _letter_buckets(viewer, offices, office):
                raise LetterNotFound(letter_id)
            await redrive(ops.letters, request.app.state.gateway.producer, letter_id)
            await ops.audit.record(
                action_for(viewer, "redrive", target_office=stored.get("office"), target=letter_id)
            )
        except LetterNotFound:
            return _render(
                request, "ops/error.html", status=404, message="Dead letter tidak ditemukan."
            )
        except NotRedrivable as exc:
            return _render(request, "ops/error.html", status=409, message=str(exc))
        except (KafkaError, TimeoutError) as exc:
            return _render(
                request,
                "ops/error.html",
                status=503,
                message=f"Kafka tidak tersedia: {type(exc).__name__}",
            )
        return RedirectResponse(f"/ops/o/{office}/dead-letters?done={letter_id}", status_code=303)

    async def conversation(request: Request, office: str, conv: str) -> tuple[Office, str]:
        """The office and wa_id of a conversation id under this office's URL; 404 else."""
        found = await _ops(request).inbox.transcripts.resolve(conv)
        if found is None or found[0] != office:
            raise NoSuchConversation(conv)
        return request.app.state.gateway.registry.get(office), found[1]

    def one_office(viewer: Viewer, office: str) -> None:
        if office == ALL_OFFICES:
            raise NoSuchConversation(office)  # the inbox is per office

    @router.get("/ops/o/{office}/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, office: str, done: str | None = None) -> Response:
        viewer, _ = await _office_page(request, office)
        one_office(viewer, office)
        rows = await _ops(request).inbox.waiting(office)
        return _render(
            request,
            "ops/inbox.html",
            **_page_context(request, viewer, office, "inbox"),
            rows=[_waiting_row(row, viewer) for row in rows],
            done=done if done in ("closed",) else None,
        )

    @router.get("/ops/o/{office}/inbox.json")
    async def inbox_json(request: Request, office: str) -> Response:
        viewer, _ = await _office_page(request, office)
        one_office(viewer, office)
        rows = await _ops(request).inbox.waiting(office)
        return JSONResponse({"rows": [_waiting_row(row, viewer) for row in rows]})

    @router.get("/ops/o/{office}/inbox/{conv}", response_class=HTMLResponse)
    async def conversation_page(request: Request, office: str, conv: str) -> Response:
        viewer, _ = await _office_page(request, office)
        the_office, wa_id = await conversation(request, office, conv)
        ops = _ops(request)
        state = await ops.inbox.store.load(office, wa_id)
        window = await ops.inbox.window_left(office, wa_id, time.time())
        mine = state.held and state.holder == viewer.username
        return _render(
            request,
            "ops/conversation.html",
            **_page_context(request, viewer, office, "inbox"),
            conv=conv,
            state=state,
            mine=mine,
            # The full number only to the one who holds the conversation.
            phone=display(wa_id) if mine else mask(wa_id),
            entries=await ops.inbox.transcripts.transcript(office, wa_id),
            window_left_s=window,
            window=window_text(window),
            waited=waited(state) if state.held else "",
            quick=quick_replies(request.app.state.gateway.registry, the_office),
            nonce=secrets.token_urlsafe(12),
            may_close=state.held and (mine or viewer.lead or not state.holder),
            notice=request.query_params.get("n"),
        )

    @router.get("/ops/o/{office}/inbox/{conv}/live")
    async def conversation_live(
        request: Request, office: str, conv: str, after: float = 0.0
    ) -> Response:
        await _office_page(request, office)
        _, wa_id = await conversation(request, office, conv)
        ops = _ops(request)
        state = await ops.inbox.store.load(office, wa_id)
        window = await ops.inbox.window_left(office, wa_id, time.time())
        return JSONResponse(
            {
                "entries": await ops.inbox.transcripts.transcript(office, wa_id, after=after),
                "held": state.held,
                "holder": state.holder or "",
                "window_left_s": window,
                "window": window_text(window),
            }
        )

    @router.post("/ops/o/{office}/inbox/{conv}/claim")
    async def claim(
        request: Request, office: str, conv: str, csrf: Annotated[str, Form(max_length=100)] = ""
    ) -> Response:
        viewer, _ = await _office_page(request, office, csrf)
        _, wa_id = await conversation(request, office, conv)
        ops = _ops(request)
        try:
            ok, holder = await ops.inbox.claim(office, wa_id, viewer.username)
        except NotHeld:
            return _back(office, conv, "closed")
        await ops.audit.record(
            action_for(viewer, "claim", target_office=office, target=mask(wa_id),
                       outcome="ok" if ok else "held_by_other", detail="" if ok else holder)
        )  # fmt: skip
        if not ok:
            return _render(
                request,
                "ops/error.html",
                status=409,
                message=f"Percakapan ini sudah ditangani oleh {holder}. / Already claimed by "
                f"{holder}.",
            )
        return _back(office, conv, "claimed")

    @router.post("/ops/o/{office}/inbox/{conv}/reply")
    async def reply(
        request: Request,
        office: str,
        conv: str,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        nonce: Annotated[str, Form(min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        viewer, _ = await _office_page(request, office, csrf)
        the_office, wa_id = await conversation(request, office, conv)
        ops = _ops(request)
        try:
            sent = await ops.inbox.reply(the_office, wa_id, viewer.username, text.strip(), nonce)
        except NotHeld:
            return _back(office, conv, "closed")
        except NotHolder as exc:
            return _render(
                request,
                "ops/error.html",
                status=409,
                message=f"Ambil percakapan dulu sebelum membalas (dipegang: {exc.holder or '-'}).",
            )
        await ops.audit.record(
            action_for(viewer, "reply", target_office=office, target=mask(wa_id),
                       detail=sent.idempotency_key.rsplit(":", 1)[-1])
        )  # fmt: skip
        return _back(office, conv, "sent")

    @router.post("/ops/o/{office}/inbox/{conv}/close")
    async def close(
        request: Request, office: str, conv: str, csrf: Annotated[str, Form(max_length=100)] = ""
    ) -> Response:
        viewer, _ = await _office_page(request, office, csrf)
        the_office, wa_id = await conversation(request, office, conv)
        ops = _ops(request)
        try:
            await ops.inbox.close(the_office, wa_id, viewer.username, lead=viewer.lead)
        except NotHeld:
            return _back(office, conv, "closed")
        except NotHolder as exc:
            return _render(
                request,
                "ops/error.html",
                status=409,
                message=f"Hanya {exc.holder} atau kepala kantor yang dapat menutup percakapan ini.",
            )
        await ops.audit.record(
            action_for(viewer, "close", target_office=office, target=mask(wa_id))
        )
        return RedirectResponse(f"/ops/o/{office}/inbox?done=closed", status_code=303)

    @router.get("/ops/o/{office}/audit", response_class=HTMLResponse)
    async def audit_log(request: Request, office: str) -> Response:
        viewer, offices = await _office_page(request, office)
        if not viewer.lead:
            raise NotALead
        ops = _ops(request)
        codes = [o.code for o in offices] + (["*"] if viewer.national else [])
        entries = await ops.audit.view.recent(codes)
        for entry in entries:
            entry["when"] = _wib(dt.datetime.fromisoformat(entry["at"]))
        return _render(
            request,
            "ops/audit.html",
            **_page_context(request, viewer, office, "audit"),
            entries=entries,
            signins=await ops.throttle.today(codes),
        )

    return router


def _back(office: str, conv: str, notice: str) -> Response:
    return RedirectResponse(f"/ops/o/{office}/inbox/{conv}?n={notice}", status_code=303)


def _waiting_row(row: Waiting, viewer: Viewer) -> dict[str, Any]:
    """A waiting conversation for the list (HTML and JSON): the number masked."""
    last = row.last or {}
    return {
        "conv": row.conv,
        "phone": mask(row.wa_id),
        "reason": row.state.reason or "",
        "since": _wib(row.state.since),
        "waited": waited(row.state),
        "holder": row.state.holder or "",
        "mine": row.state.holder == viewer.username,
        "last": str(last.get("text", ""))[:140],
        "last_who": str(last.get("who", "")),
        "window": window_text(row.window_left_s),
        "window_left_s": row.window_left_s,
    }


def _login_page(
    request: Request, *, error: str | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The sign-in form with a fresh double-submit CSRF token (cookie + hidden field)."""
    token = secrets.token_urlsafe(24)
    response = _render(request, "ops/login.html", status=status, error=error, csrf=token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=not request.app.state.settings.development,
        path="/ops/login",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _owner(offices: list[Office], ticket: str) -> str:
    """The office (of those covered) whose ticket prefix the ticket carries."""
    prefix = ticket.split("-", 1)[0]
    for office in offices:
        if office.ticket_prefix == prefix:
            return str(office.code)
    raise NotThisOffice(ticket)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    if request.method == "GET":
        return RedirectResponse("/ops/login", status_code=303)
    return _render(request, "ops/error.html", status=401, message="Silakan masuk lagi.")


def _error_page(status: int, message: str) -> Any:
    """An exception handler that renders the error page with this status and message."""

    async def handler(request: Request, exc: Exception) -> Response:
        return _render(request, "ops/error.html", status=status, message=message)

    return handler


async def _redis_down(request: Request, exc: Exception) -> Response:
    if not request.url.path.startswith("/ops"):
        return PlainTextResponse("state store unavailable, retry later", status_code=503)
    return _render(
        request,
        "ops/error.html",
        status=503,
        message="Redis tidak tersedia; coba lagi sebentar lagi.",
    )


SECURITY_HEADERS = {
    # No inline script anywhere (the pages' JavaScript is /static/ops.js). Inline style
    # *attributes* stay allowed: the overview's bar heights are computed server-side, and a
    # style attribute cannot run code.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Every `/ops` answer: CSP (no framing), nosniff, referrer policy, never cached.

    A plain ASGI middleware that looks only at `/ops` responses: Starlette's `@app.middleware`
    (BaseHTTPMiddleware) ran a task group and memory streams around *every* request, the
    webhooks included (≈10% of the webhook API's CPU under load).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ops"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_ops(app: FastAPI) -> None:
    """Mount `/ops`, its static files and its error pages on the gateway app."""
    # Imported here: the content editor uses this module's page helpers.
    from gerbang_gateway.ops.broadcasts import build_broadcast_router
    from gerbang_gateway.ops.content import ContentRefused, build_content_router, content_refused
    from gerbang_gateway.ops.learn import build_learn_router

    app.include_router(build_router())
    app.include_router(build_content_router())
    app.include_router(build_broadcast_router())
    app.include_router(build_learn_router())
    app.add_exception_handler(ContentRefused, content_refused)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(
        Forbidden, _error_page(403, "Anda tidak berhak melihat kantor ini. / Not your office.")
    )
    app.add_exception_handler(NoSuchOffice, _error_page(404, "Kantor tidak dikenal."))
    app.add_exception_handler(
        NoSuchConversation, _error_page(404, "Percakapan tidak ditemukan. / No such conversation.")
    )
    app.add_exception_handler(
        CsrfRefused,
        _error_page(
            403, "Formulir kedaluwarsa atau bukan dari dasbor; muat ulang halaman dan coba lagi."
        ),
    )
    app.add_exception_handler(
        NotALead,
        _error_page(403, "Hanya kepala kantor dan staf nasional yang dapat membuka halaman ini."),
    )
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RedisError, _redis_down)


@contextlib.asynccontextmanager
async def ops_running(app: FastAPI) -> AsyncIterator[OpsState]:
    """Build the ops state on the gateway and run the dead-letter indexer beside the API."""
    gateway = app.state.gateway
    settings = gateway.settings
    staff = load_staff(
        settings.staff_file,
        {o.code for o in gateway.registry},
        development=settings.development,
    )
    audit_view = AuditView(gateway.redis, settings.topic_prefix)
    transcripts = TranscriptView(
        gateway.redis,
        settings.topic_prefix,
        settings.inbox_key,
        settings.conversation_retention_days,
    )
    letters = DeadLetterStore(gateway.redis, settings.topic_prefix)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        state = OpsState(
            staff=staff,
            sessions=OpsSessions(
                gateway.redis, settings.topic_prefix, staff, settings.ops_session_hours * 3600
            ),
            throttle=SignInThrottle(gateway.redis, settings.topic_prefix),
            audit=AuditLog(gateway.producer, audit_view),
            inbox=Inbox(
                gateway.registry,
                HandoffStore(gateway.redis, settings.topic_prefix, settings.session_ttl_s),
                Sessions(gateway.redis, settings.topic_prefix, settings.session_ttl_s),
                transcripts,
                gateway.producer,
            ),
            stats=OpsStats(gateway.redis, settings.topic_prefix),
            letters=letters,
            feedback=FeedbackClient(http, settings.feedback_api_url, settings.feedback_key),
        )
        app.state.ops = state
        tasks = []
        # Answers published in /ops, applied to this process's registry (the editor reads
        # them; the inbox's quick replies render them).
        content = await stack.enter_async_context(
            live_content(settings, gateway.registry, "gateway-api", wait_s=10)
        )
        app.state.content = content
        if settings.ops_dlq_indexer:
            tasks.append(
                asyncio.create_task(
                    index_dead_letters(settings, letters, [o.code for o in gateway.registry]),
                    name="ops-dlq-indexer",
                )
            )
            follower = LogFollower(
                settings,
                gateway.redis,
                name="ops-audit",
                topics=[Topic.OPS_AUDIT],
                apply=audit_view.apply_records,
            )
            tasks.append(asyncio.create_task(follower.run(), name="ops-audit-view"))
            transcript_follower = LogFollower(
                settings,
                gateway.redis,
                name="ops-transcripts",
                topics=[Topic.INBOUND, Topic.OUTBOUND, Topic.INBOX_MESSAGES],
                apply=transcripts.apply_records,
                # Every message and reply of every office passes here: one write per fifth
                # of a second instead of per fetch (a few records each under load).
                gather_s=0.2,
            )
            tasks.append(asyncio.create_task(transcript_follower.run(), name="ops-transcripts"))
        try:
            yield state
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
