"""Fixtures of the status tests: the real office registry and records to look up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gerbang.messages import ApplicationRecord, Stage
from gerbang.offices import OfficeRegistry, load_registry

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def registry() -> OfficeRegistry:
    """The repository's offices (jakpus = SIGAP, bogor, batam)."""
    return load_registry(REPO / "offices")


def make_record(
    application_no: str = "1234567890123",
    office: str = "jakpus",
    stage: Stage = Stage.IN_PROCESS,
    date_of_birth: dt.date = dt.date(1990, 5, 12),
    version: int = 1,
    note: str | None = None,
) -> ApplicationRecord:
    """A record as the back-office API would publish it."""
    return ApplicationRecord(
        application_no=application_no,
        office=office,
        stage=stage,
        date_of_birth=date_of_birth,
        applicant_name="Siti Rahayu",
        version=version,
        note=note,
    )
