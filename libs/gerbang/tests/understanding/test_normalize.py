"""Normalisation of informal Indonesian/English: table-driven cases and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbang.understanding.normalize import (
    ADDRESS_WORDS,
    SLANG,
    analyze,
    canonical,
    clean,
    detect_language,
    normalize,
    stem,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("brp biaya paspor skrg", "berapa biaya paspor sekarang"),
        ("pspor sy ilang gmn", "paspor saya hilang bagaimana"),
        ("min syarat bikin paspor apa aja", "syarat bikin paspor apa saja"),
        ("udh bayar kok blm ada jadwal", "sudah bayar kok belum ada jadwal"),
        ("kak mau tny", "mau tanya"),
        ("Paspor GAK bisa?!", "paspor tidak bisa"),
        ("biyaya pasport", "biaya paspor"),
        ("paspot hilang", "paspor hilang"),
        ("Halooooo kakkk 🙏🙏", "halo"),
        ("bangettttt", "banget"),
        ("yg dgn utk krn tgl jd", "yang dengan untuk karena tanggal jadi"),
        ("bs gk sih gan", "bisa tidak sih"),
        ("ngambil paspor bisa diwakilin ga", "ambil paspor bisa wakil tidak"),
        ("how much is e-passport?", "how much is epaspor"),
        ("di mana alamat kantor", "dimana alamat kantor"),
        ("daftar lewat M-Paspor", "daftar lewat mpaspor"),
        ("2jt", "2 juta"),
        ("Café ÉLÉGANT", "cafe elegant"),
        ("makasih", "terima kasih"),
        ("", ""),
        ("!!! ??? 😀", ""),
    ],
)
def test_normalize_table(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("word", "root"),
    [
        ("persyaratannya", "syarat"),
        ("pembayaran", "bayar"),
        ("pengambilan", "ambil"),
        ("perpanjangan", "panjang"),
        ("kehilangan", "hilang"),
        ("documents", "document"),
        ("requirements", "requirement"),
        ("renewing", "renew"),
        ("paspor", "paspor"),
        ("2024", "2024"),
    ],
)
def test_stem(word: str, root: str) -> None:
    assert stem(word) == root


@pytest.mark.parametrize(
    "common", ["dari", "hari", "bayi", "pagi", "kasih", "bogor", "batam", "jakarta", "anak"]
)
def test_common_words_are_not_repaired_into_domain_words(common: str) -> None:
    assert canonical(common) == (common,)


def test_slang_values_are_fixed_points() -> None:
    """Every canonical form maps to itself, which keeps `normalize` idempotent."""
    for value in SLANG.values():
        for word in value.split():
            assert canonical(word) == (word,), word
    assert not ADDRESS_WORDS & {w for value in SLANG.values() for w in value.split()}


@pytest.mark.parametrize(
    ("text", "greeted", "rest"),
    [
        ("Assalamualaikum wr wb min, syarat paspor apa", True, "syarat paspor apa"),
        ("selamat pagi kak", True, ""),
        ("syarat paspor apa ya, terima kasih", False, "syarat paspor apa ya"),
        ("terima kasih", False, "terima kasih"),
        ("pagi ini buka?", True, "ini buka"),
    ],
)
def test_greetings_stripped(text: str, greeted: bool, rest: str) -> None:
    analysis = analyze(text)
    assert analysis.greeted is greeted
    assert analysis.text == rest


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("how much is the passport fee", "en"),
        ("paspor renewal brp lama", "id"),
        ("Assalamualaikum min, how do I renew my passport", "en"),
        ("syarat paspor anak", "id"),
        ("halo", "id"),
        ("", "id"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(clean(text)) == language


_CANONICAL = re.compile(r"^(?:[a-z0-9]+(?: [a-z0-9]+)*)?$")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_normalize_properties(text: str) -> None:
    once = normalize(text)
    assert _CANONICAL.match(once), once
    assert once == once.lower()
    assert normalize(once) == once


_WORDS = st.sampled_from(
    "paspor pspor brp gmn udh syaratnya biyaya kak min halooo ilang rusak ngambil bayarin "
    "kantor jam buka e-paspor m-paspor passport documents renewing 0812 2jt !! 🙏".split()
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=12).map(" ".join))
def test_normalize_idempotent_on_chat_like_text(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize(
    ("text", "words"),
    [("Senin–Jumat", ["senin", "jumat"]), ("makasih🙏mantap", ["makasih", "mantap"]),
     ("paspor—hilang", ["paspor", "hilang"]), ("café", ["cafe"]), ("“halo”", ["halo"]),
     ("１２３ rb", ["123", "rb"])],
)  # fmt: skip
def test_dashes_and_emoji_between_words_keep_them_apart(text: str, words: list[str]) -> None:
    """Folding to ASCII drops accents, but a character with no ASCII form (a dash, an emoji,
    another script) is a space, not nothing: the words on either side stay two words."""
    assert clean(text) == words
