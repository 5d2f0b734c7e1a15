"""uvloop's closed-transport error reads as aiokafka's connection error (aiokafka#1038)."""

from __future__ import annotations

import pytest
from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

import gerbang.bus  # noqa: F401 - importing the bus applies the patch


def connection(writer: object) -> AIOKafkaConnection:
    """A connection as aiokafka holds it once connected, writing through `writer`."""
    conn = AIOKafkaConnection("127.0.0.1", 9)
    conn._writer = writer  # type: ignore[assignment]
    conn._versions = {MetadataRequest.API_KEY: (0, 0)}
    return conn


class _ClosedTransportWriter:
    """What uvloop's stream writer does once the broker closed the connection."""

    def write(self, data: bytes) -> None:
        raise RuntimeError(
            "unable to perform operation on <TCPTransport closed=True reading=False "
            "0x55a86995c5a0>; the handler is closed"
        )


async def test_a_write_on_a_closed_uvloop_transport_is_a_kafka_connection_error() -> None:
    conn = connection(_ClosedTransportWriter())
    with pytest.raises(KafkaConnectionError, match="handler is closed"):
        conn.send(MetadataRequest([]))


async def test_other_runtime_errors_are_not_hidden() -> None:
    class Broken:
        def write(self, data: bytes) -> None:
            raise RuntimeError("something else")

    conn = connection(Broken())
    with pytest.raises(RuntimeError, match="something else"):
        conn.send(MetadataRequest([]))
