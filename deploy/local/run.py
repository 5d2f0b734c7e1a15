"""`make run`: every Gerbang process natively, logs in one terminal, Ctrl-C stops all."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.local.stack import Stack

NEXT_STEPS = """
────────────────────────────────────────────────────────────────────────────
 Gerbang is running (development). Open:

   http://127.0.0.1:8080/simulator   WhatsApp simulator: write to any office
   http://127.0.0.1:8080/ops         ops dashboard (staff: national, jakpus.agent, jakpus.lead …
                                     password gerbang-dev-staff; see README)

 Or, in another terminal, send a signed test message and see the reply:

   uv run gerbang-send --office jakpus "syarat bikin paspor baru apa aja?"
   uv run gerbang-send --office bogor "jam buka?"

 Ctrl-C stops everything started here. `make infra-down` stops Kafka and Redis.
────────────────────────────────────────────────────────────────────────────
"""


def main() -> int:
    """Start the stack on the standard ports and wait for Ctrl-C."""
    stack = Stack(port_base=8080)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start(timeout=120)
        print(NEXT_STEPS, flush=True)
        while not stopping:
            for name, proc in list(stack.processes.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.5)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping every process started here …", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
