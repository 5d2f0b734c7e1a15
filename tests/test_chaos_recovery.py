"""bench/chaos.py's recovery time (pure): fault → replies at 80% of the offered rate."""

from __future__ import annotations

from bench.chaos import recovery_seconds

FAULT = 1000.0


def replies(per_second: list[int], start: float = FAULT) -> list[float]:
    """Reply times: per_second[i] replies spread over second i after `start`."""
    return [start + i + (k + 0.5) / n for i, n in enumerate(per_second) for k in range(n)]


def test_no_dip_is_zero() -> None:
    assert recovery_seconds(replies([20] * 10), FAULT, rate=20, load_end=FAULT + 10) == 0.0


def test_recovery_is_the_first_two_seconds_back_at_80_percent_after_the_dip() -> None:
    timeline = [20, 5, 0, 0, 0, 0, 40, 30, 20, 20]
    assert recovery_seconds(replies(timeline), FAULT, rate=20, load_end=FAULT + 10) == 6.0


def test_a_single_good_second_inside_the_dip_is_not_recovery() -> None:
    timeline = [0, 0, 17, 0, 0, 20, 20, 20]
    assert recovery_seconds(replies(timeline), FAULT, rate=20, load_end=FAULT + 8) == 5.0


def test_without_recovery_before_the_end_it_is_the_last_reply() -> None:
    timeline = [0, 0, 0, 0, 3]
    assert recovery_seconds(replies(timeline), FAULT, rate=20, load_end=FAULT + 5) == 4.8
