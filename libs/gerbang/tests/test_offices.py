"""Offices are data: a broken file is an error that names the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gerbang.offices import OfficeConfigError, default_offices_dir, load_registry

REAL = default_offices_dir()


@pytest.fixture
def offices(tmp_path: Path) -> Path:
    """A writable copy of the repository's offices/ folder."""
    copy = tmp_path / "offices"
    shutil.copytree(REAL, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_repository_offices_load() -> None:
    registry = load_registry(REAL)
    assert {"jakpus", "bogor", "batam"} <= set(registry.offices)
    assert registry.get("jakpus").service_name == "SIGAP"
    assert (
        registry.by_phone_number_id(registry.get("jakpus").whatsapp.phone_number_id).code
        == "jakpus"
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "names"),
    [
        ("batam/office.yaml", "throughput_mps: 20", "throughput_mps: fast",
         "whatsapp.throughput_mps"),
        ("jakpus/office.yaml", "ticket_prefix: JKP", "ticket_prefix: jkp1", "ticket_prefix"),
        ("jakpus/office.yaml", 'open: "08:00"', 'open: "25:00"', "hours"),
        ("bogor/office.yaml", "service_name:", "servis_name:", "servis_name"),
        ("jakpus/office.yaml", 'display_number: "628118539333"', 'display_number: "halo"',
         "whatsapp.display_number"),
    ],
)  # fmt: skip
def test_a_broken_field_names_file_and_field(
    offices: Path, file: str, old: str, new: str, names: str
) -> None:
    edit(offices / file, old, new)
    with pytest.raises(OfficeConfigError) as error:
        load_registry(offices)
    message = str(error.value)
    assert file in message and names in message, message


def test_broken_yaml_names_the_file(offices: Path) -> None:
    (offices / "batam" / "office.yaml").write_text("code: batam\n  name: [unclosed\n")
    with pytest.raises(OfficeConfigError, match=r"batam/office\.yaml"):
        load_registry(offices)


@pytest.mark.parametrize(
    ("old", "new", "shared"),
    [
        ('phone_number_id: "100000000000003"', 'phone_number_id: "100000000000001"',
         "whatsapp.phone_number_id"),
        ("ticket_prefix: BTM", "ticket_prefix: JKP", "ticket_prefix"),
    ],
)  # fmt: skip
def test_two_offices_cannot_share_a_number_or_a_ticket_prefix(
    offices: Path, old: str, new: str, shared: str
) -> None:
    edit(offices / "batam" / "office.yaml", old, new)
    with pytest.raises(OfficeConfigError, match=f"share {shared}"):
        load_registry(offices)


def test_a_folder_and_its_code_must_agree(offices: Path) -> None:
    shutil.copytree(offices / "batam", offices / "batam2")
    with pytest.raises(OfficeConfigError, match="batam2"):
        load_registry(offices)
