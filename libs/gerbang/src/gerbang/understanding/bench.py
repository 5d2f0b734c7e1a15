"""Throughput of `IntentMatcher.understand` on one core, over the labelled train and dev
messages (never the test split).

The matcher sits on the router's hot path; the target is ≥ 5,000 messages/s. Run:
`uv run python -m gerbang.understanding.bench` (add `--profile` for a cProfile summary).
The per-token caches are warmed by one pass first, as they are in a running router, and the
heap is then settled as the router settles it once started (`gerbang.service.settle_heap`:
the classifier, lexicon and caches alive then are moved out of the cyclic collector's reach,
and the youngest generation is collected less often). `--unsettled` measures without that
(the collector walking the whole heap again and again costs ≈ a fifth of the time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from pathlib import Path

from gerbang.service import settle_heap
from gerbang.understanding.classify import IntentMatcher
from gerbang.understanding.model import DEV_FILE, TRAIN_FILE, read_examples


def fixture_dir() -> Path:
    """`tests/fixtures/nlu` of the repository this package is in (the held-out test split)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "tests").is_dir() and (parent / "libs").is_dir():
            return parent / "tests" / "fixtures" / "nlu"
    raise FileNotFoundError("the repository's tests/ not found above " + str(here))


def load_messages() -> list[str]:
    """The message texts of the train and dev splits."""
    return [example.text for path in (TRAIN_FILE, DEV_FILE) for example in read_examples(path)]


def bench(seconds: float = 3.0, *, settle: bool = True) -> dict[str, float]:
    """Messages per second of `understand()` over the fixtures, single process.

    Returns {"messages_per_second", "messages_per_cpu_second", "microseconds_per_message",
    "messages", "seconds", "build_seconds"}. Per CPU-second (`time.process_time`) is the
    figure to compare on a machine busy with other work; wall-clock rate includes waiting.
    `settle`: settle the heap after the warm-up, as the router does (see the module's text).
    """
    started = time.perf_counter()
    matcher = IntentMatcher()
    build_seconds = time.perf_counter() - started
    texts = load_messages()
    for text in texts:  # warm the per-token caches, as a running router has them
        matcher.understand(text, office_code="jakpus")
    thresholds = gc.get_threshold()
    if settle:
        settle_heap()
    try:
        count = 0
        cpu_started = time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for text in texts:
                matcher.understand(text, office_code="jakpus")
            count += len(texts)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:  # the caller's process (a test session, `make bench`) gets its collector back
        if settle:
            gc.unfreeze()
            gc.set_threshold(*thresholds)
    return {
        "messages_per_second": round(count / elapsed, 1),
        "messages_per_cpu_second": round(count / cpu, 1),
        "microseconds_per_message": round(elapsed / count * 1e6, 2),
        "messages": count,
        "seconds": round(elapsed, 3),
        "build_seconds": round(build_seconds, 3),
        "heap_settled": settle,
    }


def main() -> None:
    """Print the benchmark (and optionally a cProfile summary)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--unsettled", action="store_true", help="do not settle the heap (unlike the router)"
    )
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        result = bench(args.seconds, settle=not args.unsettled)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    else:
        result = bench(args.seconds, settle=not args.unsettled)
    print(result)


if __name__ == "__main__":
    main()
