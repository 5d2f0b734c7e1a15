"""Classification of feedback text: kind, urgency, flags (pure, table-driven)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gerbang.messages import FeedbackKind
from gerbang_feedback.classify import (
    CALO,
    CONTACT_REQUESTED,
    EXTORTION,
    IMPERSONATION,
    PUNGLI,
    classify,
    is_cancel,
    normalize,
)

A, C, S = FeedbackKind.APPRECIATION, FeedbackKind.COMPLAINT, FeedbackKind.SUGGESTION

URGENT_CASES = [
    # (text, expected flag)
    ("Petugas loket 3 minta uang 200rb biar paspor cepat jadi", PUNGLI),
    ("ada pungli di kanim jakpus, tolong ditindak", PUNGLI),
    ("sy dimintai uang pelicin sm bapak2 di depan", PUNGLI),
    ("kok ada biaya tambahan di luar PNBP ya pak?", PUNGLI),
    ("disuruh bayar di luar kode billing 500 ribu", PUNGLI),
    ("petugasnya mnta duit 100 rb", PUNGLI),
    ("Ada pungutan liar saat pengambilan paspor", PUNGLI),
    ("The officer asked me for extra money to speed it up", PUNGLI),
    ("I was asked for a bribe at the counter", PUNGLI),
    ("saya diperas oknum di parkiran kantor imigrasi", EXTORTION),
    ("ini pemerasan namanya, diancam paspor tidak jadi kalau tidak bayar", EXTORTION),
    ("they tried to extort me", EXTORTION),
    ("ada org ngaku petugas imigrasi nelpon minta transfer", IMPERSONATION),
    ("oknum mengaku dari imigrasi minta data paspor saya", IMPERSONATION),
    ("Ada yg ngakunya pegawai imigrasi di WA, nawarin bantu antrian", IMPERSONATION),
    ("awas petugas gadungan di depan kantor", IMPERSONATION),
    ("someone on WhatsApp claimed to be from immigration", IMPERSONATION),
    ("a man posing as an immigration officer asked for my passport", IMPERSONATION),
    ("ada calo di depan kantor nawarin jalur cepat", CALO),
    ("banyak caloo di parkiran", CALO),
    ("katanya bisa lewat orang dalam asal bayar", CALO),
    ("there are brokers outside offering fast passports", CALO),
]


@pytest.mark.parametrize(("text", "flag"), URGENT_CASES)
def test_reports_of_abuse_are_urgent_complaints(text: str, flag: str) -> None:
    result = classify(text)
    assert result.kind is C
    assert result.urgent is True
    assert flag in result.flags
    assert result.vague is False


@pytest.mark.parametrize("chosen", [A, S, C])
def test_an_urgent_report_is_a_complaint_whatever_the_citizen_chose(chosen: FeedbackKind) -> None:
    result = classify("petugasnya minta uang rokok", chosen=chosen)
    assert (result.kind, result.urgent, result.flags) == (C, True, (PUNGLI,))


PRAISE_WITHOUT_ABUSE = [
    "pelayanan bersih, bebas pungli, terima kasih",
    "mantap, prosesnya cepat tanpa calo",
    "Petugasnya jujur, tidak minta uang sama sekali. Salut!",
    "great service, no bribes, very fast",
    "banyak orang dalam ruang tunggu tapi petugasnya ramah",
]


@pytest.mark.parametrize("text", PRAISE_WITHOUT_ABUSE)
def test_praise_that_mentions_the_absence_of_abuse_is_not_urgent(text: str) -> None:
    result = classify(text)
    assert result.urgent is False
    assert result.kind is A


KIND_CASES = [
    ("Mantappp bgt pelayanannya, makasih!", A),
    ("Terima kasih petugas loket 2 sangat ramah dan membantu", A),
    ("pelayanan sangat cepat, salut buat kanim jakpus", A),
    ("Thank you, the staff were friendly and helpful", A),
    ("antrian lama banget, petugas jutek", C),
    ("kecewa, sudah 3 minggu paspor belum jadi", C),
    ("pelayanan kurang ramah dan tidak jelas informasinya", C),
    ("petugas ga ramah", C),
    ("The service was slow and the officer was rude", C),
    ("Sebaiknya ruang tunggu ditambah kursi dan AC", S),
    ("saran sy mohon loket pengambilan diperbanyak", S),
    ("kalau bisa jam layanan sabtu dibuka", S),
    ("It would be better to add more chairs; please add a queue screen", S),
]


@pytest.mark.parametrize(("text", "kind"), KIND_CASES)
def test_kind_from_text(text: str, kind: FeedbackKind) -> None:
    result = classify(text)
    assert result.kind is kind
    assert result.urgent is False
    assert result.confident is True


def test_the_citizens_choice_wins_over_the_text() -> None:
    assert classify("sebaiknya petugas lebih ramah", chosen=C).kind is C


def test_the_routers_hint_decides_only_when_the_text_is_unclear() -> None:
    assert classify("ruang tunggu di lantai 2", hint=A).kind is A
    assert classify("antrian lama banget", hint=A).kind is C


@pytest.mark.parametrize(
    "text",
    [
        "mau kasih masukan",
        "saya mau komplain",
        "min mau kasih saran dong",
        "I want to give feedback",
        "Halo, saya ingin menyampaikan keluhan",
        "boleh kritik?",
    ],
)
def test_announcing_feedback_without_content_is_vague(text: str) -> None:
    assert classify(text).vague is True


@pytest.mark.parametrize(
    "text", ["mau komplain antrian lama banget", "saran: tambah kursi di ruang tunggu"]
)
def test_feedback_with_content_is_not_vague(text: str) -> None:
    assert classify(text).vague is False


@pytest.mark.parametrize(
    "text",
    [
        "Tolong hubungi saya, berkas saya tidak jelas statusnya",
        "mohon dihubungi kembali",
        "please call me back about this",
    ],
)
def test_a_request_to_be_contacted_is_flagged(text: str) -> None:
    result = classify(text)
    assert CONTACT_REQUESTED in result.flags
    assert result.kind is C


def test_normalize_handles_slang_floods_and_accents() -> None:
    assert normalize("Mantappp bgt, pelayanannya!!") == "mantap banget pelayanan"
    assert normalize("Ngaku PTGS imigrsi, mnta duit") == "mengaku petugas imigrasi minta uang"
    assert normalize("café ") == "cafe"


@pytest.mark.parametrize("text", ["batal", "BATAL", "gak jadi", "cancel"])
def test_cancel_words(text: str) -> None:
    assert is_cancel(text)


def test_a_message_is_not_a_cancel() -> None:
    assert not is_cancel("batal bayar karena diminta uang")


@given(st.text(max_size=300))
def test_classify_never_fails_and_is_consistent(text: str) -> None:
    result = classify(text)
    assert isinstance(result.kind, FeedbackKind)
    assert result.urgent == any(f in (PUNGLI, EXTORTION, IMPERSONATION, CALO) for f in result.flags)
    if result.urgent:
        assert result.kind is C and not result.vague
