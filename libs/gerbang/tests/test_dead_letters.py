"""`DeadLetter.of_record`: a letter stays small whatever the record, and says what it lacks."""

from __future__ import annotations

import hashlib

import pytest

from gerbang.bus import encode
from gerbang.messages import DEAD_LETTER_EXCERPT_BYTES, DeadLetter


def letter(value: bytes | None, key: bytes | None = b"jakpus:62811") -> DeadLetter:
    return DeadLetter.of_record(
        source_topic="whatsapp.inbound", partition=2, offset=7, key=key, value=value,
        error_type="ValidationError", error="x" * 5000, service="router",
    )  # fmt: skip


def test_a_small_utf8_record_is_kept_whole_and_can_be_redriven() -> None:
    raw = '{"text": "paspor hilang, gmn? ✓"}'.encode()
    made = letter(raw)
    assert (made.value, made.value_complete, made.value_bytes) == (raw.decode(), True, len(raw))
    assert made.value_sha256 == hashlib.sha256(raw).hexdigest()
    assert len(made.error) == 2000


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff\xfe" * 300_000, "invalid UTF-8, large"),
        (b"\xc3", "invalid UTF-8, small (a cut character)"),
        (b"a" * (DEAD_LETTER_EXCERPT_BYTES + 1), "valid but over the excerpt"),
        ("é".encode() * 400_000, "multi-byte text, large"),
    ],
)
def test_anything_else_is_an_excerpt_with_length_and_hash(raw: bytes, why: str) -> None:
    made = letter(raw)
    assert made.value_complete is False, why
    assert made.value_bytes == len(raw)
    assert made.value_sha256 == hashlib.sha256(raw).hexdigest()
    assert len(made.value) <= DEAD_LETTER_EXCERPT_BYTES
    # The encoded letter is bounded (U+FFFD is 3 bytes in UTF-8), far below Kafka's 1 MiB.
    assert len(encode(made)) < 4 * DEAD_LETTER_EXCERPT_BYTES + 3000


def test_empty_and_huge_keys() -> None:
    assert letter(None, key=None).value == "" and letter(None).value_bytes == 0
    assert len(letter(b"{}", key=b"k" * 100_000).key or "") == 512
