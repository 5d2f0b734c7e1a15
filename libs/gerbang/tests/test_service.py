"""`settle_heap`: a started service's objects leave the garbage collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gerbang.service import YOUNG_GC_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was, afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_rarer() -> None:
    gc.unfreeze()
    state = [{"office": str(n)} for n in range(1000)]  # start-up state that lives on
    settle_heap()
    assert gc.get_freeze_count() >= len(state)
    walked = {id(item) for generation in range(3) for item in gc.get_objects(generation)}
    assert not any(id(item) in walked for item in state), "frozen: in no generation"
    assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD > 700
