"""The feedback API: offices read their feedback, mark it handled and export it as CSV.

Endpoints (header `X-API-Key`):
    GET  /v1/feedback                   list (filters: office, kind, status, urgent, from, to;
                                        paging: limit, offset), newest first, numbers masked
    GET  /v1/feedback.csv               the same rows as CSV (all matching rows unless
                                        limit/offset are given, then exactly that page)
    GET  /v1/feedback/{ticket}          one ticket; the full number only if the office must
                                        call back (urgent complaint, or contact requested)
    POST /v1/feedback/{ticket}/handled  {"note", "by"}: publishes `FeedbackHandled` on
                                        feedback.recorded (durable, survives a view rebuild);
                                        handled is the closed state
    POST /v1/feedback/{ticket}/progress {"by"}: in progress (`FeedbackProgress`)
    POST /v1/feedback/{ticket}/answer   {"text", "by", "key"}: the answer goes to the citizen
                                        on WhatsApp (whatsapp.outbound, from the office's
                                        number, as the "tanggapan petugas" template past the
                                        24-hour window; one message per `key`), the ticket
                                        becomes answered
    GET  /v1/feedback/summary           per office: tickets not closed, and overdue ones
                                        (SLA per kind, `sla_working_days`)
    GET  /healthz /readyz /metrics

An office key (`GERBANG_<CODE>_FEEDBACK_API_KEY[_SHA256]`, development:
`dev-<code>-feedback-api-key`) sees only its office: listing another office is 403, and
another office's ticket is 404, the same answer as a ticket that does not exist. The national
key (`national_api_key_sha256`) sees every office. Reads come from the Redis view,
which holds each ticket once even if the log holds a duplicate.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gerbang.handoff import staff_template
from gerbang.messages import (
    FeedbackHandled,
    FeedbackKind,
    FeedbackProgress,
    Intent,
    OutboundReply,
    TextContent,
    TicketStage,
    Topic,
    utcnow,
)
from gerbang.offices import OfficeRegistry, hash_token, office_token_sha256
from gerbang_feedback.inbox import FeedbackQuery, Status, public_entry, to_csv
from gerbang_feedback.metrics import FEEDBACK_API_REQUESTS, FEEDBACK_HANDLED
from gerbang_feedback.replies import ticket_answer_header
from gerbang_feedback.settings import FeedbackSettings
from gerbang_feedback.sla import overdue
from gerbang_feedback.tickets import InvalidTicket, parse_ticket
from gerbang_feedback.view import FeedbackView

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What the API needs of the bus: durable publish (gerbang.bus.Producer)."""

    async def publish(self, topic: str, key: str | None, value: BaseModel) -> None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an office (sees only itself) or the national key (office=None)."""

    office: str | None

    @property
    def name(self) -> str:
        """For logs and the handling record."""
        return f"office:{self.office}" if self.office else "national"

    def offices(self, requested: str | None, registry: OfficeRegistry) -> list[str]:
        """The offices this caller may read for a request naming `requested` (or none)."""
        if self.office is not None:
            if requested is not None and requested != self.office:
                raise HTTPException(403, "this key may only read its own office's feedback")
            return [self.office]
        if requested is not None:
            if requested not in registry.offices:
                raise HTTPException(404, f"no office {requested!r}")
            return [requested]
        return [office.code for office in registry]

    def may_read(self, office: str) -> bool:
        """True if this caller may see a ticket of `office`."""
        return self.office is None or self.office == office


class KeyRing:
    """SHA-256 of every API key and whom it belongs to (keys themselves are never kept)."""

    def __init__(self, settings: FeedbackSettings, registry: OfficeRegistry) -> None:
        self._keys: list[tuple[str, str | None]] = [
            (
                office_token_sha256(
                    office.code, "FEEDBACK_API_KEY", development=settings.development
                ),
                office.code,
            )
            for office in registry
        ]
        self._keys.append((settings.national_api_key_sha256, None))

    def caller(self, api_key: str | None) -> Caller | None:
        """The caller of a presented key, or None."""
        if not api_key:
            return None
        presented = hash_token(api_key)
        found: Caller | None = None
        for expected, office in self._keys:
            # Compare against every key (no early exit) so timing says nothing.
            if hmac.compare_digest(presented, expected) and found is None:
                found = Caller(office)
        return found


class ProgressBody(BaseModel):
    """Taking a ticket up."""

    by: str = Field(min_length=1, max_length=200, description="Who (staff account)")


class AnswerBody(BaseModel):
    """Answering the citizen of a ticket."""

    text: str = Field(min_length=1, max_length=4000, description="The answer, as sent")
    by: str = Field(min_length=1, max_length=200, description="Who (staff account)")
    key: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,40}$",
        description="One per answer form: the same key twice sends one message",
    )


class HandledBody(BaseModel):
    """Marking a ticket handled."""

    note: str = Field(default="", max_length=4000, description="What the office did")
    by: str = Field(min_length=1, max_length=200, description="Who handled it (name or id)")


def _authorize(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> Caller:
    """The caller of the request's `X-API-Key`, or 401."""
    keys: KeyRing = request.app.state.keys
    caller = keys.caller(x_api_key)
    if caller is None:
        FEEDBACK_API_REQUESTS.labels("auth", "unauthorized").inc()
        raise HTTPException(401, "missing or unknown X-API-Key")
    return caller


def _feedback_query(
    office: str | None = None,
    kind: FeedbackKind | None = None,
    status: Status | None = None,
    urgent: bool | None = None,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> tuple[FeedbackQuery, bool]:
    """The filters and page of a list/CSV request, and whether a limit was given."""
    if date_from and date_to and date_to < date_from:
        raise HTTPException(422, "'to' is before 'from'")
    query = FeedbackQuery(
        office=office, kind=kind, status=status, urgent=urgent, date_from=date_from,
        date_to=date_to, limit=limit or 50, offset=offset,
    )  # fmt: skip
    return query, limit is not None


CallerDep = Annotated[Caller, Depends(_authorize)]
QueryDep = Annotated[tuple[FeedbackQuery, bool], Depends(_feedback_query)]


def create_app(
    settings: FeedbackSettings,
    registry: OfficeRegistry,
    view: FeedbackView,
    publisher: Publisher,
    *,
    lifespan: Any = None,
) -> FastAPI:
    """The feedback API over a view and a publisher the caller starts and stops."""
    app = FastAPI(
        title="Gerbang feedback API",
        version="1",
        lifespan=lifespan,
        docs_url="/docs" if settings.development else None,
        redoc_url=None,
    )
    app.state.keys = KeyRing(settings, registry)

    sla = settings.sla_working_days

    async def run_query(
        query: FeedbackQuery, offices: Sequence[str]
    ) -> tuple[int, list[dict[str, Any]]]:
        total, entries = await view.query(query, offices)
        now = utcnow()
        return total, [public_entry(entry, sla=sla, now=now) for entry in entries]

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(KafkaError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return JSONResponse({"detail": "temporarily unavailable, try again"}, status_code=503)

    @app.get("/v1/feedback")
    async def list_feedback(caller: CallerDep, params: QueryDep) -> dict[str, Any]:
        """Tickets matching the filters, newest first (numbers masked)."""
        query, explicit = params
        limit = query.limit if explicit else 50
        if limit > settings.list_max_limit:
            raise HTTPException(422, f"limit is at most {settings.list_max_limit}")
        query = query.model_copy(update={"limit": limit})
        total, items = await run_query(query, caller.offices(query.office, registry))
        FEEDBACK_API_REQUESTS.labels("list", "ok").inc()
        return {"total": total, "limit": limit, "offset": query.offset, "items": items}

    @app.get("/v1/feedback.csv")
    async def export_csv(caller: CallerDep, params: QueryDep) -> Response:
        """The rows the list returns for the same filters, as CSV (numbers masked)."""
        query, explicit = params
        limit = query.limit if explicit else settings.csv_max_rows
        query = query.model_copy(update={"limit": min(limit, settings.csv_max_rows)})
        total, items = await run_query(query, caller.offices(query.office, registry))
        FEEDBACK_API_REQUESTS.labels("csv", "ok").inc()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return PlainTextResponse(
            to_csv(items),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="feedback-{stamp}.csv"',
                "X-Total-Count": str(total),
            },
        )

    async def load(caller: Caller, ticket: str) -> Any:
        try:
            ticket = str(parse_ticket(ticket))
        except InvalidTicket:
            raise HTTPException(404, "no such ticket") from None
        entry = await view.get(ticket)
        if entry is None or not caller.may_read(entry.office):
            # One answer (and one metric label: /metrics is public) for a missing ticket and
            # another office's: ticket numbers are sequential, so a 403 would tell an office
            # key how much feedback every other office receives.
            FEEDBACK_API_REQUESTS.labels("ticket", "not_found").inc()
            raise HTTPException(404, "no such ticket")
        return entry

    @app.get("/v1/feedback/summary")
    async def summary(caller: CallerDep, office: str | None = None) -> dict[str, Any]:
        """Per office: tickets not closed yet, and how many of them are overdue."""
        now = utcnow()
        offices: dict[str, dict[str, int]] = {}
        for code in caller.offices(office, registry):
            counts = {"open": 0, "overdue": 0}
            for status in (Status.OPEN, Status.IN_PROGRESS, Status.ANSWERED):
                query = FeedbackQuery(status=status, limit=settings.csv_max_rows)
                _, entries = await view.query(query, [code])
                for entry in entries:
                    counts["open"] += 1
                    days = sla.get(entry.kind)
                    if days and overdue(entry.status.value, entry.received_at, days, now):
                        counts["overdue"] += 1
            offices[code] = counts
        FEEDBACK_API_REQUESTS.labels("summary", "ok").inc()
        return {"offices": offices}

    @app.get("/v1/feedback/{ticket}")
    async def get_feedback(caller: CallerDep, ticket: str) -> dict[str, Any]:
        """One ticket; the full number only when the office must call back."""
        entry = await load(caller, ticket)
        FEEDBACK_API_REQUESTS.labels("ticket", "ok").inc()
        return public_entry(entry, single=True, sla=sla, now=utcnow())

    async def progress(entry: Any, event: FeedbackProgress) -> dict[str, Any]:
        # The log first (acks=all): the view can always be rebuilt from it.
        await publisher.publish(Topic.FEEDBACK_RECORDED, event.key, event)
        await view.apply_progress(event)
        updated = await view.get(entry.ticket)
        return public_entry(updated or entry, single=True, sla=sla, now=utcnow())

    @app.post("/v1/feedback/{ticket}/progress")
    async def mark_in_progress(
        caller: CallerDep, ticket: str, body: ProgressBody
    ) -> dict[str, Any]:
        """The office took the ticket up."""
        entry = await load(caller, ticket)
        event = FeedbackProgress(
            ticket=entry.ticket, office=entry.office, wa_id=entry.wa_id,
            stage=TicketStage.IN_PROGRESS, by=body.by,
        )  # fmt: skip
        FEEDBACK_API_REQUESTS.labels("progress", "ok").inc()
        return await progress(entry, event)

    @app.post("/v1/feedback/{ticket}/answer")
    async def answer(caller: CallerDep, ticket: str, body: AnswerBody) -> dict[str, Any]:
        """Answer the citizen on WhatsApp; the ticket becomes answered."""
        entry = await load(caller, ticket)
        office = registry.get(entry.office)
        text = body.text.strip()
        reply = OutboundReply(
            office=office.code,
            phone_number_id=office.whatsapp.phone_number_id,
            wa_id=entry.wa_id,
            idempotency_key=f"ticket:{entry.ticket}:{body.key}",
            intent=Intent(f"feedback:{entry.kind.value}"),
            content=TextContent(
                body=f"{ticket_answer_header(entry.ticket, office, registry)}\n\n{text}"
            ),
            template_fallback=staff_template(office, f"{entry.ticket}: {text}"),
            sent_by=body.by,
        )
        await publisher.publish(Topic.OUTBOUND, reply.key, reply)
        event = FeedbackProgress(
            ticket=entry.ticket, office=entry.office, wa_id=entry.wa_id,
            stage=TicketStage.ANSWERED, by=body.by, answer=text, reply_key=reply.idempotency_key,
        )  # fmt: skip
        FEEDBACK_API_REQUESTS.labels("answer", "ok").inc()
        log.info("feedback answered", extra={"ticket": entry.ticket, "caller": caller.name})
        return await progress(entry, event)

    @app.post("/v1/feedback/{ticket}/handled")
    async def mark_handled(caller: CallerDep, ticket: str, body: HandledBody) -> dict[str, Any]:
        """Record who handled the ticket and when (durably, on feedback.recorded)."""
        entry = await load(caller, ticket)
        event = FeedbackHandled(
            ticket=entry.ticket,
            office=entry.office,
            wa_id=entry.wa_id,
            handled_by=body.by,
            note=body.note,
        )
        # The log first (acks=all): the view can always be rebuilt from it.
        await publisher.publish(Topic.FEEDBACK_RECORDED, event.key, event)
        await view.apply_handled(event)
        FEEDBACK_HANDLED.labels(entry.office, entry.kind.value).inc()
        FEEDBACK_API_REQUESTS.labels("handled", "ok").inc()
        log.info(
            "feedback handled",
            extra={"ticket": entry.ticket, "office": entry.office, "caller": caller.name},
        )
        updated = await view.get(entry.ticket)
        return public_entry(updated or entry, single=True, sla=sla, now=utcnow())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Redis answers and the view is complete."""
        try:
            ready = bool(await view.redis.ping()) and await view.is_ready()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            ready = False
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
