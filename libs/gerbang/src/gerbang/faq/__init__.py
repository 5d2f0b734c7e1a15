"""The FAQ: Gerbang's knowledge base (`content`), the office menu (`menu`) and the answer
composer (`answers`). Pure: no Kafka, no Redis, no I/O beyond the office registry.
"""

from gerbang.faq.answers import (
    NotAnFaqIntent,
    answer_topic,
    check_numbers,
    compose,
    menu_reply,
    non_text_reply,
    number_verdict,
)
from gerbang.faq.content import (
    FAQ_TOPICS,
    TOPICS,
    FaqContentError,
    render,
    validate_content,
)
from gerbang.faq.menu import build_menu, menu_text

__all__ = [
    "FAQ_TOPICS",
    "TOPICS",
    "FaqContentError",
    "NotAnFaqIntent",
    "answer_topic",
    "build_menu",
    "check_numbers",
    "compose",
    "menu_reply",
    "menu_text",
    "non_text_reply",
    "number_verdict",
    "render",
    "validate_content",
]
