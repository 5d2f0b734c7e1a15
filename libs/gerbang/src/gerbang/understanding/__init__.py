"""Understanding citizens' messages: a pure function from text to intent (no Kafka, no Redis).

The router and the FAQ worker both use it, and `gerbang ask` runs it offline.
"""

from __future__ import annotations

from gerbang.messages import Understanding
from gerbang.understanding.classify import IntentMatcher

__all__ = ["IntentMatcher", "Understanding"]
