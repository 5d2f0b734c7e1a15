"""`make bench`: the whole pipeline under load, measured end to end.

Starts every service natively (own topic prefix, Redis db 2, ports 18080+), runs the load
generator as a separate process (signed webhooks from many citizens to every office), lets
the fake Graph API timestamp the replies, and prints ONE JSON object as the last line:
e2e_msgs_per_s, e2e_p50_ms, e2e_p99_ms, ack_p50_ms, ack_p99_ms, sent, replied, lost,
duplicates, rss_mb (per service), faq_queries_per_s. Also saved under bench/results/.
Bounded: at most --messages messages and --max-seconds of load; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.local.stack import Stack  # noqa: E402
from gerbang.profiling import top_functions  # noqa: E402
from gerbang.settings import ServiceSettings  # noqa: E402
from gerbang.topics import ensure_topics  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_mb(stack: Stack) -> dict[str, float]:
    """Resident memory of each service process (with children), in MiB."""
    result = {}
    for name, pid in stack.pids().items():
        try:
            proc = psutil.Process(pid)
            total = proc.memory_info().rss + sum(
                child.memory_info().rss for child in proc.children(recursive=True)
            )
            result[name] = round(total / 2**20, 1)
        except psutil.NoSuchProcess:
            result[name] = -1.0
    return result


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds each process (with children) has used so far."""
    result = {}
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            total = sum(p.cpu_times().user + p.cpu_times().system
                        for p in [proc, *proc.children(recursive=True)])  # fmt: skip
            result[name] = round(total, 2)
        except psutil.NoSuchProcess:
            result[name] = -1.0
    return result


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


def matcher_qps() -> float:
    """FAQ matcher alone, one core: queries per second."""
    from gerbang.understanding.bench import bench

    return float(bench(seconds=3.0)["messages_per_second"])


def fetch_sent(graph_url: str) -> list[dict[str, object]]:
    """Every send the fake Graph API recorded."""
    with httpx.Client(timeout=30) as http:
        return list(http.get(f"{graph_url}/__sent").json())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--drain-seconds", type=float, default=60.0)
    parser.add_argument("--port-base", type=int, default=18080)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile every service (slower); top functions"
    )
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    log_dir = REPO / "bench" / "logs" / prefix.rstrip(".")
    profile_dir = log_dir / "profiles"
    extra_env = {"GERBANG_PROFILE_DIR": str(profile_dir)} if args.profile else {}
    stack = Stack(
        extra_env=extra_env,
        port_base=args.port_base,
        topic_prefix=prefix,
        redis_db=2,
        log_format="json",
        log_level="WARNING",
        log_dir=log_dir,
    )
    settings = ServiceSettings(topic_prefix=prefix)
    asyncio.run(ensure_topics(settings))
    print(f"bench: starting services (prefix {prefix}, logs in {log_dir})", flush=True)
    with stack.running(timeout=120):
        watched = {**stack.pids(), **infra_pids()}
        cpu_before = cpu_seconds(watched)
        print(f"bench: sending {args.messages} webhooks, {args.concurrency} at a time", flush=True)
        load = subprocess.run(  # noqa: S603 - our own load generator
            [
                sys.executable,
                str(REPO / "bench" / "loadgen.py"),
                "--url",
                f"{stack.api_url}/webhook/whatsapp",
                "--offices",
                str(REPO / "offices"),
                "--messages",
                str(args.messages),
                "--concurrency",
                str(args.concurrency),
                "--max-seconds",
                str(args.max_seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        generated = json.loads(load.stdout.strip().splitlines()[-1])
        results = generated["results"]
        accepted = {r["wa_id"]: r for r in results if r["status"] == 200}
        deadline = time.monotonic() + args.drain_seconds
        sent: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            sent = fetch_sent(stack.graph_url)
            if len({str(s["to"]).lstrip("+") for s in sent} & accepted.keys()) >= len(accepted):
                time.sleep(1.0)  # a moment for late duplicates to show
                sent = fetch_sent(stack.graph_url)
                break
            time.sleep(0.5)
        memory = rss_mb(stack)
        cpu_after = cpu_seconds(watched)
        load_cpu = generated.get("cpu_s", 0.0)

    first_reply: dict[str, float] = {}
    keys = Counter()
    for record in sent:
        wa_id = str(record["to"]).lstrip("+")
        at = float(record["received_at_unix"])  # type: ignore[arg-type]
        first_reply[wa_id] = min(at, first_reply.get(wa_id, at))
        payload = record["payload"]
        keys[payload.get("biz_opaque_callback_data")] += 1  # type: ignore[union-attr]
    e2e = [(first_reply[w] - r["sent_at"]) * 1000 for w, r in accepted.items() if w in first_reply]
    acks = [r["ack_ms"] for r in results if r["status"] == 200]
    replied = sum(1 for w in accepted if w in first_reply)
    if first_reply:
        span = max(first_reply.values()) - min(r["sent_at"] for r in results)
    else:
        span = 0.0
    summary = {
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
        "rss_mb": memory,
        # Where the time goes: CPU seconds each process spent during the load (2 cores here).
        "cpu_s": {
            **{name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after},
            "loadgen": load_cpu,
        },
        "cpu_ms_per_msg": round(
            sum(cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after) * 1000 / max(1, replied),
            2,
        ),
        "faq_queries_per_s": round(matcher_qps()),
        "messages": args.messages,
        "concurrency": args.concurrency,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if args.profile:
        summary["profile"] = {
            path.stem: top_functions(path, limit=8) for path in sorted(profile_dir.glob("*.pstats"))
        }
    out = REPO / "bench" / "results" / f"bench-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"bench: saved {out.relative_to(REPO)}", flush=True)
    print(json.dumps(summary), flush=True)
    return 0 if summary["lost"] == 0 and summary["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
