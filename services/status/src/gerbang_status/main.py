"""Entry point: `python -m gerbang_status api|worker`."""

from __future__ import annotations

import argparse

import uvicorn

from gerbang.logs import setup_logging
from gerbang.service import run_main
from gerbang_status.settings import StatusSettings


def main(argv: list[str] | None = None) -> None:
    """Run the back-office API or the worker."""
    parser = argparse.ArgumentParser(prog="gerbang_status", description=__doc__)
    parser.add_argument("role", choices=["api", "worker"])
    args = parser.parse_args(argv)
    settings = StatusSettings()
    setup_logging(f"status-{args.role}", settings.log_level, settings.log_format)
    if args.role == "api":
        from gerbang_status.api import create_app

        uvicorn.run(
            create_app(settings), host=settings.api_host, port=settings.api_port,
            log_config=None, access_log=False,
        )  # fmt: skip
    else:
        from gerbang_status.worker import run

        run_main(run(settings))
