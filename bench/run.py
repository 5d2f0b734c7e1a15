"""`make bench`: the whole pipeline under load, measured end to end.

Starts every service natively (own topic prefix, Redis db 2, ports 18080+) and runs the load
generator as a separate process (signed webhooks from many citizens to every office, in
proportion to each number's Graph API throughput); the fake Graph API timestamps the replies.
Three phases:
- steady: an open-loop rate the stack sustains (`--steady-rate`, 50/s for 20 s): the latency
  a citizen meets (`steady.e2e_p50_ms`, ...);
- saturation: as fast as webhooks are acknowledged, with the offices' real throughput caps
  (Meta's 80 mps per number by default, Batam's 20): what offices get at peak;
- capacity: the same load on a fresh stack with every number at `--capacity-mps` (1,000, Meta's
  upgraded tier), so that only Gerbang itself limits: the pipeline's own capacity. A warm-up
  of `--warmup` messages (1,000) runs on that stack first and is not measured: creating the
  fresh topics, joining the consumer groups and the broker's first use of them are start-up
  costs, not costs per message (a deployment's broker is warm); its counts are checked too.
The last line printed is ONE JSON object: the saturation phase's e2e_msgs_per_s, e2e_p50_ms,
e2e_p99_ms, ack_p50_ms, ack_p99_ms, sent, replied, lost, duplicates, per_office, cpu_s (CPU
seconds per process: where the time goes), rss_mb (per service), faq_queries_per_s and
faq_queries_per_cpu_s (the matcher alone, one process), and `steady` and `capacity` (the
same numbers for those phases).
Also saved under bench/results/. Bounded: at most --messages messages and --max-seconds of
load per phase; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.local.stack import Stack  # noqa: E402
from gerbang.profiling import top_functions  # noqa: E402
from gerbang.settings import ServiceSettings  # noqa: E402
from gerbang.topics import delete_topics, ensure_topics  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def per_process(
    pids: dict[str, int], measure: Callable[[psutil.Process], float]
) -> dict[str, float]:
    """`measure` summed over each process and its children; -1 for a process that is gone."""
    result = {}
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            result[name] = sum(measure(p) for p in [proc, *proc.children(recursive=True)])
        except psutil.NoSuchProcess:
            result[name] = -1.0
    return result


def rss_mb(stack: Stack) -> dict[str, float]:
    """Resident memory of each service process (with children), in MiB."""
    rss = per_process(stack.pids(), lambda p: p.memory_info().rss / 2**20)
    return {name: round(value, 1) for name, value in rss.items()}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds each process (with children) has used so far."""
    cpu = per_process(pids, lambda p: p.cpu_times().user + p.cpu_times().system)
    return {name: round(value, 2) for name, value in cpu.items()}


def infra_pids() -> dict[str, int]:
    """Kafka's and Redis's pids from the pid files `deploy/local/infra.sh` keeps."""
    import os

    home = Path(os.environ.get("GERBANG_HOME", Path.home() / ".cache" / "gerbang"))
    pids = {}
    for name in ("kafka", "redis"):
        try:
            pids[name] = int((home / "run" / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
    return pids


def matcher_qps() -> dict[str, float]:
    """The matcher alone, one process: messages per second (wall clock) and per CPU-second
    (the figure for "one core" on a machine busy with anything else)."""
    from gerbang.understanding.bench import bench

    result = bench(seconds=3.0)
    return {
        "faq_queries_per_s": round(result["messages_per_second"]),
        "faq_queries_per_cpu_s": round(result["messages_per_cpu_second"]),
    }


def fetch_sent(graph_url: str) -> list[dict[str, object]]:
    """Every send the fake Graph API recorded."""
    with httpx.Client(timeout=30) as http:
        return list(http.get(f"{graph_url}/__sent").json())


def status_webhook_posts(graph_url: str) -> int:
    """How many status webhooks (each a signed POST of one or more statuses) the fake Graph
    API has posted back to the webhook API so far: the edge's other traffic."""
    with httpx.Client(timeout=30) as http:
        return int(http.get(f"{graph_url}/__stats").json()["webhooks"]["posts"])


def run_load(
    stack: Stack,
    args: argparse.Namespace,
    offices: Path,
    *,
    messages: int,
    rate: float,
    seed: int,
    throughput: dict[str, int],
) -> dict[str, object]:
    """One load phase: the load generator's webhooks, then the replies, measured."""
    label = f"{rate:g}/s open loop" if rate else f"as fast as acked, {args.concurrency} at a time"
    print(f"bench: sending {messages} webhooks ({label})", flush=True)
    watched = {**stack.pids(), **infra_pids()}
    cpu_before = cpu_seconds(watched)
    already = len(fetch_sent(stack.graph_url))
    posts_before = status_webhook_posts(stack.graph_url)
    load = subprocess.run(  # noqa: S603 - our own load generator
        [
            sys.executable,
            str(REPO / "bench" / "loadgen.py"),
            "--url", f"{stack.api_url}/webhook/whatsapp",
            "--offices", str(offices),
            "--messages", str(messages),
            "--concurrency", str(args.concurrency),
            "--max-seconds", str(args.max_seconds),
            "--rate", str(rate),
            "--seed", str(seed),
            *(["--even"] if args.even else []),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )  # fmt: skip
    generated = json.loads(load.stdout.strip().splitlines()[-1])
    results = generated["results"]
    accepted = {r["wa_id"]: r for r in results if r["status"] == 200}
    deadline = time.monotonic() + args.drain_seconds
    sent: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        sent = fetch_sent(stack.graph_url)[already:]
        if len({str(s["to"]).lstrip("+") for s in sent} & accepted.keys()) >= len(accepted):
            time.sleep(1.0)  # a moment for late duplicates to show
            sent = fetch_sent(stack.graph_url)[already:]
            break
        time.sleep(0.5)
    cpu_after = cpu_seconds(watched)
    status_posts = status_webhook_posts(stack.graph_url) - posts_before

    first_reply: dict[str, float] = {}
    keys: Counter[object] = Counter()
    for record in sent:
        wa_id = str(record["to"]).lstrip("+")
        at = float(record["received_at_unix"])  # type: ignore[arg-type]
        first_reply[wa_id] = min(at, first_reply.get(wa_id, at))
        payload = record["payload"]
        keys[payload.get("biz_opaque_callback_data")] += 1  # type: ignore[union-attr]
    e2e = [(first_reply[w] - r["sent_at"]) * 1000 for w, r in accepted.items() if w in first_reply]
    acks = [r["ack_ms"] for r in results if r["status"] == 200]
    replied = sum(1 for w in accepted if w in first_reply)
    span = max(first_reply.values()) - min(r["sent_at"] for r in results) if first_reply else 0.0
    per_office = {}
    for code in sorted({r["office"] for r in results}):
        mine = [r for r in results if r["office"] == code and r["status"] == 200]
        latencies = [(first_reply[r["wa_id"]] - r["sent_at"]) * 1000 for r in mine
                     if r["wa_id"] in first_reply]  # fmt: skip
        done = [first_reply[r["wa_id"]] for r in mine if r["wa_id"] in first_reply]
        window = max(done) - min(r["sent_at"] for r in mine) if done else 0.0
        per_office[code] = {
            "messages": len(mine),
            "replied": len(latencies),
            "msgs_per_s": round(len(done) / window, 1) if window > 0 else 0.0,
            "throughput_mps": throughput.get(code),
            "e2e_p50_ms": round(percentile(latencies, 50), 1),
            "e2e_p99_ms": round(percentile(latencies, 99), 1),
        }
    cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after}
    return {
        "e2e_msgs_per_s": round(replied / span, 1) if span > 0 else 0.0,
        "e2e_p50_ms": round(percentile(e2e, 50), 1),
        "e2e_p99_ms": round(percentile(e2e, 99), 1),
        "ack_p50_ms": round(percentile(acks, 50), 2),
        "ack_p99_ms": round(percentile(acks, 99), 2),
        "ack_mean_ms": round(statistics.fmean(acks), 2) if acks else 0.0,
        "sent": len(results),
        "accepted": len(accepted),
        "replied": replied,
        "lost": len(accepted) - replied,
        "duplicates": sum(n - 1 for key, n in keys.items() if key and n > 1),
        "graph_sends": len(sent),
        "per_office": per_office,
        # Where the time goes: CPU seconds each process spent in this phase (2 cores here).
        "cpu_s": {**cpu, "loadgen": generated.get("cpu_s", 0.0)},
        "cpu_ms_per_msg": round(sum(cpu.values()) * 1000 / max(1, replied), 2),
        "cpu_ms_per_msg_without_fake_graph": round(
            sum(v for name, v in cpu.items() if name != "fake-graph") * 1000 / max(1, replied), 2
        ),
        # The edge per webhook: the webhook API's CPU over every webhook it was sent (the
        # citizens' and the fake Graph API's status webhooks). It includes the API's
        # transcript view (it follows whatsapp.inbound and whatsapp.outbound), so it is an
        # upper bound of the webhook path alone.
        "webhooks": len(results) + status_posts,
        "api_cpu_ms_per_webhook": round(
            cpu.get("api", 0.0) * 1000 / max(1, len(results) + status_posts), 3
        ),
        "rate": rate or "max",
    }


def new_prefix() -> str:
    """A fresh topic prefix: each stack its own topics and consumer groups."""
    return f"bench{uuid.uuid4().hex[:8]}."


def log_dir_of(prefix: str) -> Path:
    """Where the services of the stack on `prefix` log (and write profiles)."""
    return REPO / "bench" / "logs" / prefix.rstrip(".")


@contextlib.contextmanager
def bench_stack(
    args: argparse.Namespace, prefix: str, extra_env: dict[str, str]
) -> Iterator[Stack]:
    """Every service running on its own topic prefix; its topics are deleted afterwards."""
    stack = Stack(
        extra_env=extra_env,
        port_base=args.port_base,
        topic_prefix=prefix,
        redis_db=2,
        log_format="json",
        log_level="WARNING",
        log_dir=log_dir_of(prefix),
    )
    settings = ServiceSettings(topic_prefix=prefix)
    asyncio.run(ensure_topics(settings))
    try:
        with stack.running(timeout=120):
            yield stack
    finally:
        asyncio.run(delete_topics(settings))  # the broker keeps only what is in use


@contextlib.contextmanager
def offices_dir(args: argparse.Namespace, throughput_mps: int | None = None) -> Iterator[Path]:
    """A copy of `offices/` with only the offices of `--offices` (every one for `all`), and
    every number's throughput set to `throughput_mps` if given."""
    import re
    import shutil
    import tempfile

    chosen = None if args.offices == "all" else set(args.offices.split(","))
    with tempfile.TemporaryDirectory(prefix="gerbang-bench-offices-") as folder:
        offices = Path(folder) / "offices"
        shutil.copytree(
            REPO / "offices",
            offices,
            ignore=lambda where, names: [
                name
                for name in names
                if chosen is not None
                and Path(where) == REPO / "offices"
                and (REPO / "offices" / name).is_dir()
                and not name.startswith("_")
                and name not in chosen
            ],
        )
        if throughput_mps is not None:
            for office_file in offices.glob("*/office.yaml"):
                text = office_file.read_text(encoding="utf-8")
                office_file.write_text(
                    re.sub(r"throughput_mps: *\d+", f"throughput_mps: {throughput_mps}", text),
                    encoding="utf-8",
                )
        yield offices


def capacity_phase(args: argparse.Namespace, throughput: dict[str, int]) -> dict[str, object]:
    """The pipeline's own limit: the same saturation load with every number at
    `--capacity-mps` (Meta's upgraded tier is 1,000 mps), so no Graph API cap binds."""
    with offices_dir(args, args.capacity_mps) as offices:
        print(f"bench: capacity phase, every number at {args.capacity_mps} mps", flush=True)
        caps = {code: args.capacity_mps for code in throughput}
        with bench_stack(args, new_prefix(), {"GERBANG_OFFICES_DIR": str(offices)}) as stack:
            warmup: dict[str, object] | None = None
            if args.warmup > 0:
                print(f"bench: capacity warm-up, {args.warmup} messages (not measured)", flush=True)
                warm = run_load(
                    stack, args, offices, messages=args.warmup, rate=0.0, seed=4, throughput=caps
                )
                warmup = {k: warm[k] for k in ("sent", "replied", "lost", "duplicates")}
            measured = run_load(
                stack, args, offices, messages=args.messages, rate=0.0, seed=3, throughput=caps
            )
            return {**measured, "warmup": warmup}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000, help="saturation phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--steady-rate", type=float, default=50.0,
                        help="open-loop messages/s of the steady phase (0: skip it)")  # fmt: skip
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--drain-seconds", type=float, default=60.0)
    parser.add_argument("--port-base", type=int, default=18080)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile every service (slower); top functions"
    )
    parser.add_argument("--even", action="store_true", help="same traffic share per office")
    parser.add_argument(
        "--offices", default="all",
        help="offices that run and get traffic: all (every folder of offices/) or codes, "
        "comma-separated (e.g. jakpus,bogor,batam)",
    )  # fmt: skip
    parser.add_argument(
        "--capacity-mps", type=int, default=1000,
        help="per-number Graph throughput of the capacity phase (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=int, default=1000,
        help="messages run on the capacity phase's fresh stack before it is measured (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results",
        help="folder for the JSON result (default bench/results/)",
    )  # fmt: skip
    parser.add_argument(
        "--saturation-mps", type=int, default=0,
        help="every number's throughput in the steady and saturation phases (0: each "
        "office's own); with --profile, 1000 profiles the pipeline at capacity",
    )  # fmt: skip
    args = parser.parse_args()

    from gerbang.offices import load_registry

    prefix = new_prefix()
    log_dir = log_dir_of(prefix)
    profile_dir = log_dir / "profiles"
    extra_env = {"GERBANG_PROFILE_DIR": str(profile_dir)} if args.profile else {}
    steady: dict[str, object] | None = None
    with offices_dir(args, args.saturation_mps or None) as offices:
        throughput = {o.code: o.whatsapp.throughput_mps for o in load_registry(offices)}
        extra_env["GERBANG_OFFICES_DIR"] = str(offices)
        print(
            f"bench: starting services for {len(throughput)} offices "
            f"(prefix {prefix}, logs in {log_dir})",
            flush=True,
        )
        with bench_stack(args, prefix, extra_env) as stack:
            if args.steady_rate > 0 and not args.profile:
                # Latency as a citizen meets it: an open-loop rate the stack sustains.
                steady = run_load(
                    stack, args, offices, messages=int(args.steady_rate * args.steady_seconds),
                    rate=args.steady_rate, seed=2, throughput=throughput,
                )  # fmt: skip
            # Saturation: as fast as webhooks are acknowledged; queues build, latency grows.
            saturated = run_load(
                stack, args, offices, messages=args.messages, rate=0.0, seed=1,
                throughput=throughput,
            )  # fmt: skip
            memory = rss_mb(stack)
    capacity = None
    if args.capacity_mps > 0 and not args.profile:
        capacity = capacity_phase(args, throughput)

    summary: dict[str, object] = {
        **saturated,
        "rss_mb": memory,
        **matcher_qps(),
        "steady": steady,
        "capacity": capacity,
        "messages": args.messages,
        "concurrency": args.concurrency,
        "even": args.even,
        "offices": len(throughput),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if args.profile:
        summary["profile"] = {
            path.stem: top_functions(path, limit=8) for path in sorted(profile_dir.glob("*.pstats"))
        }
    out = args.out / f"bench-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"bench: saved {out}", flush=True)
    print(json.dumps(summary), flush=True)
    warmup = capacity.get("warmup") if capacity else None
    failed = [
        phase
        for phase in (saturated, steady, capacity, warmup)
        if isinstance(phase, dict) and (phase["lost"] or phase["duplicates"])
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
