"""The office menu: a WhatsApp interactive list built from `gerbang.messages.MENU_ROWS`.

Row ids are exactly the ids of `MENU_ROWS`, so a list reply routes straight to its intent; a
numeric reply ("3") picks the row at that position, which is why `menu_text` numbers the
options in the same order for clients that cannot show lists.
"""

from __future__ import annotations

# The module, not its names: gerbang.texts imports gerbang.faq.content, whose package imports
# this module (the function is looked up when called, after both have loaded).
from gerbang import texts as catalogue
from gerbang.messages import MENU_ROWS, ListContent, ListRow, ListSection
from gerbang.offices import Lang, Office, OfficeRegistry

# WhatsApp interactive-list limits (reference: whatsapp-cloud-api.md, "Limits (list)").
HEADER_LIMIT = 60
FOOTER_LIMIT = 60
BUTTON_LIMIT = 20
SECTION_TITLE_LIMIT = 24
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROWS_LIMIT = 10


def _row_key(row_id: str) -> str:
    return row_id.removeprefix("faq:")


# The menu's texts are catalogue texts (`offices/_national/texts.yaml`): `menu.*`, and per row
# `menu_row.<row>` (title ≤ 24) and `menu_about.<row>` (description ≤ 72).
MENU_TEXT_IDS: tuple[str, ...] = tuple(
    f"{family}.{_row_key(row_id)}"
    for family in ("menu_row", "menu_about")
    for row_id, _ in MENU_ROWS
)


def row_title(registry: OfficeRegistry, office: Office, row_id: str, lang: Lang) -> str:
    """The title of a menu row (`faq:fees` → "Biaya paspor"), also the clarify buttons'."""
    return catalogue.render_text(registry, office, f"menu_row.{_row_key(row_id)}", lang)


def row_description(registry: OfficeRegistry, office: Office, row_id: str, lang: Lang) -> str:
    """The description under a menu row's title."""
    return catalogue.render_text(registry, office, f"menu_about.{_row_key(row_id)}", lang)


def menu_header(office: Office) -> str:
    """`SIGAP – Kanim Jakarta Pusat`, or just the service name if that would be too long."""
    header = f"{office.service_name} – {office.short_name}"
    if len(header) > HEADER_LIMIT:
        header = office.service_name
    return header[:HEADER_LIMIT]


def default_menu_body(registry: OfficeRegistry, office: Office, lang: Lang) -> str:
    """A greeting naming the service and the office (used when no body is given)."""
    return catalogue.render_text(registry, office, "menu.welcome", lang)


def build_menu(
    registry: OfficeRegistry, office: Office, lang: Lang, *, body: str | None = None
) -> ListContent:
    """The office's menu as an interactive list, one row per `MENU_ROWS` entry, in `lang`.

    `body` replaces the default greeting (the composer passes the knowledge base's
    `greeting` or `fallback` text, which offices can override).
    """
    rows = [
        ListRow(
            id=row_id,
            title=row_title(registry, office, row_id, lang),
            description=row_description(registry, office, row_id, lang),
        )
        for row_id, _intent in MENU_ROWS
    ]
    section = catalogue.render_text(registry, office, "menu.section", lang)
    return ListContent(
        header=menu_header(office),
        body=body or default_menu_body(registry, office, lang),
        footer=catalogue.render_text(registry, office, "menu.footer", lang),
        button=catalogue.render_text(registry, office, "menu.button", lang),
        sections=[ListSection(title=section, rows=rows)],
    )


def menu_text(
    registry: OfficeRegistry, office: Office, lang: Lang, *, body: str | None = None
) -> str:
    """The menu as plain text with numbered options, for clients that cannot show lists."""
    lines = [
        body or default_menu_body(registry, office, lang),
        "",
        catalogue.render_text(registry, office, "menu.numbered", lang, last=str(len(MENU_ROWS))),
    ]
    for position, (row_id, _intent) in enumerate(MENU_ROWS, start=1):
        title = row_title(registry, office, row_id, lang)
        description = row_description(registry, office, row_id, lang)
        lines.append(f"{position}. *{title}* – {description}")
    return "\n".join(lines)
