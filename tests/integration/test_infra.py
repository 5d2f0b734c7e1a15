"""deploy/local/infra.sh keeps exactly one broker and one Redis, on loopback only.

Runs against the infrastructure that `make test` starts (the module fixture calls
`infra.sh up`, a no-op when it already runs). Cheap on purpose: no restarts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "deploy" / "local" / "infra.sh"
SERVERS = ("kafka", "redis")
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}  # the JVM binds an IPv4-mapped IPv6 socket


def gerbang_home() -> Path:
    """The state folder infra.sh uses, by the same rule as the script."""
    return Path(os.environ.get("GERBANG_HOME") or Path.home() / ".cache" / "gerbang")


def run_infra(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs infra.sh with the caller's environment (ports, GERBANG_HOME)."""
    return subprocess.run(
        [str(INFRA), *args], capture_output=True, text=True, timeout=180, check=False
    )


def read_pids() -> dict[str, int]:
    """The pids infra.sh recorded for its servers."""
    run_dir = gerbang_home() / "run"
    return {name: int((run_dir / f"{name}.pid").read_text().strip()) for name in SERVERS}


@pytest.fixture(scope="module")
def running_pids() -> dict[str, int]:
    """Makes sure both servers run and returns their pids."""
    result = run_infra("up")
    assert result.returncode == 0, result.stdout + result.stderr
    return read_pids()


def test_second_up_keeps_the_same_processes(running_pids: dict[str, int]) -> None:
    result = run_infra("up")

    assert result.returncode == 0, result.stdout + result.stderr
    assert read_pids() == running_pids
    for name, pid in running_pids.items():
        assert f"{name}: already running (pid {pid}," in result.stdout
    assert "starting" not in result.stdout


def test_only_one_broker_runs_for_this_state_folder(running_pids: dict[str, int]) -> None:
    config = str(gerbang_home() / "kafka" / "config" / "server.properties")
    brokers = [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if "kafka.Kafka" in (cmdline := process.info["cmdline"] or []) and config in cmdline
    ]

    assert brokers == [running_pids["kafka"]]


def test_status_exits_0_and_names_both_pids(running_pids: dict[str, int]) -> None:
    result = run_infra("status")

    assert result.returncode == 0, result.stdout + result.stderr
    for name, pid in running_pids.items():
        assert f"{name}: running, pid {pid}," in result.stdout


def test_servers_listen_on_loopback_only(running_pids: dict[str, int]) -> None:
    for name, pid in running_pids.items():
        listening = {
            connection.laddr.ip
            for connection in psutil.Process(pid).net_connections(kind="tcp")
            if connection.status == psutil.CONN_LISTEN
        }
        assert listening, f"{name} (pid {pid}) listens on no TCP port"
        assert listening <= LOOPBACK, f"{name} listens beyond loopback: {listening}"
