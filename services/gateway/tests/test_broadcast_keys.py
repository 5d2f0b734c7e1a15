"""Broadcast sends' idempotency keys, which Meta echoes as the status webhooks' callback data:
the report finds its broadcast and citizen in them, and nothing else passes for one."""

from __future__ import annotations

import pytest

from gerbang_gateway.broadcast import parse_send_key, send_key


def test_a_send_key_names_its_broadcast_and_citizen() -> None:
    key = send_key("jakpus-20261203132451-fcbcd5", "6281100000001")
    assert key == "broadcast:jakpus-20261203132451-fcbcd5:6281100000001"
    assert parse_send_key(key) == ("jakpus-20261203132451-fcbcd5", "6281100000001")


@pytest.mark.parametrize(
    "key", ["reply:wamid.ABC:0", "broadcast:", "broadcast:only-an-id", "inbox:jakpus:62811:3"]
)
def test_other_keys_are_not_broadcast_sends(key: str) -> None:
    assert parse_send_key(key) is None
