"""The office menu: a WhatsApp interactive list built from `gerbang.messages.MENU_ROWS`.

Row ids are exactly the ids of `MENU_ROWS`, so a list reply routes straight to its intent; a
numeric reply ("3") picks the row at that position, which is why `menu_text` numbers the
options in the same order for clients that cannot show lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from gerbang.messages import MENU_ROWS, ListContent, ListRow, ListSection
from gerbang.offices import Lang, Office

# WhatsApp interactive-list limits (reference: whatsapp-cloud-api.md, "Limits (list)").
HEADER_LIMIT = 60
FOOTER_LIMIT = 60
BUTTON_LIMIT = 20
SECTION_TITLE_LIMIT = 24
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROWS_LIMIT = 10

# (title ≤ 24, description ≤ 72) per menu row and language.
ROW_TEXTS: Mapping[str, Mapping[Lang, tuple[str, str]]] = {
    "faq:requirements": {
        "id": ("Syarat paspor", "Dokumen untuk paspor dewasa, anak, dan penggantian"),
        "en": ("Passport requirements", "Documents for adult, child and replacement passports"),
    },
    "faq:fees": {
        "id": ("Biaya paspor", "Tarif resmi paspor biasa, e-paspor, dan percepatan"),
        "en": ("Passport fees", "Official fees: ordinary, e-passport, same-day service"),
    },
    "faq:payment": {
        "id": ("Cara pembayaran", "Kode billing dan tempat membayar"),
        "en": ("How to pay", "Billing code and where to pay"),
    },
    "status": {
        "id": ("Status permohonan", "Cek tahap permohonan paspor Anda"),
        "en": ("Application status", "Check the stage of your passport application"),
    },
    "faq:pickup": {
        "id": ("Pengambilan paspor", "Kapan dan bagaimana mengambil paspor"),
        "en": ("Passport pickup", "When and how to collect your passport"),
    },
    "faq:lost_damaged": {
        "id": ("Paspor hilang/rusak", "Syarat dan biaya penggantian"),
        "en": ("Lost/damaged passport", "Requirements and charges for a replacement"),
    },
    "faq:registration": {
        "id": ("Pendaftaran M-Paspor", "Cara mendaftar permohonan paspor"),
        "en": ("Registering (M-Paspor)", "How to apply for a passport"),
    },
    "faq:hours_location": {
        "id": ("Jam & alamat kantor", "Jam layanan dan lokasi kantor"),
        "en": ("Hours & address", "Opening hours and location of the office"),
    },
    "faq:official_channels": {
        "id": ("Nomor resmi & penipuan", "Cek nomor WhatsApp, waspada calo dan penipuan"),
        "en": ("Official numbers, scams", "Check a WhatsApp number; brokers and scams"),
    },
    "feedback": {
        "id": ("Pujian, saran, keluhan", "Sampaikan apresiasi, saran, atau pengaduan"),
        "en": ("Feedback & complaints", "Send praise, suggestions or complaints"),
    },
}

_SECTION_TITLE: Mapping[Lang, str] = {"id": "Topik layanan", "en": "Topics"}
_BUTTON: Mapping[Lang, str] = {"id": "Pilih topik", "en": "Choose a topic"}
_FOOTER: Mapping[Lang, str] = {
    "id": "Info resmi; pendaftaran tidak lewat WhatsApp",
    "en": "Official info; no registration via WhatsApp",
}
_BODY: Mapping[Lang, str] = {
    "id": "Selamat datang di *{service_name}*, layanan informasi WhatsApp {short_name}. 🙏\n\n"
    "Silakan pilih topik dari daftar di bawah ini, atau tulis pertanyaan Anda.",
    "en": "Welcome to *{service_name}*, the WhatsApp information service of {short_name}. 🙏\n\n"
    "Please choose a topic from the list below, or write your question.",
}
_TEXT_PROMPT: Mapping[Lang, str] = {
    "id": "Balas dengan angka topik (1–{last}):",
    "en": "Reply with the number of a topic (1–{last}):",
}


def menu_header(office: Office) -> str:
    """`SIGAP – Kanim Jakarta Pusat`, or just the service name if that would be too long."""
    header = f"{office.service_name} – {office.short_name}"
    if len(header) > HEADER_LIMIT:
        header = office.service_name
    return header[:HEADER_LIMIT]


def default_menu_body(office: Office, lang: Lang) -> str:
    """A greeting naming the service and the office (used when no body is given)."""
    return _BODY[lang].format(service_name=office.service_name, short_name=office.short_name)


def build_menu(office: Office, lang: Lang, *, body: str | None = None) -> ListContent:
    """The office's menu as an interactive list, one row per `MENU_ROWS` entry, in `lang`.

    `body` replaces the default greeting (the composer passes the knowledge base's
    `greeting` or `fallback` text, which offices can override).
    """
    rows = [
        ListRow(id=row_id, title=ROW_TEXTS[row_id][lang][0], description=ROW_TEXTS[row_id][lang][1])
        for row_id, _intent in MENU_ROWS
    ]
    return ListContent(
        header=menu_header(office),
        body=body or default_menu_body(office, lang),
        footer=_FOOTER[lang],
        button=_BUTTON[lang],
        sections=[ListSection(title=_SECTION_TITLE[lang], rows=rows)],
    )


def menu_text(office: Office, lang: Lang, *, body: str | None = None) -> str:
    """The menu as plain text with numbered options, for clients that cannot show lists."""
    lines = [
        body or default_menu_body(office, lang),
        "",
        _TEXT_PROMPT[lang].format(last=len(MENU_ROWS)),
    ]
    for position, (row_id, _intent) in enumerate(MENU_ROWS, start=1):
        title, description = ROW_TEXTS[row_id][lang]
        lines.append(f"{position}. *{title}* – {description}")
    return "\n".join(lines)
