"""Structured logging: one JSON object per line, bound with service/office/topic context.

Phone numbers never reach the log in clear: `wa_id` fields are masked by the formatter, and
free text is masked with `mask_numbers_in_text`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gerbang.phone import mask, mask_numbers_in_text

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None
)
_PHONE_FIELDS = {"wa_id", "to", "from", "recipient", "phone", "display_number"}
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields (office, message_id, topic …) to every log line inside the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _clean(key: str, value: Any) -> Any:
    if key in _PHONE_FIELDS and isinstance(value, str):
        return mask(value)
    if isinstance(value, str):
        return mask_numbers_in_text(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line; phone numbers masked."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": mask_numbers_in_text(record.getMessage()),
        }
        for key, value in (_context.get() or {}).items():
            line[key] = _clean(key, value)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = _clean(key, value)
        if record.exc_info:
            line["exc"] = mask_numbers_in_text(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class ConsoleFormatter(JsonFormatter):
    """Readable single-line logs for `make run`: `service level msg key=value …`."""

    def format(self, record: logging.LogRecord) -> str:
        data = json.loads(super().format(record))
        head = f"{data.pop('ts')[11:23]} {data.pop('service'):<9} {data.pop('level'):<7}"
        msg = data.pop("msg")
        data.pop("logger", None)
        exc = data.pop("exc", None)
        tail = " ".join(f"{k}={v}" for k, v in data.items())
        text = f"{head} {msg} {tail}".rstrip()
        return f"{text}\n{exc}" if exc else text


def setup_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Configure the root logger once for a service process."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter(service) if fmt == "console" else JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
