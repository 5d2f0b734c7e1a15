"""The texts catalogue: validated at load (both languages, the same placeholders), overridden
by an office file and by what staff publish, checked against WhatsApp's limits in /ops."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from gerbang.offices import (
    NATIONAL_SCOPE,
    LocalizedText,
    OfficeConfigError,
    OfficeRegistry,
    load_registry,
)
from gerbang.publishing.validate import check
from gerbang.publishing.versions import Edit, publish_now
from gerbang.publishing.view import ContentView
from gerbang.texts import TextError, render_text, validate_texts

OFFICES = Path(__file__).resolve().parents[3] / "offices"
NOW = dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def registry() -> OfficeRegistry:
    return load_registry(OFFICES)


def _offices(tmp_path: Path, texts: str | None = None, national: str | None = None) -> Path:
    """A copy of the national folder and two offices; `texts` as jakpus's texts.yaml,
    `national` appended to the national catalogue."""
    root = tmp_path / "offices"
    shutil.copytree(OFFICES / "_national", root / "_national")
    for code in ("jakpus", "bogor"):
        shutil.copytree(OFFICES / code, root / code)
    if texts is not None:
        (root / "jakpus" / "texts.yaml").write_text(texts, encoding="utf-8")
    if national is not None:
        with (root / "_national" / "texts.yaml").open("a", encoding="utf-8") as catalogue:
            catalogue.write(national)
    return root


def test_the_catalogue_is_valid_for_every_office(registry: OfficeRegistry) -> None:
    assert validate_texts(registry) == []
    assert len(registry.national.texts) > 100


def test_an_office_file_overrides_a_text_for_that_office_only(tmp_path: Path) -> None:
    root = _offices(
        tmp_path,
        texts=(
            "status.cancelled:\n  id: Baik, {short_name} berhenti.\n  en: OK, {short_name} stops.\n"
        ),
    )
    registry = load_registry(root)
    jakpus, bogor = registry.get("jakpus"), registry.get("bogor")
    assert render_text(registry, jakpus, "status.cancelled", "id") == (
        "Baik, Kanim Jakarta Pusat berhenti."
    )
    assert (
        render_text(registry, jakpus, "status.cancelled", "en") == "OK, Kanim Jakarta Pusat stops."
    )
    assert render_text(registry, bogor, "status.cancelled", "id").startswith(
        "Baik, pengecekan status dihentikan."
    )
    assert validate_texts(registry) == []


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("feedback.cancelled:\n  id: Baik.\n", "texts.feedback.cancelled.en"),
        (
            "feedback.cancelled:\n  id: Tiket {ticket}.\n  en: Ticket.\n",
            "texts.feedback.cancelled",
        ),
    ],
)
def test_a_text_without_english_or_with_other_placeholders_is_refused_at_load(
    tmp_path: Path, entry: str, field: str
) -> None:
    root = _offices(tmp_path, texts=entry)
    with pytest.raises(OfficeConfigError) as refused:
        load_registry(root)
    message = str(refused.value)
    assert "jakpus/texts.yaml" in message and f"field {field}" in message


def test_validation_names_unknown_ids_placeholders_and_limits(tmp_path: Path) -> None:
    root = _offices(
        tmp_path,
        texts=(
            "status.nonsense:\n  id: x\n  en: x\n"
            "status.cancelled:\n  id: Tiket {ticket}\n  en: Ticket {ticket}\n"
        ),
    )
    problems = validate_texts(load_registry(root))
    assert "jakpus/texts.yaml: 'status.nonsense' is not a text of _national/texts.yaml" in problems
    assert any("'status.cancelled' uses placeholder(s) the code does not pass: ticket" in p
               for p in problems)  # fmt: skip
    long_title = 'handoff.button_yes:\n  id: Ya, saya ingin bicara dengan petugas\n  en: "Yes"\n'
    problems = validate_texts(load_registry(_offices(tmp_path / "2", texts=long_title)))
    assert problems == [
        "jakpus: text 'handoff.button_yes' (id) is 36 characters; at most 20 where it is shown"
    ]


def test_a_missing_value_is_an_error_not_a_broken_reply(registry: OfficeRegistry) -> None:
    with pytest.raises(TextError, match="ticket"):
        render_text(registry, registry.get("jakpus"), "feedback.appended", "id")
    with pytest.raises(TextError, match="no text"):
        render_text(registry, registry.get("jakpus"), "feedback.nonsense", "id")


def test_a_published_text_wins_and_is_checked_like_an_answer(registry: OfficeRegistry) -> None:
    registry = load_registry(OFFICES)  # its own: the view changes what is live
    jakpus, bogor = registry.get("jakpus"), registry.get("bogor")
    good = Edit(LocalizedText(id="Dibatalkan ({short_name}).", en="Cancelled ({short_name})."))
    assert check(registry, "jakpus", "feedback.cancelled", good, now=NOW) == []
    view = ContentView(registry)
    view.apply(publish_now(None, "jakpus", "feedback.cancelled", good, author="t", now=NOW))
    assert render_text(registry, jakpus, "feedback.cancelled", "en") == (
        "Cancelled (Kanim Jakarta Pusat)."
    )
    assert render_text(registry, bogor, "feedback.cancelled", "en").startswith("Okay, cancelled.")
    refusals = [
        (Edit(LocalizedText(id="Tiket {ticket}", en="Ticket")), ["text.en"]),  # not the same
        (Edit(LocalizedText(id="Tiket {nomor}", en="Ticket {nomor}")), ["text.id", "text.en"]),
        (Edit(LocalizedText(id="Tiket {ticket}", en=None)), ["text.en"]),
    ]
    for edit, fields in refusals:
        problems = check(registry, "jakpus", "feedback.appended", edit, now=NOW)
        assert [p.field for p in problems] == fields, problems
    too_long = Edit(LocalizedText(id="Ya, saya ingin bicara dengan petugas", en="Yes"))
    problems = check(registry, NATIONAL_SCOPE, "handoff.button_yes", too_long, now=NOW)
    assert [p.field for p in problems] == ["text.id"] and "at most 20" in problems[0].message
