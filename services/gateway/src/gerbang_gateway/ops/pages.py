"""The `/ops` pages: sign-in, per-office overview, feedback inbox, dead letters.

Server-rendered with Jinja2, plain CSS, no JavaScript needed. Every page and action takes
the office from the URL and checks it against the signed-in viewer (`_office_page`): an
office's token sees only its office (anything else is 403), the national token sees every
office and the sum of all (`/ops/o/all`).

Routes:
    GET  /ops                                     → the viewer's office page (or sign-in)
    GET  /ops/login, POST /ops/login, POST /ops/logout
    GET  /ops/o/{office}                          overview
    GET  /ops/o/{office}/feedback                 open feedback
    POST /ops/o/{office}/feedback/{ticket}/handled
    GET  /ops/o/{office}/dead-letters
    POST /ops/o/{office}/dead-letters/{letter_id}/redrive
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from redis.exceptions import RedisError

from gerbang.offices import Office
from gerbang.opsstats import OfficeStats, OpsStats, merge
from gerbang.phone import display
from gerbang_gateway.ops.access import ALL_OFFICES, COOKIE_NAME, OpsTokens, Viewer
from gerbang_gateway.ops.deadletters import (
    NATIONAL_BUCKET,
    DeadLetterStore,
    LetterNotFound,
    NotRedrivable,
    index_dead_letters,
    redrive,
)
from gerbang_gateway.ops.feedback import FeedbackClient, FeedbackUnavailable, NotThisOffice

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

    tokens: OpsTokens
    stats: OpsStats
    letters: DeadLetterStore
    feedback: FeedbackClient


class SignInRequired(Exception):
    """No valid session: GETs go to the sign-in page, actions get 401."""


class Forbidden(Exception):
    """The viewer may not see this office."""


class NoSuchOffice(Exception):
    """The URL names no office (shown to national viewers only; others get 403)."""


def _ops(request: Request) -> OpsState:
    state: OpsState = request.app.state.ops
    return state


def _viewer(request: Request) -> Viewer:
    viewer = _ops(request).tokens.verify(request.cookies.get(COOKIE_NAME))
    if viewer is None:
        raise SignInRequired
    return viewer


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def _office_page(request: Request, office: str) -> tuple[Viewer, list[Office]]:
    """The viewer and the offices a page about `office` covers; 403/404 otherwise."""
    viewer = _viewer(request)
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
    return {
        "viewer": viewer,
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
        viewer = _ops(request).tokens.verify(request.cookies.get(COOKIE_NAME))
        if viewer is None:
            return RedirectResponse("/ops/login", status_code=303)
        office = o if o and _OFFICE.match(o) else viewer.home
        suffix = f"/{tab}" if tab in ("feedback", "dead-letters") else ""
        return RedirectResponse(f"/ops/o/{office}{suffix}", status_code=303)

    @router.get("/ops/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return _render(request, "ops/login.html", error=None)

    @router.post("/ops/login")
    async def login(request: Request, token: Annotated[str, Form(max_length=512)]) -> Response:
        ops = _ops(request)
        viewer = ops.tokens.viewer_for_token(token)
        if viewer is None:
            log.warning("ops sign-in refused")
            return _render(
                request, "ops/login.html", status=401, error="Token tidak dikenal. / Unknown token."
            )
        log.info("ops sign-in", extra={"scope": viewer.scope})
        response = RedirectResponse(f"/ops/o/{viewer.home}", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            ops.tokens.issue(viewer),
            max_age=ops.tokens.session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=not request.app.state.settings.development,
            path="/ops",
        )
        return response

    @router.post("/ops/logout")
    async def logout() -> Response:
        response = RedirectResponse("/ops/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/ops")
        return response

    @router.get("/ops/o/{office}", response_class=HTMLResponse)
    async def overview(
        request: Request,
        office: str,
        q: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        viewer, offices = _office_page(request, office)
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
        viewer, offices = _office_page(request, office)
        error = None
        items = []
        try:
            for o in offices:
                items += await _ops(request).feedback.open_items(o.code)
        except FeedbackUnavailable as exc:
            error = str(exc)
        return _render(
            request,
            "ops/feedback.html",
            **_page_context(request, viewer, office, "feedback"),
            items=items,
            error=error,
            done=done if done and _TICKET.match(done) else None,
        )

    @router.post("/ops/o/{office}/feedback/{ticket}/handled")
    async def feedback_handled(
        request: Request,
        office: str,
        ticket: str,
        note: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        viewer, offices = _office_page(request, office)
        if not _TICKET.match(ticket):
            return _render(request, "ops/error.html", status=404, message="Tiket tidak dikenal.")
        handled_by = f"ops:{viewer.scope if not viewer.national else 'national'}"
        try:
            # The ticket must be one of the offices this page covers (checked by the API's
            # answer, not the URL): `mark_handled` refuses another office's ticket.
            owner = _owner(offices, ticket)
            await _ops(request).feedback.mark_handled(owner, ticket, note.strip(), handled_by)
        except NotThisOffice:
            return _render(request, "ops/error.html", status=404, message="Tiket tidak dikenal.")
        except FeedbackUnavailable as exc:
            return _render(request, "ops/error.html", status=502, message=str(exc))
        return RedirectResponse(f"/ops/o/{office}/feedback?done={ticket}", status_code=303)

    @router.get("/ops/o/{office}/dead-letters", response_class=HTMLResponse)
    async def dead_letters(request: Request, office: str, done: str | None = None) -> Response:
        viewer, offices = _office_page(request, office)
        letters = await _ops(request).letters.list(_letter_buckets(viewer, offices, office))
        return _render(
            request,
            "ops/dead_letters.html",
            **_page_context(request, viewer, office, "dead-letters"),
            letters=letters,
            done=done if done and _LETTER_ID.match(done) else None,
        )

    @router.post("/ops/o/{office}/dead-letters/{letter_id}/redrive")
    async def redrive_letter(request: Request, office: str, letter_id: str) -> Response:
        viewer, offices = _office_page(request, office)
        ops = _ops(request)
        try:
            if not _LETTER_ID.match(letter_id):
                raise LetterNotFound(letter_id)
            stored = await ops.letters.get(letter_id)
            if stored.get("office") not in _letter_buckets(viewer, offices, office):
                raise LetterNotFound(letter_id)
            await redrive(ops.letters, request.app.state.gateway.producer, letter_id)
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

    return router


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


async def _forbidden(request: Request, exc: Exception) -> Response:
    return _render(
        request,
        "ops/error.html",
        status=403,
        message="Anda tidak berhak melihat kantor ini. / Not your office.",
    )


async def _redis_down(request: Request, exc: Exception) -> Response:
    if not request.url.path.startswith("/ops"):
        return PlainTextResponse("state store unavailable, retry later", status_code=503)
    return _render(
        request,
        "ops/error.html",
        status=503,
        message="Redis tidak tersedia; coba lagi sebentar lagi.",
    )


async def _unknown_office(request: Request, exc: Exception) -> Response:
    return _render(request, "ops/error.html", status=404, message="Kantor tidak dikenal.")


def install_ops(app: FastAPI) -> None:
    """Mount `/ops`, its static files and its error pages on the gateway app."""
    app.include_router(build_router())
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NoSuchOffice, _unknown_office)
    app.add_exception_handler(RedisError, _redis_down)


@contextlib.asynccontextmanager
async def ops_running(app: FastAPI) -> AsyncIterator[OpsState]:
    """Build the ops state on the gateway and run the dead-letter indexer beside the API."""
    gateway = app.state.gateway
    settings = gateway.settings
    secret = settings.ops_session_secret
    tokens = OpsTokens.load(
        gateway.registry,
        development=settings.development,
        national_sha256=settings.national_ops_token_sha256,
        session_secret=secret.get_secret_value() if secret else None,
        session_ttl_s=settings.ops_session_hours * 3600,
    )
    letters = DeadLetterStore(gateway.redis, settings.topic_prefix)
    async with httpx.AsyncClient(timeout=10) as http:
        state = OpsState(
            tokens=tokens,
            stats=OpsStats(gateway.redis, settings.topic_prefix),
            letters=letters,
            feedback=FeedbackClient(http, settings.feedback_api_url, settings.feedback_key),
        )
        app.state.ops = state
        indexer = None
        if settings.ops_dlq_indexer:
            indexer = asyncio.create_task(
                index_dead_letters(settings, letters, [o.code for o in gateway.registry]),
                name="ops-dlq-indexer",
            )
        try:
            yield state
        finally:
            if indexer is not None:
                indexer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await indexer
