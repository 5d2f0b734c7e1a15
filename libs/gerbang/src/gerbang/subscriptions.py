"""Announcement subscriptions: who hears an office's announcements, and what they read.

Pure (no Kafka, no Redis). A citizen opts in to an office's announcements ("langganan info",
"subscribe", then *ya* or the button to confirm) and opts out at any time ("stop",
"berhenti", "gak mau lagi info"). The router applies it (`gerbang_gateway.subscriptions`);
the record of each change is `SubscriptionChanged` on the compacted topic
`announcements.subscriptions`, keyed `office:wa_id`. A broadcast sends the office's live
announcement once to each subscriber as the approved template `ANNOUNCEMENT_TEMPLATE`,
which is allowed outside the 24-hour window (reference §1.5, §1.6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property, lru_cache

from gerbang.messages import (
    Button,
    ButtonsContent,
    Expectation,
    ReplyContent,
    Service,
    TemplateContent,
    TextContent,
)
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.texts import render_text
from gerbang.words import data as words_data
from gerbang.words import is_no, is_yes
from gerbang.words import tokens as words_of

ANNOUNCEMENT_TEMPLATE = "pengumuman_kantor"
"""The approved template of a broadcast: {{1}} the office, {{2}} the announcement; its quick
reply button "Berhenti" comes back as the text "Berhenti", an opt-out."""
TEMPLATE_PARAMETER_LIMIT = 1000
OFFER_CONTEXT = "subscription_offer"
"""Key of the router's expectation context while the opt-in question waits for its answer."""
YES_BUTTON_ID = "subscribe|yes"
NO_BUTTON_ID = "subscribe|no"
STOP_BUTTON_ID = "subscribe|stop"
OFFER_TTL_S = 10 * 60
MAX_WORDS = 7
"""Longer messages are questions or complaints that mention these words, not a request."""


class Request(StrEnum):
    """What a message asks of the office's announcements."""

    START = "start"
    STOP = "stop"


@dataclass(frozen=True)
class _Words:
    stop: frozenset[str]
    start: frozenset[str]
    negation: frozenset[str]
    subject: frozenset[str]
    filler: frozenset[str]

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word a request may be made of (besides fillers)."""
        return self.stop | self.start | self.negation | self.subject

    @cached_property
    def near_by_length(self) -> dict[int, tuple[str, ...]]:
        """Per length of a typed word (six letters or more), the words of the vocabulary it
        may be one typo away from (one letter longer, as long, one shorter), in the
        vocabulary's order: a message's long words are checked against these alone."""
        long_words = [word for word in self.vocabulary if len(word) >= 6]
        lengths = {len(word) + step for word in long_words for step in (-1, 0, 1)}
        return {
            n: tuple(word for word in long_words if abs(len(word) - n) <= 1)
            for n in lengths
            if n >= 6
        }


_REPEATED = re.compile(r"(.)\1+")
_NOT = re.compile(r"n['’]t\b")


def _squeeze(word: str) -> str:
    """Repeated letters folded: "stoppp" → "stop", "langganan" → "langanan" (both sides)."""
    return _REPEATED.sub(r"\1", word)


@cache
def _words() -> _Words:
    raw = words_data()
    sub = raw["subscription"]

    def words(name: str, source: dict[str, list[str]] = sub) -> frozenset[str]:
        return frozenset(_squeeze(str(w)) for w in source[name])

    return _Words(
        stop=words("stop"),
        start=words("start"),
        negation=words("negation"),
        subject=words("subject"),
        filler=words("filler", raw),
    )


def _tokens(text: str) -> list[str]:
    """The message's words (`gerbang.words.tokens`, digits left out), with "don't" read as
    "do not", "opt out" and "un-subscribe" as one word, repeated letters folded."""
    lowered = _NOT.sub(" not", text.lower())  # "don't" → "do not"
    lowered = lowered.replace("opt-out", "optout").replace("opt out", "optout")
    lowered = lowered.replace("opt-in", "optin").replace("opt in", "optin")
    lowered = lowered.replace("un-subscribe", "unsubscribe").replace("un subscribe", "unsubscribe")
    return [_squeeze(w) for w in words_of(lowered) if not w.isdigit()]


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance ≤ 1 (one letter typed wrong, missing or extra)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            edits += 1
            if edits > 1:
                return False
            if len(a) == len(b):
                i += 1
        else:
            i += 1
        j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


def _canonical(token: str, words: _Words) -> str | None:
    """`token` as a word of the vocabulary, allowing one typo in words of six letters or
    more."""
    if token in words.vocabulary:
        return token
    if len(token) >= 6:
        return _near(token)
    return None


@lru_cache(maxsize=16_384)
def _near(token: str) -> str | None:
    """The vocabulary word a long token is one typo away from. Cached: the router asks this
    of most messages' first long word ("berapa", "permohonan"), and citizens' words repeat."""
    for word in _words().near_by_length.get(len(token), ()):
        if _within_one_edit(token, word):
            return word
    return None


def subscription_request(text: str) -> Request | None:
    """Whether a message asks to start or stop the office's announcements (None: neither).

    Only a short message made of these words counts ("stop", "STOP!!", "berhenti
    langganan", "gak mau lagi info", "langganan info dong", "subscribe"): "stop calo di
    kantor" is a complaint, "syarat langganan paspor?" a question for the bot.
    """
    words = _words()
    tokens = [t for t in _tokens(text) if t not in words.filler or t in words.negation]
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    seen: set[str] = set()
    for token in tokens:  # the first word outside the vocabulary settles it
        word = _canonical(token, words)
        if word is None:
            return None
        seen.add(word)
    if seen & words.stop:
        return Request.STOP
    # "no" words name an opt-out only together with what is refused: a bare "tidak" answers
    # some other prompt.
    subject = seen & (words.subject | words.start)
    if seen & words.negation:
        return Request.STOP if subject - {"mau", "saya", "aku", "i", "me"} else None
    if seen & words.start:
        return Request.START
    return None


class Action(StrEnum):
    """What the router does with a message about announcements."""

    OFFER = "offer"
    """Ask "receive announcements?" (an expectation: *ya* / *tidak* typed or tapped)."""
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    DECLINE = "decline"
    """The citizen said no to the question."""


def decide(text: str, reply_id: str | None, *, offered: bool) -> Action | None:
    """The subscription step for a message (None: the bot routes it as usual). `offered`: the
    router's expectation is the opt-in question. Used by the router and by `gerbang ask`."""
    if reply_id == STOP_BUTTON_ID:
        return Action.UNSUBSCRIBE
    if reply_id == YES_BUTTON_ID or (offered and not reply_id and is_yes(text)):
        return Action.SUBSCRIBE
    if reply_id == NO_BUTTON_ID or (offered and not reply_id and is_no(text)):
        return Action.DECLINE
    if reply_id:
        return None
    request = subscription_request(text)
    if request is Request.STOP:
        return Action.UNSUBSCRIBE
    if request is Request.START:
        return Action.OFFER
    return None


def reply_for(
    action: Action, registry: OfficeRegistry, office: Office, lang: Lang
) -> tuple[ReplyContent, Expectation | None]:
    """What the citizen is told for `action` (texts `subscription.*` of the catalogue), and
    the directive it leaves."""

    def say(text_id: str) -> str:
        return render_text(registry, office, text_id, lang)

    if action is Action.OFFER:
        buttons = [
            Button(id=YES_BUTTON_ID, title=say("subscription.button_yes")),
            Button(id=NO_BUTTON_ID, title=say("subscription.button_no")),
        ]
        return ButtonsContent(body=say("subscription.offer"), buttons=buttons), offer_expectation()
    if action is Action.SUBSCRIBE:
        stop = Button(id=STOP_BUTTON_ID, title=say("subscription.button_stop"))
        return ButtonsContent(body=say("subscription.subscribed"), buttons=[stop]), None
    if action is Action.UNSUBSCRIBE:
        return TextContent(body=say("subscription.unsubscribed")), None
    return TextContent(body=say("subscription.declined")), None


def offer_expectation() -> Expectation:
    """The directive that makes the router take the next *ya* / *tidak* as the answer."""
    return Expectation(
        service=Service.ROUTER, context={OFFER_CONTEXT: "1"}, ttl_seconds=OFFER_TTL_S
    )


def announcement_template(office: Office, text: str, lang: Lang) -> TemplateContent:
    """The broadcast of an announcement as the approved template: {{1}} the office, {{2}} the
    text (template parameters take no newlines; cut to `TEMPLATE_PARAMETER_LIMIT`)."""
    flat = re.sub(r"\s*\n\s*", " / ", text.strip())
    if len(flat) > TEMPLATE_PARAMETER_LIMIT:
        flat = flat[: TEMPLATE_PARAMETER_LIMIT - 1].rstrip() + "…"
    return TemplateContent(
        name=ANNOUNCEMENT_TEMPLATE, language=lang, body_parameters=[office.short_name, flat]
    )
