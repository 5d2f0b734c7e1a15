"""Fixtures for the FAQ tests: the repository's real offices (national defaults + overrides)."""

from __future__ import annotations

import pytest

from gerbang.offices import Office, OfficeRegistry, default_offices_dir, load_registry


@pytest.fixture(scope="session")
def registry() -> OfficeRegistry:
    """The offices in the repository's `offices/` folder."""
    return load_registry(default_offices_dir())


@pytest.fixture(scope="session")
def jakpus(registry: OfficeRegistry) -> Office:
    """Kanim Jakarta Pusat (SIGAP), the one office with real data."""
    return registry.get("jakpus")


@pytest.fixture(scope="session")
def bogor(registry: OfficeRegistry) -> Office:
    """Kanim Bogor, example data with a `hours_location` override."""
    return registry.get("bogor")
