"""The office menu: row ids are the routing contract, and it fits WhatsApp's list limits."""

from __future__ import annotations

import pytest

from gerbang.faq.menu import MENU_TEXT_IDS, build_menu, menu_header, menu_text, row_title
from gerbang.messages import MENU_ROWS
from gerbang.offices import LANGS, Lang, Office, OfficeRegistry


def test_every_menu_row_has_texts_in_both_languages(registry: OfficeRegistry) -> None:
    assert len(MENU_TEXT_IDS) == 2 * len(MENU_ROWS)
    for text_id in MENU_TEXT_IDS:
        entry = registry.national.texts[text_id]
        assert entry.id and entry.en


@pytest.mark.parametrize("lang", LANGS)
def test_menu_fits_whatsapp_list_limits(registry: OfficeRegistry, lang: Lang) -> None:
    for office in registry:
        menu = build_menu(registry, office, lang)
        rows = [row for section in menu.sections for row in section.rows]
        assert [row.id for row in rows] == [row_id for row_id, _ in MENU_ROWS]
        assert len(rows) <= 10
        assert all(len(row.title) <= 24 for row in rows)
        assert all(row.description and len(row.description) <= 72 for row in rows)
        assert len({row.title for row in rows}) == len(rows), "two rows look the same"
        assert menu.header is not None and len(menu.header) <= 60
        assert office.service_name in menu.header
        assert menu.footer is not None and len(menu.footer) <= 60
        assert len(menu.button) <= 20
        assert office.service_name in menu.body and office.short_name in menu.body


def test_menu_speaks_the_language(registry: OfficeRegistry, jakpus: Office) -> None:
    assert build_menu(registry, jakpus, "id").sections[0].rows[0].title == "Syarat paspor"
    assert build_menu(registry, jakpus, "en").sections[0].rows[0].title == "Passport requirements"
    assert build_menu(registry, jakpus, "id").header == "SIGAP – Kanim Jakarta Pusat"


def test_menu_body_can_be_replaced(registry: OfficeRegistry, jakpus: Office) -> None:
    assert build_menu(registry, jakpus, "id", body="Maaf, kami belum memahami.").body == (
        "Maaf, kami belum memahami."
    )


def test_long_names_fall_back_to_the_service_name(jakpus: Office) -> None:
    office = jakpus.model_copy(update={"short_name": "K" * 70})
    assert menu_header(office) == "SIGAP"


@pytest.mark.parametrize("lang", LANGS)
def test_text_menu_numbers_the_rows_in_order(
    registry: OfficeRegistry, jakpus: Office, lang: Lang
) -> None:
    text = menu_text(registry, jakpus, lang)
    for position, (row_id, _intent) in enumerate(MENU_ROWS, start=1):
        assert f"\n{position}. *{row_title(registry, jakpus, row_id, lang)}* – " in text
    assert "1–10" in text
    assert len(text) <= 1024
