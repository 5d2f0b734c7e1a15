"""build_payload: the exact Cloud API JSON for every reply content type (reference §1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from gerbang.messages import (
    Button,
    ButtonsContent,
    ListContent,
    ListRow,
    ListSection,
    ReplyContent,
    TemplateContent,
    TextContent,
)
from gerbang_devtools.fake_graph import validate_message
from gerbang_gateway.graph import build_payload, recipient

WA_ID = "6281234567890"
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+6281234567890"}

CASES: list[tuple[str, ReplyContent, dict[str, Any]]] = [
    (
        "text",
        TextContent(body="Terima kasih, pesan Anda kami terima."),
        {
            "type": "text",
            "text": {"preview_url": False, "body": "Terima kasih, pesan Anda kami terima."},
        },
    ),
    (
        "text with preview",
        TextContent(body="Info: https://imigrasi.go.id", preview_url=True),
        {"type": "text", "text": {"preview_url": True, "body": "Info: https://imigrasi.go.id"}},
    ),
    (
        "list with header, footer, descriptions",
        ListContent(
            header="Layanan Paspor",
            body="Silakan pilih topik:",
            footer="Info resmi: imigrasi.go.id",
            button="Pilih topik",
            sections=[
                ListSection(
                    title="Permohonan",
                    rows=[
                        ListRow(
                            id="req_new", title="Syarat paspor baru", description="Dewasa & anak"
                        ),
                        ListRow(id="fee", title="Biaya paspor"),
                    ],
                ),
                ListSection(
                    title="Lainnya", rows=[ListRow(id="lost", title="Paspor hilang/rusak")]
                ),
            ],
        ),
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "header": {"type": "text", "text": "Layanan Paspor"},
                "body": {"text": "Silakan pilih topik:"},
                "footer": {"text": "Info resmi: imigrasi.go.id"},
                "action": {
                    "button": "Pilih topik",
                    "sections": [
                        {
                            "title": "Permohonan",
                            "rows": [
                                {
                                    "id": "req_new",
                                    "title": "Syarat paspor baru",
                                    "description": "Dewasa & anak",
                                },
                                {"id": "fee", "title": "Biaya paspor"},
                            ],
                        },
                        {
                            "title": "Lainnya",
                            "rows": [{"id": "lost", "title": "Paspor hilang/rusak"}],
                        },
                    ],
                },
            },
        },
    ),
    (
        "list without header or footer",
        ListContent(
            body="Menu",
            button="Menu",
            sections=[ListSection(title="Topik", rows=[ListRow(id="status", title="Cek status")])],
        ),
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Menu"},
                "action": {
                    "button": "Menu",
                    "sections": [
                        {"title": "Topik", "rows": [{"id": "status", "title": "Cek status"}]}
                    ],
                },
            },
        },
    ),
    (
        "three reply buttons",
        ButtonsContent(
            body="Apakah informasi ini membantu?",
            buttons=[
                Button(id="yes", title="Ya"),
                Button(id="no", title="Tidak"),
                Button(id="agent", title="Hubungi petugas"),
            ],
        ),
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Apakah informasi ini membantu?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "yes", "title": "Ya"}},
                        {"type": "reply", "reply": {"id": "no", "title": "Tidak"}},
                        {"type": "reply", "reply": {"id": "agent", "title": "Hubungi petugas"}},
                    ]
                },
            },
        },
    ),
    (
        "one button with header and footer",
        ButtonsContent(
            header="Masukan",
            body="Jenis masukan?",
            footer="SIGAP",
            buttons=[Button(id="feedback:complaint", title="Pengaduan")],
        ),
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": {"type": "text", "text": "Masukan"},
                "body": {"text": "Jenis masukan?"},
                "footer": {"text": "SIGAP"},
                "action": {
                    "buttons": [
                        {
                            "type": "reply",
                            "reply": {"id": "feedback:complaint", "title": "Pengaduan"},
                        }
                    ]
                },
            },
        },
    ),
    (
        "template with body parameters",
        TemplateContent(
            name="status_update", language="id", body_parameters=["A123456", "siap diambil"]
        ),
        {
            "type": "template",
            "template": {
                "name": "status_update",
                "language": {"code": "id"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "A123456"},
                            {"type": "text", "text": "siap diambil"},
                        ],
                    }
                ],
            },
        },
    ),
    (
        "template without parameters has no components",
        TemplateContent(name="halo_kembali", language="en"),
        {"type": "template", "template": {"name": "halo_kembali", "language": {"code": "en"}}},
    ),
]


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_build_payload_is_the_cloud_api_body(
    content: ReplyContent, expected: dict[str, Any]
) -> None:
    assert build_payload(WA_ID, content) == ENVELOPE | expected


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_built_payloads_pass_the_fakes_meta_validation(
    content: ReplyContent, expected: dict[str, Any]
) -> None:
    validate_message(build_payload(WA_ID, content))  # raises InvalidPayload if Meta would refuse


def test_largest_allowed_contents_are_still_valid() -> None:
    rows = [ListRow(id=f"{n}" + "r" * 199, title="t" * 24, description="d" * 72) for n in range(10)]
    sections = [
        ListSection(title="s" * 24, rows=rows[:5]),
        ListSection(title="u" * 24, rows=rows[5:]),
    ]
    biggest_list = ListContent(
        header="h" * 60, body="b" * 4096, footer="f" * 60, button="x" * 20, sections=sections
    )
    validate_message(build_payload(WA_ID, biggest_list))
    validate_message(build_payload(WA_ID, TextContent(body="a" * 4096)))


@pytest.mark.parametrize(
    ("wa_id", "to"),
    [
        ("6281234567890", "+6281234567890"),
        ("+6281234567890", "+6281234567890"),
        ("62 812-3456-7890", "+6281234567890"),
        ("447700900123", "+447700900123"),
    ],
)
def test_to_always_has_a_leading_plus(wa_id: str, to: str) -> None:
    # Without "+", Meta prepends the business number's country code (reference §1.5).
    assert recipient(wa_id) == to
    assert build_payload(wa_id, TextContent(body="x"))["to"] == to


def test_wa_id_without_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="no digits"):
        recipient("+")
