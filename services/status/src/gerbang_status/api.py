"""The back-office API: offices create and update their applications (FastAPI, thin).

    POST /v1/applications              one application (JSON)         201 created / 200
    POST /v1/applications/bulk         CSV with header, or JSON lines  200 + per-row report
    GET  /v1/applications/{no}         the current record (own office only: another
                                       office's is 404, the same answer as a missing one)
    GET  /healthz /readyz /metrics

`X-API-Key` decides the office: it is hashed and compared, in constant time, with every
office's `STATUS_API_KEY` hash (`gerbang.offices.office_token_sha256`). An office writes
only its own applications (403 otherwise, and nothing is published). Every change is an
`ApplicationRecord` with the next version, published to `status.updates` keyed by the
application number; the API answers only after the broker acked it (503 if Kafka is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gerbang.bus import Producer, Publish, Unavailable
from gerbang.logs import bind
from gerbang.messages import ApplicationRecord, Topic, utcnow
from gerbang.offices import OfficeRegistry, load_registry, office_token_sha256, token_matches
from gerbang.redisconn import connect_redis
from gerbang_status.backoffice import (
    BulkFormatError,
    Change,
    ChangeError,
    ForbiddenOffice,
    apply_change,
    parse_change,
    read_bulk,
)
from gerbang_status.conversation import WIB
from gerbang_status.settings import StatusSettings
from gerbang_status.store import Keys, StatusView

log = logging.getLogger(__name__)

API_WRITES = Counter(
    "gerbang_status_api_writes_total", "Back-office application writes by result",
    ["office", "result"],
)  # fmt: skip
WRITE_LOCK_S = 10
WRITE_LOCK_WAIT_S = 5.0
CHUNK = 500


class Busy(Exception):
    """Another request is changing the same application right now."""


@dataclass
class StatusApi:
    """What the API needs, built once at start-up."""

    settings: StatusSettings
    registry: OfficeRegistry
    producer: Producer
    redis: Redis
    view: StatusView
    key_hashes: dict[str, str]
    """office code → SHA-256 of its STATUS_API_KEY."""

    def office_for_key(self, api_key: str) -> str | None:
        """The office whose key this is; every hash is compared (no early exit)."""
        found = None
        for code, sha in self.key_hashes.items():
            if token_matches(api_key, sha) and found is None:
                found = code
        return found


def _error(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status)


class ApiError(Exception):
    """An error answer (mapped to JSON by the app's handler)."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra


def get_api(request: Request) -> StatusApi:
    """The API state of this app."""
    api: StatusApi = request.app.state.status_api
    return api


ApiDep = Annotated[StatusApi, Depends(get_api)]


def get_office(api: ApiDep, x_api_key: Annotated[str | None, Header()] = None) -> str:
    """The office of the request's `X-API-Key` (401 if absent or unknown)."""
    if not x_api_key:
        raise ApiError(401, "unauthorized", "send the office's API key in the X-API-Key header")
    office = api.office_for_key(x_api_key)
    if office is None:
        raise ApiError(401, "unauthorized", "unknown API key")
    return office


OfficeDep = Annotated[str, Depends(get_office)]


@dataclass
class RowResult:
    """What happened to one row of a write."""

    row: int
    application_no: str | None
    result: str  # created | updated | unchanged | error
    status: int
    error: str | None = None
    version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (no empty fields)."""
        return {k: v for k, v in vars(self).items() if v is not None}


async def _acquire(redis: Redis, keys: Keys, numbers: Sequence[str], token: str) -> set[str]:
    """Take the write locks of `numbers`, waiting a little for busy ones."""
    wanted = set(numbers)
    held: set[str] = set()
    deadline = time.monotonic() + WRITE_LOCK_WAIT_S
    while True:
        order = sorted(wanted - held)
        async with redis.pipeline(transaction=False) as pipe:
            for number in order:
                pipe.set(keys.write(number), token, nx=True, ex=WRITE_LOCK_S)
            results = await pipe.execute()
        held.update(n for n, ok in zip(order, results, strict=True) if ok)
        if held == wanted or time.monotonic() > deadline:
            return held
        await asyncio.sleep(0.05)


async def _release(redis: Redis, keys: Keys, numbers: set[str], token: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for number in numbers:
            pipe.get(keys.write(number))
        owners = await pipe.execute()
    mine = [keys.write(n) for n, owner in zip(numbers, owners, strict=True) if owner == token]
    if mine:
        await redis.delete(*mine)


async def write_changes(
    api: StatusApi, office: str, rows: Sequence[tuple[int, Change | str, int]]
) -> list[RowResult]:
    """Apply validated rows in chunks: lock, read current, next versions, publish (acked), view.

    `rows` are (row number, change or error text, status of that error). Raises `KafkaError`
    or `Unavailable` if the broker did not ack; rows of earlier chunks stay applied.
    """
    keys = Keys(api.settings.topic_prefix)
    results: list[RowResult] = []
    await api.view.ensure_ready()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        numbers = sorted({c.application_no for _, c, _ in chunk if isinstance(c, Change)})
        token = f"{office}:{time.monotonic_ns()}"
        held = await _acquire(api.redis, keys, numbers, token)
        try:
            current = await api.view.get_many(sorted(held))
            pending: dict[str, ApplicationRecord] = {}
            chunk_results: list[RowResult] = []
            now = utcnow()
            for row, change, status in chunk:
                if isinstance(change, str):
                    chunk_results.append(RowResult(row, None, "error", status, change))
                    continue
                number = change.application_no
                if number not in held:
                    chunk_results.append(RowResult(
                        row, number, "error", 409,
                        "the application is being changed by another request; try again",
                    ))  # fmt: skip
                    continue
                before = pending.get(number) or current.get(number)
                try:
                    record = apply_change(
                        before, change, office=office, updated_by=f"api:{office}", now=now
                    )
                except ForbiddenOffice as exc:
                    chunk_results.append(RowResult(row, number, "error", 403, str(exc)))
                    continue
                except ChangeError as exc:
                    chunk_results.append(RowResult(row, number, "error", 422, str(exc)))
                    continue
                if record is None:
                    chunk_results.append(
                        RowResult(
                            row,
                            number,
                            "unchanged",
                            200,
                            version=before.version if before else None,
                        )
                    )
                    continue
                pending[number] = record
                created = current.get(number) is None and record.version == 1
                chunk_results.append(RowResult(
                    row, number, "created" if created else "updated", 201 if created else 200,
                    version=record.version,
                ))  # fmt: skip
            publishes = [
                Publish(Topic.STATUS_UPDATES, r.application_no, r)
                for r in _in_order(chunk, pending)
            ]
            await api.producer.publish_many(publishes)
            await api.view.put_many(list(pending.values()))
            for result in chunk_results:
                API_WRITES.labels(office, result.result).inc()
            results.extend(chunk_results)
        finally:
            await _release(api.redis, keys, held, token)
    return results


def _in_order(
    chunk: Sequence[tuple[int, Change | str, int]], pending: dict[str, ApplicationRecord]
) -> list[ApplicationRecord]:
    """Only the newest version of each application in the chunk is published (compacted)."""
    seen: list[str] = []
    for _, change, _ in chunk:
        if isinstance(change, Change) and change.application_no in pending:
            if change.application_no not in seen:
                seen.append(change.application_no)
    return [pending[n] for n in seen]


def create_app(settings: StatusSettings, registry: OfficeRegistry | None = None) -> FastAPI:
    """The back-office API app (its lifespan connects Redis and the producer)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        offices = registry or load_registry(settings.offices_dir)
        hashes = {
            office.code: office_token_sha256(
                office.code, "STATUS_API_KEY", development=settings.development
            )
            for office in offices
        }
        redis = connect_redis(settings)
        producer = Producer(settings, "status-api")
        await producer.start()
        app.state.status_api = StatusApi(
            settings, offices, producer, redis, StatusView(redis, settings), hashes
        )
        try:
            yield
        finally:
            await producer.stop()
            await redis.aclose()

    app = FastAPI(
        title="Gerbang status back-office API",
        description=__doc__,
        lifespan=lifespan,
        docs_url=None if not settings.development else "/docs",
    )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail, **exc.extra)

    @app.exception_handler(KafkaError)
    async def _kafka_down(request: Request, exc: KafkaError) -> JSONResponse:
        log.warning("Kafka unavailable", extra={"error": repr(exc)})
        return _error(503, "unavailable", "the change could not be stored durably; try again")

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return _error(503, "unavailable", str(exc))

    @app.exception_handler(RedisError)
    async def _redis_down(request: Request, exc: RedisError) -> JSONResponse:
        log.warning("Redis unavailable", extra={"error": repr(exc)})
        return _error(503, "unavailable", "the status store is unavailable; try again")

    @app.post("/v1/applications")
    async def post_application(request: Request, api: ApiDep, office: OfficeDep) -> JSONResponse:
        """Create or update one application (JSON object)."""
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(422, "validation", "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(422, "validation", "the body must be a JSON object")
        try:
            change = parse_change(body, api.settings.application_no_format, _today())
        except ChangeError as exc:
            raise ApiError(422, "validation", str(exc), field=exc.field) from None
        with bind(office=office, application_no=change.application_no):
            [result] = await write_changes(api, office, [(1, change, 0)])
        if result.result == "error":
            kind = {403: "forbidden", 409: "busy"}.get(result.status, "validation")
            raise ApiError(result.status, kind, result.error or "")
        record = await api.view.get(change.application_no)
        payload = {
            "result": result.result,
            "record": record.model_dump(mode="json") if record else None,
        }
        return JSONResponse(payload, status_code=result.status)

    @app.post("/v1/applications/bulk")
    async def post_bulk(request: Request, api: ApiDep, office: OfficeDep) -> JSONResponse:
        """Create or update many applications: CSV with a header row, or JSON lines."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > api.settings.bulk_max_bytes:
            raise ApiError(
                413, "too_large", f"uploads are limited to {api.settings.bulk_max_bytes} bytes"
            )
        body = await request.body()
        if len(body) > api.settings.bulk_max_bytes:
            raise ApiError(
                413, "too_large", f"uploads are limited to {api.settings.bulk_max_bytes} bytes"
            )
        today = _today()
        fmt = api.settings.application_no_format
        rows: list[tuple[int, Change | str, int]] = []
        typed: dict[int, str | None] = {}  # application_no as typed in rows that failed
        try:
            for number, row in read_bulk(body, request.headers.get("content-type")):
                if len(rows) >= api.settings.bulk_max_rows:
                    raise ApiError(
                        413, "too_large", f"at most {api.settings.bulk_max_rows} rows per upload"
                    )
                if isinstance(row, str):
                    rows.append((number, f"row {number}: {row}", 422))
                    continue
                try:
                    rows.append((number, parse_change(row, fmt, today), 0))
                except ChangeError as exc:
                    rows.append((number, f"row {number}: {exc}", 422))
                    typed[number] = str(row.get("application_no") or "")[:40] or None
        except BulkFormatError as exc:
            raise ApiError(422, "validation", str(exc)) from None
        if not rows:
            raise ApiError(422, "validation", "the upload has no rows")
        results = await write_changes(api, office, rows)
        for result in results:
            if result.error and not result.error.startswith("row "):
                result.error = f"row {result.row}: {result.error}"
            if result.application_no is None:
                result.application_no = typed.get(result.row)
        summary: dict[str, int] = {}
        for result in results:
            summary[result.result] = summary.get(result.result, 0) + 1
        return JSONResponse({"summary": summary, "rows": [r.as_dict() for r in results]})

    @app.get("/v1/applications/{application_no}")
    async def get_application(application_no: str, api: ApiDep, office: OfficeDep) -> JSONResponse:
        """The current record of one of the office's applications."""
        number = api.settings.application_no_format.normalize(application_no)
        if number is None:
            raise ApiError(
                422, "validation", f"field application_no: {application_no!r} is not valid"
            )
        await api.view.ensure_ready()
        record = await api.view.get(number)
        if record is None or record.office != office:
            # One answer for both: application numbers are national, and a different answer
            # for another office's would tell any office key which numbers exist elsewhere.
            raise ApiError(404, "not_found", f"no application {number} at this office")
        return JSONResponse({"record": record.model_dump(mode="json")})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(api: ApiDep) -> JSONResponse:
        """Redis answers (Kafka: the producer started with the app)."""
        try:
            redis_ok = bool(await api.redis.ping())
            view_ready = await api.view.is_ready()
        except RedisError:
            redis_ok, view_ready = False, False
        return JSONResponse(
            {"ready": redis_ok, "redis": redis_ok, "view_ready": view_ready},
            status_code=200 if redis_ok else 503,
        )

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _today() -> dt.date:
    """Today in Indonesia (a date of birth cannot be after it)."""
    today: dt.date = utcnow().astimezone(WIB).date()
    return today
