"""Pure parts of the Graph client: error classification, Retry-After, backoff delays."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from gerbang_devtools.fake_graph import meta_error
from gerbang_gateway.graph import (
    OutsideWindowError,
    PairRateLimited,
    PermanentSendError,
    RetryableSendError,
    SendError,
    backoff_delay,
    classify_error,
    pair_rate_limit_delay,
    parse_retry_after,
)

# (code, HTTP status Meta's table lists, the class the sender must see) — reference §1.6.
CODE_TABLE: list[tuple[int, int, type[SendError]]] = [
    (130429, 400, RetryableSendError),
    (130429, 429, RetryableSendError),
    (4, 400, RetryableSendError),
    (4, 429, RetryableSendError),
    (80007, 400, RetryableSendError),
    (131000, 500, RetryableSendError),
    (131016, 500, RetryableSendError),
    (2, 503, RetryableSendError),
    (131057, 500, RetryableSendError),
    (131056, 400, PairRateLimited),
    (131047, 400, OutsideWindowError),
    (131026, 400, PermanentSendError),
    (131051, 400, PermanentSendError),
    (100, 400, PermanentSendError),
    (131008, 400, PermanentSendError),
    (131009, 400, PermanentSendError),
    (132000, 400, PermanentSendError),
    (132001, 404, PermanentSendError),
    (132015, 400, PermanentSendError),
    (190, 401, PermanentSendError),
    (0, 401, PermanentSendError),
    (10, 403, PermanentSendError),
    (200, 403, PermanentSendError),
    (299, 403, PermanentSendError),
    (368, 403, PermanentSendError),
    (131031, 403, PermanentSendError),
    (131048, 400, PermanentSendError),
    (131021, 400, PermanentSendError),
    # The code decides, not the status: a known permanent code on a 5xx stays permanent …
    (131026, 500, PermanentSendError),
    # … and an unknown code on a 4xx is permanent, on a 5xx/429 transient.
    (999999, 400, PermanentSendError),
    (999999, 502, RetryableSendError),
    (999999, 429, RetryableSendError),
]


@pytest.mark.parametrize(("code", "http_status", "expected"), CODE_TABLE)
def test_classify_branches_on_meta_error_code(
    code: int, http_status: int, expected: type[SendError]
) -> None:
    body = json.dumps(meta_error(code, details="detail text")).encode()
    error = classify_error(http_status, body)
    assert type(error) is expected
    assert error.code == code
    assert error.http_status == http_status
    assert error.details == "detail text"


def test_pair_rate_limit_is_retryable_and_outside_window_is_not() -> None:
    assert issubclass(PairRateLimited, RetryableSendError)
    assert not issubclass(OutsideWindowError, RetryableSendError)
    assert not issubclass(PermanentSendError, RetryableSendError)


@pytest.mark.parametrize(
    ("http_status", "body", "expected"),
    [
        (500, b"<html><body>Internal Server Error</body></html>", RetryableSendError),
        (502, b"", RetryableSendError),
        (503, None, RetryableSendError),
        (429, b"Too Many Requests", RetryableSendError),
        (408, b"", RetryableSendError),
        (400, b"<html>Bad Request</html>", PermanentSendError),
        (404, b"{}", PermanentSendError),
        (500, b'{"error": "not an object"}', RetryableSendError),
        (400, b'{"error": {"message": "no code"}}', PermanentSendError),
    ],
)
def test_without_an_error_code_the_http_status_decides(
    http_status: int, body: bytes | None, expected: type[SendError]
) -> None:
    error = classify_error(http_status, body)
    assert type(error) is expected
    assert error.code is None
    assert error.http_status == http_status


def test_retry_after_is_carried_by_retryable_errors() -> None:
    body = meta_error(130429)
    error = classify_error(400, body, retry_after=7.0)
    assert isinstance(error, RetryableSendError)
    assert error.retry_after == 7.0
    error = classify_error(503, b"<html/>", retry_after=2.5)
    assert isinstance(error, RetryableSendError)
    assert error.retry_after == 2.5


def test_error_text_names_code_status_and_details() -> None:
    error = classify_error(400, meta_error(131026, details="Receiver is incapable"))
    assert "131026" in str(error)
    assert "400" in str(error)
    assert "Receiver is incapable" in str(error)
    assert repr(error).startswith("PermanentSendError(")


NOW = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Fri, 01 May 2026 12:00:30 GMT", 30.0),
        ("Fri, 01 May 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    # rng.random() == 0.5 → exactly half the ceiling: base * 2**attempt, capped.
    assert [backoff_delay(a, base=0.5, cap=30, rng=Fixed(0.5)) for a in range(8)] == [
        0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0,
    ]  # fmt: skip
    assert backoff_delay(3, base=1, cap=60, rng=Fixed(0.0)) == 0.0


def test_backoff_stays_within_bounds_and_varies() -> None:
    rng = random.Random(42)
    for attempt in range(12):
        ceiling = min(20.0, 0.2 * 2**attempt)
        delays = [backoff_delay(attempt, base=0.2, cap=20.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 150  # jittered, not a fixed schedule
    # Huge attempt numbers do not overflow; they sit at the cap.
    assert 0.0 <= backoff_delay(10_000, base=1.0, cap=5.0, rng=rng) <= 5.0


def test_backoff_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1, base=1, cap=1, rng=random.Random(0))
    with pytest.raises(ValueError):
        backoff_delay(0, base=-1, cap=1, rng=random.Random(0))


def test_pair_rate_limit_delay_is_four_to_the_x() -> None:
    assert [pair_rate_limit_delay(x) for x in range(5)] == [1.0, 4.0, 16.0, 64.0, 256.0]
    assert pair_rate_limit_delay(50, cap=600.0) == 600.0
