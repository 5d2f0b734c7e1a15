"""The words of the conversation — questions, thanks, yes and no, announcements — and the one
way a message is split into them.

The lists live in `dialogue_words.yaml` (data, not code); `tokens` is the understanding
pipeline's own split (`gerbang.understanding.normalize.clean`), so the dialogue, the offers'
yes/no, the handoff's release and the announcements read a message exactly as the
classifier does: folded to lowercase ASCII, punctuation and emoji dropped, a letter typed
three times or more cut to two, letters and digits apart.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from gerbang.understanding.normalize import clean

MAX_ANSWER_WORDS = 4
"""A yes or a no is a short message: "iya boleh kak", "gak usah deh"."""


def tokens(text: str) -> list[str]:
    """The words of a message (see the module's text)."""
    return clean(text)


def _all_strings(node: Any, where: str) -> None:
    """Every word a string: YAML reads a bare yes, no, on, off as true/false, which would
    silently drop the word from its list."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, bool):
                raise ValueError(f'{where}: key {key!r} is not a word; quote it ("{key}")')
            _all_strings(value, f"{where}: {key}")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, list):
                _all_strings(item, where)
            elif isinstance(item, bool) or not isinstance(item, str | int):
                raise ValueError(f'{where}: {item!r} is not a word; quote it ("{item}")')


@cache
def data() -> dict[str, Any]:
    """`dialogue_words.yaml`, read once and checked (a bare yes/no fails loudly)."""
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("gerbang").joinpath("dialogue_words.yaml").read_text(encoding="utf-8")
    )
    _all_strings(raw, "dialogue_words.yaml")
    return raw


@cache
def _answers() -> dict[str, frozenset[str]]:
    return {name: frozenset(str(w) for w in words) for name, words in data()["answers"].items()}


def is_yes(text: str) -> bool:
    """A short yes ("ya", "mau", "iya boleh", "ok kak"): accepts an offer."""
    words = tokens(text)
    answers = _answers()
    return (
        0 < len(words) <= MAX_ANSWER_WORDS
        and words[0] in answers["yes"]
        and answers["no"].isdisjoint(words)
    )


def is_no(text: str) -> bool:
    """A short no ("tidak", "gak usah"): declines an offer."""
    words = tokens(text)
    return 0 < len(words) <= MAX_ANSWER_WORDS and not _answers()["no"].isdisjoint(words)


def is_release(text: str) -> bool:
    """A bare "menu" or "batal" ("kembali ke menu", "batal aja"): the bot back, please."""
    words = set(tokens(text))
    answers = _answers()
    return (
        0 < len(words) <= 3
        and not answers["release"].isdisjoint(words)
        and words <= answers["release_ok"]
    )
