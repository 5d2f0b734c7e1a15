"""A short `make chaos`: two of its fault scenarios, small, on real processes, Kafka and Redis.

The sender is SIGKILLed mid-load and restarted; Redis is SIGKILLed mid-load and restarted
(through infra.sh's pid file). Each message must be answered exactly once. The full runs,
with recovery times, are `make chaos` (bench/chaos.py).
"""

from __future__ import annotations

import pytest

from bench.chaos import SCENARIOS, parse_args, run_scenario
from tests.e2e.conftest import free_port_base

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", ["sender_kill", "redis_kill"])
def test_fault_mid_load_loses_and_doubles_nothing(name: str) -> None:
    args = parse_args(
        ["--rate", "10", "--seconds", "6", "--fault-at", "2", "--drain-seconds", "60",
         "--port-base", str(free_port_base(span=18))]
    )  # fmt: skip
    result = run_scenario(SCENARIOS[name], args)
    assert result["accepted"] == result["messages"] == 60, result
    assert (result["lost"], result["duplicates"]) == (0, 0), result
    assert result["exactly_once"], result
