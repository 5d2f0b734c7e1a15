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

    taken = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal taken
        while not queue.empty() and time.monotonic() < deadline:
            wa_id, office_code, raw, headers = queue.get_nowait()
            k, taken = taken, taken + 1
            if interval:
                # Open-loop pacing: message k leaves at start + k/rate, however slow the
                # answers (with enough workers in flight).
                delay = start + k * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = time.time()
            p0 = time.perf_counter()
            status = 0
            for _attempt in range(20):  # like Meta: redeliver on anything but 200
                try:
                    async with http.post(args.url, data=raw, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 599
                if status == 200:
                    break
                await asyncio.sleep(0.5)
            results.append(
                {
                    "wa_id": wa_id,
                    "office": office_code,
                    "sent_at": t0,
                    "status": status,
                    "ack_ms": (time.perf_counter() - p0) * 1000,
                }
            )

    # aiohttp: the load generator shares the machine with what it measures, so its own CPU
    # per request must stay small (httpx cost ≈2 ms per POST here).
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=args.concurrency),
    ) as http:
        await asyncio.gather(*(worker(http) for _ in range(args.concurrency)))
    return {
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
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost")):
        parser.error("the load generator only targets loopback addresses")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
