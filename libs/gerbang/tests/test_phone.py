"""Phone numbers: normalising every way people type them, and masking them in logs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gerbang.phone import display, mask, mask_numbers_in_text, normalize_msisdn


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("081230030440", "6281230030440"),
        ("0812-3003-0440", "6281230030440"),
        ("+62 812 3003 0440", "6281230030440"),
        ("62812.3003.0440", "6281230030440"),
        ("0062 812 3003 0440", "6281230030440"),
        ("812 3003 0440", "6281230030440"),
        ("(0811) 8539 333", "628118539333"),
        ("12345", None),
        ("halo", None),
    ],
)
def test_normalize(raw: str, digits: str | None) -> None:
    assert normalize_msisdn(raw) == digits


def test_mask_keeps_country_code_and_last_digits() -> None:
    assert mask("6281230030440") == "62********440"
    assert mask("") == ""


def test_numbers_in_free_text_are_masked() -> None:
    text = "tolong hubungi 0812-9999-8888 atau +62 811 8539 333 ya, antrian no 12"
    masked = mask_numbers_in_text(text)
    assert "9999" not in masked and "8539" not in masked
    assert "antrian no 12" in masked


def test_display_is_how_indonesians_write_it() -> None:
    assert display("628118539333") == "+62 811-8539-333"


@given(st.text())
def test_masking_never_raises_and_leaves_no_long_digit_runs(text: str) -> None:
    masked = mask_numbers_in_text(text)
    assert isinstance(masked, str)
    assert normalize_msisdn(masked) is None or len(masked) < 8 or not masked.isdigit()
