"""The router's decision lives in the library (`gerbang.routing`), so that `gerbang ask`
replays conversations offline with the very same rules; re-exported here for the gateway."""

from gerbang.routing import (
    MENU_BY_ROW,
    SWITCH_CONFIDENCE,
    TEXT_KINDS,
    DialogueView,
    Route,
    decide,
    intent_of_reply_id,
)

__all__ = [
    "MENU_BY_ROW",
    "SWITCH_CONFIDENCE",
    "TEXT_KINDS",
    "DialogueView",
    "Route",
    "decide",
    "intent_of_reply_id",
]
