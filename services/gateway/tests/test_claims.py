"""Send claims as the sender stores them (pure): who has a reply, and until when."""

from __future__ import annotations

import pytest

from gerbang_gateway.redis_state import Claim, parse_claim, sending_value


def test_a_sending_claim_carries_its_deadline() -> None:
    value = sending_value(1_767_000_000.25)
    assert value == "sending:1767000000.250"
    assert parse_claim(value) == Claim(pending=value, deadline=1_767_000_000.25)
    assert not parse_claim(value).free


def test_a_wamid_means_sent() -> None:
    claim = parse_claim("wamid.HBgLNjI4MTIzNDU2Nzg5FQIAERgSQ0")
    assert claim.wamid == "wamid.HBgLNjI4MTIzNDU2Nzg5FQIAERgSQ0"
    assert claim.pending is None and not claim.free


@pytest.mark.parametrize("value", ["sending", "sending:", "sending:soon"])
def test_a_claim_without_a_readable_deadline_is_pending_with_none(value: str) -> None:
    # Written by an older sender (bare "sending"): pending, the reader waits one full bound.
    assert parse_claim(value) == Claim(pending=value, deadline=0.0)


def test_an_empty_claim_is_free() -> None:
    assert Claim().free
