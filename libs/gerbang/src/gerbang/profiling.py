"""Opt-in CPU profiling of a whole service process (`GERBANG_PROFILE_DIR`).

`make bench` sets it to see where the time goes; the profile is written when the process
stops cleanly (SIGTERM), as `<dir>/<service>.pstats`. Times are the process's CPU time, not
the wall clock: on a shared two-core machine a wall-clock profile charges whatever ran while
the process waited for a core (or for I/O) to the function it was in.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def maybe_profile(service: str) -> Iterator[None]:
    """Profile the block if GERBANG_PROFILE_DIR is set; otherwise do nothing."""
    folder = os.environ.get("GERBANG_PROFILE_DIR")
    if not folder:
        yield
        return
    # uvicorn re-raises the SIGTERM it caught once it has shut down, which would end the
    # process before the profile is written: end it with SystemExit instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile(time.process_time)
    _active[service] = (profiler, Path(folder) / f"{service}.pstats")
    profiler.enable()
    try:
        yield
    finally:
        write_profile()


_active: dict[str, tuple[cProfile.Profile, Path]] = {}


def write_profile() -> None:
    """Stop the process's profile and write it now (idempotent; nothing if not profiling).

    The API calls it at the end of its lifespan: under load its process did not always get
    back to `maybe_profile`'s exit."""
    for service in list(_active):
        profiler, path = _active.pop(service)
        profiler.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)


def top_functions(path: Path, limit: int = 12) -> list[tuple[str, float, float]]:
    """The functions with the most own time: (where, own seconds, share of all own time)."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    result = []
    for (filename, line, name), entry in ranked:
        short = "/".join(Path(filename).parts[-2:])
        result.append((f"{short}:{line}({name})", round(entry[2], 3), round(entry[2] / total, 3)))
    return result
