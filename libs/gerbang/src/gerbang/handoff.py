"""Handing a conversation to office staff: what the citizen reads, and when staff are on duty.

Pure functions over the office configuration (no Kafka, no Redis). The router decides when a
conversation is held (`gerbang_gateway.handoff`); the feedback worker offers it after an
urgent complaint; both build their texts here from the catalogue (`handoff.*` of
`offices/_national/texts.yaml`), so each sentence exists once.

Staff are on duty during the office's opening hours (`office.yaml` `hours`, whose Indonesian
day names are read here: "Senin–Jumat", "Jumat", "Senin-Kamis"); times are WIB.
"""

from __future__ import annotations

import datetime as dt
import re

from gerbang.messages import (
    Button,
    ButtonsContent,
    Expectation,
    HandoffReason,
    ReleaseReason,
    Service,
    TemplateContent,
    TextContent,
)
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.texts import render_text
from gerbang.words import tokens

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
OFFER_CONTEXT = "handoff_offer"
"""Key of the router's expectation context while an offer waits for "ya"."""
ACCEPT_BUTTON_ID = "handoff|yes"
DECLINE_BUTTON_ID = "menu"
OFFER_TTL_S = 15 * 60
STAFF_TEMPLATE = "tanggapan_petugas"
"""The approved template that carries a staff reply outside the 24-hour window."""

_DAYS = {
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "sabtu": 5, "minggu": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}  # fmt: skip
_WEEKDAY_TEXTS = tuple(
    f"weekday.{name}"
    for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)
"""Catalogue ids of the day names, Monday first (`datetime.weekday()`)."""


def _words(text: str) -> list[str]:
    return [w for w in tokens(text) if not w.isdigit()]


def parse_days(text: str) -> set[int]:
    """Weekdays (0 = Monday) named by an opening-hours line: "Senin–Jumat", "Sabtu"."""
    words = [w for w in _words(text) if w in _DAYS]
    if not words:
        return set()
    if len(words) == 2 and re.search(r"[–\-—]|s/?d|sampai|to", text.lower()):
        start, end = _DAYS[words[0]], _DAYS[words[1]]
        return {d % 7 for d in range(start, end + (7 if end < start else 0) + 1)}
    return {_DAYS[w] for w in words}


def on_duty(office: Office, now: dt.datetime) -> bool:
    """Whether the office is open (staff answer) at `now`."""
    local = now.astimezone(WIB)
    for hours in office.hours:
        if local.weekday() in parse_days(hours.days.get("id")) and (
            hours.open <= local.time() < hours.close
        ):
            return True
    return False


def next_opening(office: Office, now: dt.datetime) -> dt.datetime | None:
    """When the office opens next (WIB), within a week; None if its hours are unreadable."""
    local = now.astimezone(WIB)
    best: dt.datetime | None = None
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        for hours in office.hours:
            if day.weekday() in parse_days(hours.days.get("id")):
                opening = dt.datetime.combine(day, hours.open, WIB)
                if opening > local and (best is None or opening < best):
                    best = opening
        if best is not None:
            return best
    return None


def _hours_line(office: Office, lang: Lang) -> str:
    return "; ".join(
        f"{h.days.get(lang)} {h.open.strftime('%H.%M')}–{h.close.strftime('%H.%M')} WIB"
        for h in office.hours
    )


def _day(
    registry: OfficeRegistry, office: Office, opening: dt.datetime, now: dt.datetime, lang: Lang
) -> str:
    """ "hari ini" / "besok" / "Senin" (en: "today" / "tomorrow" / "on Monday")."""
    days = (opening.date() - now.astimezone(WIB).date()).days
    if days == 0:
        return render_text(registry, office, "handoff.today", lang)
    if days == 1:
        return render_text(registry, office, "handoff.tomorrow", lang)
    weekday = render_text(registry, office, _WEEKDAY_TEXTS[opening.weekday()], lang)
    return render_text(registry, office, "handoff.on_weekday", lang, weekday=weekday)


def held_notice(
    registry: OfficeRegistry, office: Office, lang: Lang, now: dt.datetime
) -> TextContent:
    """The one answer when a conversation is handed over: forwarded, and when staff answer."""

    def say(text_id: str, **values: str) -> str:
        return render_text(registry, office, text_id, lang, **values)

    hours = _hours_line(office, lang)
    if on_duty(office, now):
        when = say("handoff.on_duty", hours_line=hours)
    else:
        opening = next_opening(office, now)
        when = (
            say(
                "handoff.off_duty_back",
                hours_line=hours,
                day=_day(registry, office, opening, now, lang),
                time=opening.strftime("%H.%M"),
            )
            if opening
            else say("handoff.off_duty", hours_line=hours)
        )
    return TextContent(body=f"{say('handoff.forwarded')} {when}\n\n{say('handoff.write_here')}")


_OFFER_LEADS = {
    HandoffReason.FALLBACKS: "handoff.offer_fallbacks",
    HandoffReason.URGENT_COMPLAINT: "handoff.offer_urgent",
}


def offer(
    registry: OfficeRegistry, office: Office, lang: Lang, reason: HandoffReason
) -> ButtonsContent:
    """Ask whether the citizen wants a person (a button, and a typed "ya" works too)."""
    lead = _OFFER_LEADS.get(reason)
    body = render_text(registry, office, "handoff.offer", lang)
    if lead:
        body = f"{render_text(registry, office, lead, lang)} {body}"
    return ButtonsContent(
        body=body,
        buttons=[
            Button(
                id=ACCEPT_BUTTON_ID,
                title=render_text(registry, office, "handoff.button_yes", lang),
            ),
            Button(
                id=DECLINE_BUTTON_ID,
                title=render_text(registry, office, "handoff.button_no", lang),
            ),
        ],
    )


def offer_expectation(reason: HandoffReason) -> Expectation:
    """The directive that makes the router take the next "ya" as accepting the offer."""
    return Expectation(
        service=Service.ROUTER,
        context={OFFER_CONTEXT: reason.value},
        ttl_seconds=OFFER_TTL_S,
    )


_RELEASED = {
    ReleaseReason.STAFF: "handoff.released_staff",
    ReleaseReason.IDLE: "handoff.released_idle",
    ReleaseReason.CITIZEN: "handoff.released_citizen",
}


def released_notice(
    registry: OfficeRegistry, office: Office, lang: Lang, reason: ReleaseReason
) -> TextContent:
    """Told when the conversation goes back to the bot."""
    why = render_text(registry, office, _RELEASED[reason], lang)
    return TextContent(body=f"{why} {render_text(registry, office, 'handoff.bot_back', lang)}")


def staff_template(office: Office, text: str) -> TemplateContent:
    """A staff reply as the approved "tanggapan petugas" template (outside the 24-hour
    window): {{1}} the office, {{2}} the reply (templates take no newlines in parameters)."""
    flat = re.sub(r"\s*\n\s*", " / ", text.strip())[:1000]
    return TemplateContent(
        name=STAFF_TEMPLATE, language="id", body_parameters=[office.short_name, flat]
    )
