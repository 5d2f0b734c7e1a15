"""Signals and details read by rules, on messy input (no classifier involved)."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang.messages import Intent
from gerbang.understanding import details
from gerbang.understanding.normalize import analyze
from gerbang.understanding.signals import (
    amounts,
    application_numbers,
    find_dates,
    is_cancel,
    is_urgent,
    scam_signals,
)

TODAY = dt.date(2026, 12, 3)


def _canonical(text: str) -> str:
    return analyze(text).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no permohonan 2J0JP1234567", ("2J0JP1234567",)),
        ("ini nomor berkas sy: 3f4g-5h67-8901 mohon dicek", ("3F4G5H678901",)),
        ("1234 5678 9012 lahir 12-05-1990", ("123456789012",)),
        ("tgl lahir 12-05-1990", ()),
        ("hubungi 081234567890", ()),
        ("paspor saya hilang", ()),
    ],
)
def test_application_numbers(text: str, expected: tuple[str, ...]) -> None:
    assert application_numbers(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lahir 12 mei 1990", (dt.date(1990, 5, 12),)),
        ("wawancara tgl 3/4/2027 jam 10", (dt.date(2027, 4, 3),)),
        ("May 12, 1990", (dt.date(1990, 5, 12),)),
        ("31-02-1990", ()),
        ("antri 3 jam", ()),
    ],
)
def test_dates_any_time(text: str, expected: tuple[dt.date, ...]) -> None:
    found = tuple(f.date for f in find_dates(text, TODAY, past_only=False) if f.date)
    assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udah transfer Rp 350.000 ke dia", (350_000,)),
        ("diminta 650rb trus 1,5jt", (650_000, 1_500_000)),
        ("calo minta 2 juta", (2_000_000,)),
        ("rp350k", (350_000,)),
        ("anak umur 5 tahun, antri 3 jam", ()),
        ("paspor 10 tahun", ()),
    ],
)
def test_amounts(text: str, expected: tuple[int, ...]) -> None:
    assert amounts(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("batal", True),
        ("gak jadi deh", True),
        ("Cancel", True),
        ("ga jd komplain", True),
        ("paspor saya batal terbit?", False),
        ("jadi berapa hari", False),
    ],
)
def test_cancel(text: str, expected: bool) -> None:
    assert is_cancel(_canonical(text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("saya diperas petugas", True),
        ("DARURAT paspor ditahan majikan", True),
        ("besok berangkat, paspor blm jadi", False),
        ("berangkat besok pagi tolong", True),
        ("ada pungli di loket", True),
        ("biaya paspor berapa", False),
    ],
)
def test_urgent(text: str, expected: bool) -> None:
    assert is_urgent(_canonical(text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ada calooo nawarin", ("calo",)),
        ("bs lwt jalur belakang ga", ("jalur_cepat",)),
        ("kenal ordal imigrasi", ("orang_dalam",)),
        ("transfer ke rek pribadi", ("personal_account",)),
        ("daftar paspor lewat wa bisa", ("whatsapp_registration",)),
        ("biaya paspor", ()),
    ],
)
def test_scam_signals(text: str, expected: tuple[str, ...]) -> None:
    assert scam_signals(_canonical(text)) == expected


def _details(text: str, intent: Intent = Intent.FALLBACK) -> dict[str, object]:
    return details.read(analyze(text), intent)


@pytest.mark.parametrize(
    ("text", "kind", "years", "age"),
    [
        ("biaya e-paspor 10 thn", "e_paspor", 10, None),
        ("kalo yg 10 taun?", None, 10, None),
        ("epaspor 5th brp", "e_paspor", 5, None),
        ("paspor biasa yg 5 tahun", "biasa", 5, None),
        ("anak umur 5 tahun bikin paspor", None, None, "minor"),
        ("anak sy 10 thn, paspor 5 tahun", None, 5, "minor"),
        ("kalau buat anak?", None, None, "minor"),
        ("what about kids", None, None, "minor"),
        ("ibu saya lansia", None, None, "elderly"),
        ("usia 70 tahun", None, None, "elderly"),
        ("ibu sy umurnya 67", None, None, "elderly"),
        ("umur ibu saya 67 tahun", None, None, "elderly"),
        ("bapak saya sudah 72 thn", None, None, "elderly"),
        ("my mother is 70 years old", None, None, "elderly"),
        ("adik saya umurnya 15", None, None, "minor"),
        ("e-paspor 10 tahun buat umur 30", "e_paspor", 10, "adult"),
        ("electronic passport for adults", "e_paspor", None, "adult"),
    ],
)
def test_passport_details(text: str, kind: str | None, years: int | None, age: str | None) -> None:
    found = _details(text)
    assert (found["passport_kind"], found["validity_years"], found["age_group"]) == (
        kind,
        years,
        age,
    )


@pytest.mark.parametrize(
    ("text", "intent", "subtopic"),
    [
        ("syarat paspor bayi", Intent.FAQ_REQUIREMENTS, "minor"),
        ("nama di kk sama ijazah beda", Intent.FAQ_REQUIREMENTS, "name_mismatch"),
        ("paspor udh mati mau bikin lg", Intent.FAQ_REQUIREMENTS, "renewal"),
        ("mau jd tkw ke taiwan", Intent.FAQ_REQUIREMENTS, "work_abroad"),
        ("paspor umroh", Intent.FAQ_REQUIREMENTS, "umrah"),
        ("pspor ilang", Intent.FAQ_LOST_DAMAGED, "lost"),
        ("paspor kecuci", Intent.FAQ_LOST_DAMAGED, "damaged"),
        ("hilang atau rusak", Intent.FAQ_LOST_DAMAGED, None),
        ("paspor anak", Intent.FAQ_FEES, None),
        ("udh bayar tp status di aplikasi blm berubah", Intent.FAQ_PAYMENT, "unconfirmed"),
        ("i already paid but it still says waiting for payment", Intent.FAQ_PAYMENT,
         "unconfirmed"),
        ("pembayaran saya belum terverifikasi", Intent.FAQ_PAYMENT, "unconfirmed"),
        ("belum bayar, bayarnya dimana", Intent.FAQ_PAYMENT, None),
        ("cara bayar paspor gmn", Intent.FAQ_PAYMENT, None),
        ("i have not paid yet, where do i pay", Intent.FAQ_PAYMENT, None),
    ],
)  # fmt: skip
def test_subtopics(text: str, intent: Intent, subtopic: str | None) -> None:
    assert _details(text, intent)["subtopic"] == subtopic


@pytest.mark.parametrize(
    ("text", "followup"),
    [
        ("kalo yg 10 taun?", True),
        ("kalau buat anak?", True),
        ("what about kids", True),
        ("yg e-paspor?", True),
        ("trus kalau lansia gimana", True),
        ("biaya paspor anak", False),
        ("syarat paspor 10 tahun", False),
        ("kalo diwakilin keluarga bisa ga", False),
        ("halo", False),
        ("saya mau tanya panjang lebar soal anak saya yang mau sekolah ke luar negeri", False),
    ],
)
def test_followups(text: str, followup: bool) -> None:
    assert _details(text)["followup"] is followup
