"""`make chaos`: exactly once under faults, one fault per scenario, each on a fresh stack.

Every scenario starts every service on its own topic prefix (and Redis database), runs the
load generator open loop (signed webhooks from many citizens to every office, each message
unique, a few delivered twice as Meta does, any non-200 redelivered as Meta does), injects
one fault mid-load, then counts the replies per message at the fake Graph API (answering in
≈200 ms, posting status webhooks back like Meta). One JSON line per scenario:

    {"scenario", "messages", "exactly_once", "lost", "duplicates", "recovery_s",
     "webhook_non_200", "dead_letters", "unknown_outcomes", ...}

- lost: messages acknowledged 200 that got no reply; duplicates: replies sent more than once
  (same idempotency key, i.e. the same `biz_opaque_callback_data`);
- recovery_s: from the fault until replies flow again at 80% of the offered rate (the first
  two-second window at that rate after the dip; 0 when the rate never dipped);
- webhook_non_200: answers other than 200 the load generator got (Meta would redeliver);
- dead_letters: records on the prefix's `<topic>.dlq` topics.

Exits non-zero on any loss or duplicate. Loopback only; kills only processes this run
started (by pid: the stack's processes, and Kafka/Redis through infra.sh's pid files).
`--scenario NAME` (repeatable) runs only those; `--list` names them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.local.stack import Stack  # noqa: E402
from gerbang.settings import ServiceSettings  # noqa: E402
from gerbang.topics import delete_topics, ensure_topics, topic_specs  # noqa: E402

INFRA = REPO / "deploy" / "local" / "infra.sh"
BASH = shutil.which("bash") or "/bin/bash"
REDIS_DB = 4
GRAPH_LATENCY_MS = 200.0


@dataclass
class Run:
    """One scenario's stack and what the fault needs to know."""

    stack: Stack
    args: argparse.Namespace
    infra_env: dict[str, str]
    notes: dict[str, Any] = field(default_factory=dict)


Fault = Callable[[Run], None]


# --- faults -------------------------------------------------------------------------------


def kill_and_restart(name: str) -> Fault:
    """SIGKILL one of the stack's processes (by the pid we started), then start it again."""

    def fault(run: Run) -> None:
        stack = run.stack
        stack.kill_one(name)
        spec = next(s for s in stack.specs() if s.name == name)
        stack.start_one(spec)
        stack.wait_ready(spec, time.monotonic() + 90)

    return fault


def kill_replicas(run: Run) -> None:
    """Two routers and two senders: SIGKILL one of each; the survivors take over."""
    run.stack.kill_one("router-2")
    run.stack.kill_one("sender-2")


def _infra_pid(env: dict[str, str], name: str, marker: str) -> int:
    """The pid infra.sh recorded for `name`, checked to be that process (never another)."""
    home = Path(env.get("GERBANG_HOME", Path.home() / ".cache" / "gerbang"))
    pid = int((home / "run" / f"{name}.pid").read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if marker not in cmdline:
        raise RuntimeError(f"pid {pid} from {name}.pid is not our {name}: {cmdline[:120]}")
    return pid


def _sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
        if "State:\tZ" in status:
            break
        time.sleep(0.05)


def _infra(env: dict[str, str], command: str, *, check: bool = True, attempts: int = 1) -> str:
    """`infra.sh <command>` with `env` (its ports and GERBANG_HOME); returns its output.
    With `check`, a failure raises with infra.sh's own words (after `attempts` tries, a
    second apart)."""
    for attempt in range(1, attempts + 1):
        done = subprocess.run(  # noqa: S603 - our own script
            [BASH, str(INFRA), command], env=env, check=False, timeout=300, capture_output=True
        )
        if done.returncode == 0 or not check:
            return done.stdout.decode(errors="replace")
        if attempt < attempts:
            time.sleep(1)
    said = (done.stderr or done.stdout).decode(errors="replace").strip()[-800:]
    raise RuntimeError(f"infra.sh {command} exited {done.returncode} ({attempts}x): {said}")


RESTART_ATTEMPTS = 10
"""A server just SIGKILLed may hold its port a moment longer on a busy machine (or a child
it forked, such as Redis's background save, may): its restart is tried for ≈10 s."""


def kill_infra(name: str, marker: str, *, pid_name: str | None = None) -> Fault:
    """SIGKILL Kafka or Redis (the pid infra.sh started), then `infra.sh <name>-up`."""

    def fault(run: Run) -> None:
        _sigkill(_infra_pid(run.infra_env, pid_name or name, marker))
        _infra(run.infra_env, f"{name}-up", attempts=RESTART_ATTEMPTS)

    return fault


def graph_errors(run: Run) -> None:
    """The Graph API answers 5xx for 5 s, then 429 (throughput) for 5 s."""
    url = f"{run.stack.graph_url}/__fail"
    httpx.post(url, json={"code": 131000, "seconds": 5}, timeout=10).raise_for_status()
    time.sleep(5)
    rule = {"code": 130429, "http_status": 429, "seconds": 5}
    httpx.post(url, json=rule, timeout=10).raise_for_status()


def graph_hold(run: Run) -> None:
    """For 5 s the Graph API accepts every send but answers only after the sender's timeout."""
    hold = run.args.graph_timeout_s + 2
    rule = {"mode": "hold", "hold_s": hold, "seconds": 5}
    httpx.post(f"{run.stack.graph_url}/__fail", json=rule, timeout=10).raise_for_status()


@dataclass(frozen=True)
class Scenario:
    """A fault, and the stack it runs on."""

    name: str
    fault: Fault
    description: str
    replicas: int = 1
    cluster: bool = False
    seconds: float | None = None  # load duration when the default is too short


def no_fault(run: Run) -> None:
    """The control: the same load, nothing breaks."""


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("baseline", no_fault, "no fault (the control)"),
        Scenario("router_kill", kill_and_restart("router"), "kill -9 router, restart"),
        Scenario("faq_kill", kill_and_restart("faq"), "kill -9 FAQ worker, restart"),
        Scenario("api_kill", kill_and_restart("api"), "kill -9 webhook API, restart"),
        Scenario("sender_kill", kill_and_restart("sender"), "kill -9 sender, restart"),
        Scenario(
            "kafka_kill", kill_infra("kafka", "kafka.Kafka"), "Kafka kill -9, restart", seconds=20
        ),
        Scenario("redis_kill", kill_infra("redis", "redis-server"), "Redis SIGKILL, restart"),
        Scenario("graph_errors", graph_errors, "Graph API 5xx then 429 for 10 s"),
        Scenario("graph_hold", graph_hold, "Graph API holding answers past the timeout for 5 s"),
        Scenario("replica_kill", kill_replicas, "two routers + two senders, kill one of each", 2),
        Scenario(
            "broker_kill_3",
            kill_infra("kafka", "kafka.Kafka", pid_name="kafka-2"),
            "three brokers, kill -9 one, restart",
            cluster=True,
            seconds=20,
        ),
    ]
}


# --- measuring ----------------------------------------------------------------------------


def recovery_seconds(
    reply_times: list[float], fault_at: float, rate: float, load_end: float
) -> float:
    """Seconds from the fault until replies flow at 80% of the offered rate again (pure).

    Replies are counted in one-second buckets from the fault on. If no bucket before the end
    of the load fell below 80% of `rate`, the fault did not slow anything: 0. Otherwise the
    recovery is the first second after the dip that, alone and with the next one, carries at
    least 80% of `rate`; without one, the time the last reply came (the backlog's end).
    """
    if not reply_times:
        return float("inf")
    end = max(reply_times)
    buckets = Counter(int(t - fault_at) for t in reply_times if t >= fault_at)
    horizon = int(max(end, load_end) - fault_at) + 1
    threshold = 0.8 * rate
    dip = next(
        (i for i in range(0, max(0, int(load_end - fault_at))) if buckets[i] < threshold), None
    )
    if dip is None:
        return 0.0
    for i in range(dip + 1, horizon):
        if buckets[i] >= threshold and (buckets[i] + buckets[i + 1]) / 2 >= threshold:
            return float(i)
    return round(end - fault_at, 1)


def pending_claims(redis: Redis, prefix: str) -> int:
    """Replies whose send is in flight or of unknown outcome (they could still be sent)."""
    count = 0
    for key in redis.scan_iter(f"{prefix}gerbang:sent:*", count=1000):
        value = redis.get(key)
        if isinstance(value, str) and value.startswith("sending"):
            count += 1
    return count


async def dead_letter_count(settings: ServiceSettings) -> int:
    """Records on the prefix's dead-letter topics."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(spec.name, p)
            for spec in topic_specs(settings)
            if spec.name.endswith(".dlq")
            for p in range(spec.partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


def fetch_sent(graph_url: str) -> list[dict[str, Any]]:
    with httpx.Client(timeout=30) as http:
        return list(http.get(f"{graph_url}/__sent").json())


# --- one scenario -------------------------------------------------------------------------


@contextlib.contextmanager
def cluster_running(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """The three-broker cluster (infra.sh, KAFKA_BROKERS=3) on its own GERBANG_HOME and
    ports; stopped afterwards if this run started it."""
    home = Path(os.environ.get("GERBANG_HOME", Path.home() / ".cache" / "gerbang")) / "kraft3"
    env = {
        **os.environ,
        "KAFKA_BROKERS": "3",
        "GERBANG_HOME": str(home),
        "GERBANG_KAFKA_PORT": str(args.cluster_port),
        "GERBANG_KAFKA_CONTROLLER_PORT": str(args.cluster_port + 1),
        # Its own Redis would be idle: the scenario keeps the usual one.
        "GERBANG_REDIS_PORT": os.environ.get("GERBANG_REDIS_PORT", "6379"),
    }
    started = "kafka-3: running" not in _infra(env, "status", check=False)
    if started:
        _infra(env, "kafka-up")
    try:
        yield env
    finally:
        if started:
            _infra(env, "kafka-down")


def run_scenario(
    scenario: Scenario, args: argparse.Namespace, infra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one scenario on a fresh stack; returns its JSON line as a dict."""
    infra_env = infra_env or dict(os.environ)
    prefix = f"chaos{uuid.uuid4().hex[:8]}."
    bootstrap = os.environ.get("GERBANG_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    # The sender's production retry settings (backoff up to 30 s, 10 attempts): a shorter
    # cap gives a reply up inside a 10-s Graph outage, which Meta's real outages outlast.
    extra_env = {"GERBANG_GRAPH_TIMEOUT_S": str(args.graph_timeout_s)}
    if scenario.cluster:
        port = args.cluster_port
        bootstrap = ",".join(f"127.0.0.1:{port + 2 * i}" for i in range(3))
        extra_env |= {
            "GERBANG_TOPIC_REPLICATION_FACTOR": "3",
            "GERBANG_TOPIC_MIN_INSYNC_REPLICAS": "2",
        }
    settings = ServiceSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        **(
            {"topic_replication_factor": 3, "topic_min_insync_replicas": 2}
            if scenario.cluster
            else {}
        ),
    )
    asyncio.run(ensure_topics(settings))
    redis_port = int(infra_env.get("GERBANG_REDIS_PORT", "6379"))
    stack = Stack(
        port_base=args.port_base,
        topic_prefix=prefix,
        redis_db=REDIS_DB,
        kafka_bootstrap=bootstrap,
        redis_port=redis_port,
        log_format="json",
        log_level=args.log_level,
        log_dir=REPO / "bench" / "logs" / f"chaos-{scenario.name}-{prefix.rstrip('.')}",
        only={"fake-graph", "api", "router", "sender", "faq"},
        replicas=scenario.replicas,
        graph_latency_ms=GRAPH_LATENCY_MS,
        extra_env=extra_env,
    )
    seconds = scenario.seconds or args.seconds
    messages = int(args.rate * seconds)
    redis = Redis(port=redis_port, db=REDIS_DB, decode_responses=True)
    try:
        redis.flushdb()
        with stack.running(timeout=120):
            _warm_up(stack)
            run = Run(stack, args, infra_env)
            load = subprocess.Popen(  # noqa: S603 - our own load generator
                [
                    sys.executable, str(REPO / "bench" / "loadgen.py"),
                    "--url", f"{stack.api_url}/webhook/whatsapp",
                    "--offices", str(REPO / "offices"),
                    "--messages", str(messages), "--rate", str(args.rate), "--open-loop",
                    "--concurrency", "256", "--max-seconds", str(seconds + 5),
                    "--retry-seconds", "180", "--redeliver", str(args.redeliver),
                    "--seed", str(abs(hash(prefix)) % 90 + 10), "--announce",
                ],
                stdout=subprocess.PIPE, text=True, cwd=REPO,
            )  # fmt: skip
            assert load.stdout is not None
            load_started = float(json.loads(load.stdout.readline())["started_at"])
            time.sleep(max(0.0, load_started + args.fault_at - time.time()))
            fault_at = time.time()
            scenario.fault(run)
            fault_done = time.time()
            out, _ = load.communicate(timeout=seconds + 400)
            generated = json.loads(out.strip().splitlines()[-1])
            load_end = load_started + seconds
            accepted = {r["wa_id"] for r in generated["results"] if r["status"] == 200}
            sent = _drain(stack, redis, prefix, accepted, args)
            letters = asyncio.run(dead_letter_count(settings))
            unknown = _unknown_outcomes(redis, prefix)
    finally:
        redis.close()
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics(settings))
    keys: Counter[str] = Counter()
    replied: dict[str, float] = {}
    for record in sent:
        wa_id = str(record["to"]).lstrip("+")
        keys[str(record["payload"].get("biz_opaque_callback_data"))] += 1
        at = float(record["received_at_unix"])
        replied[wa_id] = min(at, replied.get(wa_id, at))
    mine = [float(r["received_at_unix"]) for r in sent]
    sent_at = {r["wa_id"]: r["sent_at"] for r in generated["results"]}
    latencies = sorted(replied[w] - sent_at[w] for w in replied.keys() & sent_at.keys())
    lost = len(accepted - replied.keys())
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    return {
        "scenario": scenario.name,
        "fault": scenario.description,
        "messages": len(generated["results"]),
        "accepted": len(accepted),
        "exactly_once": lost == 0 and duplicates == 0 and len(accepted) == messages,
        "lost": lost,
        "duplicates": duplicates,
        "recovery_s": recovery_seconds(mine, fault_at, args.rate, load_end),
        # Replies per second from 5 s before the fault on: the shape of the dip.
        "replies_per_s": [
            sum(1 for t in mine if fault_at + i <= t < fault_at + i + 1) for i in range(-5, 30)
        ],
        "fault_s": round(fault_done - fault_at, 1),
        "e2e_p50_s": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "e2e_max_s": round(latencies[-1], 2) if latencies else None,
        "webhook_non_200": generated["non_200"],
        "redelivered": generated["redelivered"],
        "dead_letters": letters,
        "unknown_outcomes": unknown,
        "rate": args.rate,
    }


def _warm_up(stack: Stack, timeout: float = 90.0) -> None:
    """One message per office answered before the load starts: every group has settled
    (replicas join one after the other) and the fault meets a pipeline in full flow."""
    from gerbang.offices import DEV_SECRET, load_registry
    from gerbang_devtools.webhooks import encode_signed, message_webhook, text_message

    waiting = set()
    for n, office in enumerate(load_registry(REPO / "offices")):
        wa_id = f"62898{n:08d}"
        body = message_webhook(office, wa_id, text_message("jam buka kantor?"))
        raw, headers = encode_signed(body, DEV_SECRET)
        url = f"{stack.api_url}/webhook/whatsapp"
        httpx.post(url, content=raw, headers=headers, timeout=30).raise_for_status()
        waiting.add(wa_id)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting -= {str(s["to"]).lstrip("+") for s in fetch_sent(stack.graph_url)}
        time.sleep(0.5)
    if waiting:
        raise TimeoutError(f"warm-up: no reply in {timeout:.0f} s; see {stack.log_dir}")
    time.sleep(2.0)


def _drain(
    stack: Stack, redis: Redis, prefix: str, accepted: set[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Wait until every accepted message has a reply and no send is left in flight or of
    unknown outcome (none could still be sent twice), or the drain time runs out."""
    deadline = time.monotonic() + args.drain_seconds
    sent: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        sent = fetch_sent(stack.graph_url)
        answered = {str(s["to"]).lstrip("+") for s in sent}
        if accepted <= answered and pending_claims(redis, prefix) == 0:
            time.sleep(args.settle_seconds)  # late duplicates would show now
            return fetch_sent(stack.graph_url)
        time.sleep(1.0)
    return sent


def _unknown_outcomes(redis: Redis, prefix: str) -> dict[str, int]:
    """The /ops counters of sends of unknown outcome, summed over offices and hours."""
    totals: Counter[str] = Counter()
    for key in redis.scan_iter(f"{prefix}gerbang:ops:hour:*"):
        for name, value in redis.hgetall(key).items():
            if name.startswith("unknown:"):
                totals[name.removeprefix("unknown:")] += int(value)
    return dict(totals)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (also how the smoke test in `make test` sets a scenario's size)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--list", action="store_true", help="name the scenarios and stop")
    parser.add_argument("--rate", type=float, default=25.0, help="offered messages per second")
    parser.add_argument("--seconds", type=float, default=12.0, help="load per scenario")
    parser.add_argument("--fault-at", type=float, default=4.0, help="seconds into the load")
    parser.add_argument("--redeliver", type=float, default=0.02, help="share Meta delivers twice")
    parser.add_argument("--graph-timeout-s", type=float, default=10.0)
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    parser.add_argument("--settle-seconds", type=float, default=2.0)
    parser.add_argument("--port-base", type=int, default=18180)
    parser.add_argument("--log-level", default="WARNING", help="of the services (bench/logs/)")
    parser.add_argument(
        "--cluster-port", type=int, default=int(os.environ.get("GERBANG_CHAOS_KAFKA_PORT", 9700)),
        help="first port of the three-broker cluster (brokers +0,+2,+4; controllers +1,+3,+5)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:14} {scenario.description}")
        return 0
    # The control (no fault) only when asked for.
    chosen = [SCENARIOS[name] for name in args.scenario or SCENARIOS if name != "baseline"]
    failed = False
    started = time.monotonic()
    for scenario in chosen:
        if scenario.cluster:
            with cluster_running(args) as env:
                result = run_scenario(scenario, args, env)
        else:
            result = run_scenario(scenario, args)
        failed |= bool(result["lost"] or result["duplicates"])
        print(json.dumps(result), flush=True)
    print(
        f"chaos: {len(chosen)} scenario(s) in {time.monotonic() - started:.0f} s; "
        f"{'FAILED: lost or duplicated replies' if failed else 'exactly once in every one'}",
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
