"""aiokafka on uvloop: a closed broker connection must read as a connection error.

Writing to a connection the broker closed raises `OSError` on asyncio's loop, which aiokafka
turns into `KafkaConnectionError` and retries. uvloop raises `RuntimeError("unable to
perform operation on <TCPTransport closed=True ...>; the handler is closed")` instead, which
aiokafka does not catch: the consumer's coordination task dies and the consumer stops for
good (aio-libs/aiokafka#1038, open). `make chaos` met it when Kafka was killed: the sender
stopped consuming and every later reply was left unsent. Gerbang's processes run on uvloop
(`gerbang.service.run_main`, uvicorn), so the connection's `send` maps that one error to
the one aiokafka expects. Remove this when aiokafka handles it.
"""

from __future__ import annotations

from typing import Any

from aiokafka import errors
from aiokafka.conn import AIOKafkaConnection, CloseReason

_CLOSED = "the handler is closed"


def patch_connection_send() -> None:
    """Make `AIOKafkaConnection.send` raise `KafkaConnectionError` for uvloop's closed
    transport (idempotent)."""
    original = AIOKafkaConnection.send
    if getattr(original, "_gerbang_uvloop_patch", False):
        return

    def send(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        try:
            return original(self, request, expect_response)
        except RuntimeError as exc:
            if _CLOSED not in str(exc):
                raise
            self.close(reason=CloseReason.CONNECTION_BROKEN)
            raise errors.KafkaConnectionError(
                f"Connection at {self.host}:{self.port} broken: {exc}"
            ) from exc

    send._gerbang_uvloop_patch = True  # type: ignore[attr-defined]
    AIOKafkaConnection.send = send
