"""Understanding citizens' messages: a pure function from text to intent (no Kafka, no Redis).

The router and the FAQ worker both use it, and `gerbang ask` runs it offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from gerbang.messages import Intent
from gerbang.offices import Lang


@dataclass(frozen=True, slots=True)
class Understanding:
    """What a message asks, in which language, and what it mentions."""

    intent: Intent
    confidence: float
    language: Lang
    subtopic: str | None = None
    """Narrower topic where the answer differs: requirements → "minor", "renewal",
    "work_abroad", "umrah", "name_mismatch"; lost_damaged → "lost", "damaged"."""
    phone_numbers: tuple[str, ...] = ()
    """Phone numbers the message mentions, normalised to digits with country code."""
    scam_signals: tuple[str, ...] = ()
    """Signs of brokers or fraud: "calo", "jalur_cepat", "orang_dalam", "personal_account",
    "whatsapp_registration"."""
    other_office: str | None = None
    """Code of another office the message names (e.g. "kanim bogor"), if any."""
    normalized: str = ""
    """The normalised text the decision was made on (for logs and FAQ-miss lists)."""
    language_requested: bool = False
    """The citizen asked for a language ("english please", "bahasa indonesia aja"): the
    conversation switches to `language` even though the message itself is short."""


# Imported last: the matcher module needs `Understanding` above.
from gerbang.understanding.classify import IntentMatcher  # noqa: E402

__all__ = ["IntentMatcher", "Understanding"]
