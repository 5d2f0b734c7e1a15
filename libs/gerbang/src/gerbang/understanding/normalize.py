"""Normalising what citizens type: informal Indonesian (and English) to canonical tokens.

Citizens write "brp biaya pspor skrg min??" or "Assalamualaikum kak, paspor sy ilang gmn".
This module turns such text into canonical tokens ("berapa biaya paspor sekarang",
"paspor saya hilang bagaimana") in a few cached, pure steps:

1. `clean`: fold to lowercase ASCII, drop punctuation and emoji, collapse letters typed 3+
   times to two, split letters from digits ("2jt" → "2 jt").
2. `canonical`: per token, the slang/abbreviation lexicon (`SLANG`), address words dropped
   ("min", "kak", "gan"), informal verb forms ("ngambil" → "ambil", "nawarin" → "tawar"),
   and typo repair against the domain vocabulary with rapidfuzz (`pspor` → `paspor`), with an
   edit budget that grows with the word's length.
3. `stem`: Indonesian stemming (Sastrawi, dictionary-based) for matching
   ("persyaratannya" → "syarat"), plus light English suffix stripping.

Every per-token step is memoised (`functools.lru_cache`): the vocabulary of a chat service
is small and repetitive, so after warm-up a message costs a handful of dict lookups.
`normalize(normalize(x)) == normalize(x)` holds: every output token is a fixed point.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA
from Sastrawi.Stemmer.Stemmer import Stemmer
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from gerbang.offices import Lang

# --- the lexicon (data/normalize.yaml) -----------------------------------------------------

_WORDS_FILE = Path(__file__).resolve().parent / "data" / "normalize.yaml"
with _WORDS_FILE.open(encoding="utf-8") as _handle:
    _WORDS: dict[str, Any] = yaml.safe_load(_handle)

# Words that only address the reader ("min", "kak"): they carry no meaning for the intent.
ADDRESS_WORDS = frozenset(_WORDS["address_words"].split())

# Informal spelling and abbreviations → the canonical word(s). Values are fixed points: they
# are never keys mapping elsewhere (a test checks this, so `normalize` stays idempotent).
SLANG: dict[str, str] = {
    variant: str(canonical)
    for canonical, variants in _WORDS["slang"].items()
    for variant in str(variants).split()
}

# Two-token spellings that mean one word: "di mana" → "dimana", "m paspor" → "mpaspor".
JOINS: dict[tuple[str, str], str] = {(a, b): joined for a, b, joined in _WORDS["joins"]}

# Words of the domain that typos are repaired towards (Indonesian and English surface forms).
DOMAIN_VOCAB = frozenset(_WORDS["domain_vocab"].split())

# Common words that must never be "repaired" into a domain word (dari ≠ hari, bayi ≠ bayar).
_COMMON_ID = frozenset(_WORDS["common_id"].split())
_COMMON_EN = frozenset(_WORDS["common_en"].split())

# Indonesian places people name (offices, cities): protected from typo repair.
PLACES = frozenset(_WORDS["places"].split())

_ENGLISH_SUFFIXES = ("ing", "ed", "es", "s")

_SASTRAWI: Stemmer = StemmerFactory().create_stemmer().delegatedStemmer
_ROOTS: frozenset[str] = frozenset(word for word in _SASTRAWI.dictionary.words if word)

_KNOWN = frozenset(
    set(DOMAIN_VOCAB)
    | _COMMON_ID
    | _COMMON_EN
    | PLACES
    | {word for value in SLANG.values() for word in value.split()}
)

# --- cleaning ------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_DOUBLE = re.compile(r"([a-z])\1")


_MARKS = re.compile(r"[\u0300-\u036f]")
"""Combining accents, left after NFKD: removed ("café" → "cafe")."""
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def fold(text: str) -> str:
    """Lowercase ASCII: accents removed (café → cafe); other scripts, dashes and emoji become
    a space, so that "Senin–Jumat" or "makasih🙏mantap" stay two words."""
    decomposed = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return _NOT_ASCII.sub(" ", decomposed).lower()


def clean(text: str) -> list[str]:
    """Raw tokens: folded, punctuation/emoji removed, 3+ repeated letters collapsed to two."""
    folded = _REPEATS.sub(r"\1\1", fold(text))
    spaced = _LETTER_DIGIT.sub(" ", _NON_ALNUM.sub(" ", folded))
    return spaced.split()


# --- per-token canonicalisation ------------------------------------------------------------


@lru_cache(maxsize=65_536)
def stem(token: str) -> str:
    """Root of a word: Sastrawi for Indonesian ("pembayarannya" → "bayar"), light English
    suffix stripping for known English words ("documents" → "document")."""
    if token.isdigit() or len(token) < 4:
        return token
    if not _contains_root(token):
        for suffix in _ENGLISH_SUFFIXES:
            base = token[: -len(suffix)]
            if token.endswith(suffix) and len(base) >= 3 and base in _COMMON_EN:
                return base
            if suffix in ("ing", "ed") and token.endswith(suffix) and base + "e" in _COMMON_EN:
                return base + "e"  # "renewing" → "renew", "located" → "locate"
        if token in _COMMON_EN:
            return token
    rooted: str = _SASTRAWI.stem(token)
    return rooted or token


def _contains_root(word: str) -> bool:
    return word in _ROOTS


def _is_root_word(token: str) -> bool:
    return _contains_root(token) or _contains_root(stem(token))


def known_word(token: str) -> bool:
    """Whether the token is a word we know (lexicon, vocabularies, Indonesian roots, slang),
    or a number: a message of none of them is gibberish."""
    return token.isdigit() or token in SLANG or _known(token)


def _known(token: str) -> bool:
    return token in _KNOWN or token in ADDRESS_WORDS or _is_root_word(token)


def _informal_roots(token: str) -> Iterable[str]:
    """Candidate standard forms of an informal verb: ngambil → ambil, nawarin → tawar."""
    bases = [token]
    if token.endswith("in") and len(token) > 5:
        bases += [token[:-2], token[:-2] + "kan"]
    for base in bases:
        if base is not token:
            yield base
        for prefix in ("di", "ke"):
            if base.startswith(prefix) and len(base) > len(prefix) + 3:
                yield base[len(prefix) :]
        if base.startswith("nge") and len(base) > 5:
            yield base[3:]
        if base.startswith("ng") and len(base) > 4 and base[2] in "aiueo":
            yield base[2:]
            yield "k" + base[2:]
        if base.startswith("ny") and len(base) > 4 and base[2] in "aiueo":
            yield "c" + base[2:]
            yield "s" + base[2:]
        if base.startswith("n") and len(base) > 4 and base[1] in "aiueo":
            yield "t" + base[1:]


def _max_edits(token: str) -> int:
    """Typo budget that grows with length: short words are too easy to confuse."""
    length = len(token)
    if length < 4:
        return 0
    if length <= 6:
        return 1
    if length <= 10:
        return 2
    return 3


_TYPO_TARGETS = tuple(sorted(word for word in DOMAIN_VOCAB if len(word) >= 4))


def _repair_typo(token: str) -> str | None:
    """The domain word this token is a typo of, if it is close enough (same first letter)."""
    budget = _max_edits(token)
    if budget == 0:
        return None
    candidates = [word for word in _TYPO_TARGETS if word[0] == token[0]]
    found = process.extractOne(token, candidates, scorer=OSA.distance, score_cutoff=budget)
    return found[0] if found else None


@lru_cache(maxsize=65_536)
def canonical(token: str) -> tuple[str, ...]:
    """The canonical token(s) for one raw token: () for address words, else 1–2 words."""
    if token in ADDRESS_WORDS:
        return ()
    if token in SLANG:
        return tuple(SLANG[token].split())
    if token.isdigit() or token in _KNOWN or _is_root_word(token) or stem(token) in _COMMON_EN:
        return (token,)
    single = _DOUBLE.sub(r"\1", token)
    if single != token and (single in SLANG or single in ADDRESS_WORDS or _known(single)):
        return canonical(single)
    for suffix in ("nya", "ny", "ku", "mu"):
        base = token[: -len(suffix)]
        if token.endswith(suffix) and len(base) >= 4 and base in SLANG:
            return tuple(SLANG[base].split())
    for candidate in _informal_roots(token):
        if candidate in SLANG:
            return tuple(SLANG[candidate].split())
        if _contains_root(candidate):
            return (candidate,)
    repaired = _repair_typo(token)
    if repaired is None and token.endswith("nya") and len(token) >= 7:
        repaired = _repair_typo(token[:-3])
    if repaired in SLANG:  # a typo of a spelling the lexicon rewrites ("passaora" → "paspor")
        return tuple(SLANG[repaired].split())
    return (repaired,) if repaired else (token,)


def canonical_tokens(raw_tokens: Iterable[str]) -> list[str]:
    """Canonical tokens of a message, with two-token spellings joined ("di mana")."""
    out: list[str] = []
    for raw in raw_tokens:
        for word in canonical(raw):
            if out and (out[-1], word) in JOINS:
                joined = JOINS[(out[-1], word)].split()
                out[-1:] = joined
            else:
                out.append(word)
    return out


def normalize(text: str) -> str:
    """Canonical text: lowercase ASCII words separated by single spaces (idempotent)."""
    return " ".join(canonical_tokens(clean(text)))


# --- greetings and language ----------------------------------------------------------------

# Greeting phrases, longest first; stripped from the start of a message (and thanks from the
# end when something else was said), because they carry no intent.
GREETINGS: tuple[tuple[str, ...], ...] = tuple(
    sorted((tuple(phrase.split()) for phrase in _WORDS["greetings"]), key=len, reverse=True)
)
_CLOSINGS: tuple[tuple[str, ...], ...] = tuple(tuple(c.split()) for c in _WORDS["closings"])


def _by_word(
    phrases: tuple[tuple[str, ...], ...], at: int
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The phrases grouped by their first (at=0) or last (at=-1) word, order kept: a message
    is only compared with the phrases its own first or last word can start or end."""
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        grouped.setdefault(phrase[at], []).append(phrase)
    return {word: tuple(group) for word, group in grouped.items()}


_GREETINGS_BY_FIRST = _by_word(GREETINGS, 0)
_CLOSINGS_BY_LAST = _by_word(_CLOSINGS, -1)


def strip_greetings(tokens: list[str]) -> tuple[list[str], bool]:
    """Tokens without leading greetings and trailing thanks; and whether a greeting was there.

    A closing "terima kasih" after a question is politeness, not appreciation, so it is
    removed only when something else remains.
    """
    rest = list(tokens)
    greeted = False
    while rest:
        for phrase in _GREETINGS_BY_FIRST.get(rest[0], ()):
            if tuple(rest[: len(phrase)]) == phrase:
                rest = rest[len(phrase) :]
                greeted = True
                break
        else:
            break
    while rest:
        for phrase in _CLOSINGS_BY_LAST.get(rest[-1], ()):
            if len(rest) > len(phrase) and tuple(rest[-len(phrase) :]) == phrase:
                rest = rest[: -len(phrase)]
                break
        else:
            break
    return rest, greeted


_EN_MARKERS = frozenset(_WORDS["english_markers"].split())
_ID_MARKERS = (
    frozenset(
        set(SLANG)
        | {word for value in SLANG.values() for word in value.split()}
        | set(_COMMON_ID)
        | {"paspor", "syarat", "biaya", "bayar", "ambil", "daftar", "hilang", "rusak", "buka"}
    )
    - _EN_MARKERS
    - {"no", "online", "status", "info", "halo", "hi", "hello", "hey", "ok", "oke"}
)


def detect_language(raw_tokens: Iterable[str]) -> Lang:
    """'en' when English words outnumber Indonesian ones, else 'id' (the default)."""
    english = indonesian = 0.0
    for token in raw_tokens:
        if token in _EN_MARKERS:
            english += 1
        elif token in _ID_MARKERS:
            indonesian += 1
        elif len(token) > 3 and not token.isdigit() and _is_root_word(token):
            indonesian += 0.5
    return "en" if english > indonesian else "id"


# --- one call for the matcher --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analysis:
    """A message prepared for matching."""

    raw_tokens: tuple[str, ...]
    """Cleaned tokens before the lexicon (office names and language are read from these)."""
    tokens: tuple[str, ...]
    """Canonical tokens, greetings stripped."""
    stems: tuple[str, ...]
    """Stems of `tokens`, same order."""
    greeted: bool
    language: Lang
    thanked: bool = False
    """The message says thanks somewhere (even if the closing thanks was stripped)."""

    @property
    def text(self) -> str:
        """The canonical text (greetings stripped)."""
        return " ".join(self.tokens)


def analyze(text: str) -> Analysis:
    """Clean, canonicalise, strip greetings, stem and detect the language of a message."""
    raw = clean(text)
    canonical_words = canonical_tokens(raw)
    tokens, greeted = strip_greetings(canonical_words)
    return Analysis(
        thanked="thanks" in canonical_words or "kasih" in canonical_words,
        raw_tokens=tuple(raw),
        tokens=tuple(tokens),
        stems=tuple(stem(token) for token in tokens),
        greeted=greeted,
        language=detect_language(raw),
    )
