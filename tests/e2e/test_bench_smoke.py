"""A short `make bench`: every phase of bench/run.py, small, on real processes, Kafka and
Redis (three offices, 60 messages a phase). It proves the harness runs end to end and counts
right: every message answered once in every phase (the capacity warm-up included), CPU per
process and the JSON line present. Speed is `make bench`'s business, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port_base

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_bench_runs_every_phase_and_answers_each_message_once(tmp_path: Path) -> None:
    command = [
        sys.executable, "bench/run.py", "--messages", "60", "--steady-rate", "10",
        "--steady-seconds", "3", "--warmup", "20", "--offices", "jakpus,bogor,batam",
        "--max-seconds", "60", "--drain-seconds", "60", "--concurrency", "8",
        "--port-base", str(free_port_base(span=16)), "--out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    phases = {"saturation": result, "steady": result["steady"], "capacity": result["capacity"]}
    for name, phase in phases.items():
        assert (phase["lost"], phase["duplicates"]) == (0, 0), name
        assert phase["replied"] >= phase["sent"] > 0, name
        assert {"api", "router", "sender", "faq", "kafka", "redis"} <= set(phase["cpu_s"]), name
    warmup = result["capacity"]["warmup"]
    assert warmup["sent"] == 20 and (warmup["lost"], warmup["duplicates"]) == (0, 0)
    assert result["offices"] == 3 and result["faq_queries_per_s"] > 0
    saved = list(tmp_path.glob("bench-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["at"] == result["at"]
