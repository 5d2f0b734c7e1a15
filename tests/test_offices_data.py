"""The 151 offices of `offices/offices.csv`: generated folders up to date, example data marked,
and what a citizen reads about an example office says that its number must be confirmed."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from gerbang.faq.answers import check_numbers
from gerbang.offices import load_registry
from gerbang.phone import display

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry(ROOT / "offices")


@functools.cache
def _generator() -> ModuleType:
    """offices/generate.py (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("offices_generate", ROOT / "offices/generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_folders_and_deploy_files_match_the_csv() -> None:
    """`offices/generate.py --check`: no folder, compose or .env.example line is stale."""
    assert _generator().main(["--check"]) == 0


def test_every_office_of_the_csv_is_in_the_registry() -> None:
    rows = _generator().read_rows()
    assert len(rows) == len(REGISTRY) == 151
    assert {row.code for row in rows} == set(REGISTRY.offices)
    # The hand-maintained offices the tests pin stay as they are.
    assert {row.code for row in rows if row.maintained == "hand"} == {"jakpus", "bogor", "batam"}


def test_generated_offices_are_marked_as_example_data() -> None:
    generated = {row.code for row in _generator().read_rows() if row.maintained == "generated"}
    for code in generated:
        office = REGISTRY.get(code)
        assert office.example, code
        assert not office.address_verified and not office.hours_verified, code
        assert office.address.id.startswith("(contoh)"), code


def test_a_number_check_on_an_example_office_says_to_confirm_it() -> None:
    medan = REGISTRY.get("medan")
    answer = check_numbers(REGISTRY, medan, [medan.display_number], "id")
    assert "data contoh" in answer and "belum dikonfirmasi" in answer
    jakpus = REGISTRY.get("jakpus")  # real data: no such note
    real = check_numbers(REGISTRY, medan, [jakpus.display_number], "id")
    assert display(jakpus.display_number) in real and "data contoh" not in real
