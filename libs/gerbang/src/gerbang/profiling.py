"""Opt-in CPU profiling of a whole service process (`GERBANG_PROFILE_DIR`).

`make bench` sets it to see where the time goes; the profile is written when the process
stops cleanly (SIGTERM), as `<dir>/<service>.pstats`.
"""

from __future__ import annotations

import cProfile
import os
import pstats
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
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        Path(folder).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(Path(folder) / f"{service}.pstats")


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
