"""Shared fixtures for the understanding tests: the offices and one matcher per office."""

from __future__ import annotations

import pytest

from gerbang.offices import OfficeRegistry, default_offices_dir, load_registry
from gerbang.understanding import IntentMatcher


@pytest.fixture(scope="session")
def registry() -> OfficeRegistry:
    """The repository's offices (jakpus, bogor, batam)."""
    return load_registry(default_offices_dir())


@pytest.fixture(scope="session")
def matcher(registry: OfficeRegistry) -> IntentMatcher:
    """The matcher of Kanim Jakarta Pusat, knowing every office's names."""
    return IntentMatcher.from_registry(registry)["jakpus"]
