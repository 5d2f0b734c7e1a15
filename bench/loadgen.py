"""Load generator (a separate process): signed webhooks from many citizens to every office.

Prints one JSON object: per message its citizen, send time and webhook ack latency.
Bounded in count and time; targets loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gerbang.offices import DEV_SECRET, load_registry
from gerbang_devtools.webhooks import encode_signed, message_webhook, text_message

QUESTIONS = [
    "min syarat bikin paspor apa aja",
    "brp biaya paspor elektronik 10 tahun",
    "cara bayar kode billing gmn ya",
    "jam buka kantor imigrasi kapan",
    "paspor sy ilang gmn kak",
    "pengambilan paspor bawa apa aja",
    "bisa daftar lewat wa gak min",
    "cek nomor 081230030440 ini resmi?",
    "How much is an e-passport?",
    "halo",
    "syarat paspor anak gmn",
    "udh bayar kok blm ada jadwal",
]


Prepared = tuple[str, str, bytes, dict[str, str]]  # wa_id, office, body, headers


async def run(args: argparse.Namespace) -> dict[str, object]:
    registry = load_registry(args.offices)
    offices = list(registry)
    rng = random.Random(args.seed)
    # Traffic in proportion to each number's Graph API throughput (a 20 mps number gets a
    # quarter of an 80 mps one), so that no single office's cap sets the whole run's pace;
    # --even sends every office the same share.
    weights = [1 if args.even else office.whatsapp.throughput_mps for office in offices]
    prepared = []
    for i in range(args.messages):
        office = rng.choices(offices, weights=weights)[0]
        wa_id = f"62899{args.seed:02d}{i:07d}"
        body = message_webhook(office, wa_id, text_message(rng.choice(QUESTIONS)))
        raw, headers = encode_signed(body, DEV_SECRET)
        prepared.append((wa_id, office.code, raw, headers))
    results: list[dict[str, object]] = []
    queue: asyncio.Queue[tuple[str, str, bytes, dict[str, str]]] = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)
    deadline = time.monotonic() + args.max_seconds
    interval = 1.0 / args.rate if args.rate else 0.0
    start = time.monotonic()
    if args.announce:  # the caller times its fault from the first message, not our start-up
        print(json.dumps({"started_at": time.time()}), flush=True)

    taken = 0

    async def deliver(http: aiohttp.ClientSession, raw: bytes, headers: dict[str, str]) -> int:
        """POST until answered 200 (like Meta: redeliver on anything else), at most
        `--retry-seconds`; returns the last status (599: no answer) and counts the others."""
        give_up = time.monotonic() + args.retry_seconds
        while True:
            try:
                async with http.post(args.url, data=raw, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 599
            if status == 200 or time.monotonic() >= give_up:
                return status
            non_200[0] += 1
            await asyncio.sleep(0.5)

    non_200 = [0]
    redelivered = [0]

    async def one(http: aiohttp.ClientSession, item: Prepared) -> None:
        wa_id, office_code, raw, headers = item
        t0 = time.time()
        p0 = time.perf_counter()
        status = await deliver(http, raw, headers)
        results.append(
            {
                "wa_id": wa_id,
                "office": office_code,
                "sent_at": t0,
                "status": status,
                "ack_ms": (time.perf_counter() - p0) * 1000,
            }
        )
        if status == 200 and rng.random() < args.redeliver:
            # Meta sometimes delivers a webhook again although it got its 200.
            await asyncio.sleep(args.redeliver_after)
            redelivered[0] += 1
            await deliver(http, raw, headers)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal taken
        while not queue.empty() and time.monotonic() < deadline:
            item = queue.get_nowait()
            k, taken = taken, taken + 1
            if interval:
                # Open-loop pacing: message k leaves at start + k/rate, however slow the
                # answers (with enough workers in flight).
                delay = start + k * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await one(http, item)

    async def open_loop(http: aiohttp.ClientSession) -> None:
        """A task per message at start + k/rate: an outage (503s, retries) never slows the
        offered rate, as with Meta's many senders."""
        tasks = []
        for k, item in enumerate(prepared):
            delay = start + k * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() >= deadline:
                break
            tasks.append(asyncio.create_task(one(http, item)))
        await asyncio.gather(*tasks)

    # aiohttp: the load generator shares the machine with what it measures, so its own CPU
    # per request must stay small (httpx cost ≈2 ms per POST here).
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=args.concurrency),
    ) as http:
        if args.open_loop and interval:
            await open_loop(http)
        else:
            await asyncio.gather(*(worker(http) for _ in range(args.concurrency)))
    return {
        "non_200": non_200[0],
        "redelivered": redelivered[0],
        "results": results,
        "elapsed_s": time.monotonic() - start,
        "cpu_s": round(time.process_time(), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--offices", required=True)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s (0 = as fast as acked)")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--even", action="store_true", help="same share for every office")
    parser.add_argument(
        "--open-loop", action="store_true", help="with --rate: a task per message on schedule"
    )
    parser.add_argument(
        "--retry-seconds", type=float, default=10.0, help="redeliver a webhook this long"
    )
    parser.add_argument("--redeliver", type=float, default=0.0, help="share delivered twice")
    parser.add_argument("--redeliver-after", type=float, default=2.0)
    parser.add_argument("--announce", action="store_true", help="print a line when sending starts")
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost")):
        parser.error("the load generator only targets loopback addresses")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
