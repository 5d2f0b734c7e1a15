"""Handing a conversation to office staff: what the citizen reads, and when staff are on duty.

Pure functions over the office configuration (no Kafka, no Redis). The router decides when a
conversation is held (`gerbang_gateway.handoff`); the feedback worker offers it after an
urgent complaint; both build their texts here, so each sentence exists once.

Staff are on duty during the office's opening hours (`office.yaml` `hours`, whose Indonesian
day names are read here: "Senin–Jumat", "Jumat", "Senin-Kamis"); times are WIB.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

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
from gerbang.offices import Lang, Office

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
_DAY_NAMES = {
    "id": ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_YES = frozenset(
    "ya iya iyaa iy y yes yap yup mau boleh ok oke okay okey sip siap bisa tolong please sure "
    "lanjut setuju".split()
)
_NO = frozenset("tidak tdk ga gak nggak ngga enggak engga no nope jangan batal".split())
_RELEASE = frozenset({"menu", "batal", "cancel"})
_RELEASE_OK = _RELEASE | {"ke", "kembali", "mau", "aja", "saja", "utama"}


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"[a-z]+", folded)


def is_yes(text: str) -> bool:
    """A short yes ("ya", "mau", "iya boleh", "ok kak"): accepts an offer."""
    words = _words(text)
    return 0 < len(words) <= 4 and words[0] in _YES and not (set(words) & _NO)


def is_no(text: str) -> bool:
    """A short no ("tidak", "gak usah"): declines an offer."""
    words = _words(text)
    return 0 < len(words) <= 4 and bool(set(words) & _NO)


def is_release(text: str) -> bool:
    """A bare "menu" or "batal" ("kembali ke menu", "batal aja"): the bot back, please."""
    words = set(_words(text))
    return 0 < len(words) <= 3 and bool(words & _RELEASE) and words <= _RELEASE_OK


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


def _day(opening: dt.datetime, now: dt.datetime, lang: Lang) -> str:
    """ "hari ini" / "besok" / "Senin" (en: "today" / "tomorrow" / "on Monday")."""
    days = (opening.date() - now.astimezone(WIB).date()).days
    if days == 0:
        return "today" if lang == "en" else "hari ini"
    if days == 1:
        return "tomorrow" if lang == "en" else "besok"
    name = _DAY_NAMES[lang][opening.weekday()]
    return f"on {name}" if lang == "en" else name


def held_notice(office: Office, lang: Lang, now: dt.datetime) -> TextContent:
    """The one answer when a conversation is handed over: forwarded, and when staff answer."""
    hours = _hours_line(office, lang)
    if lang == "en":
        first = f"Your message has been forwarded to the staff of {office.short_name}."
        if on_duty(office, now):
            when = f"Staff are on duty now ({hours}) and will reply here."
        else:
            opening = next_opening(office, now)
            at = (
                f" They are back {_day(opening, now, 'en')} at {opening.strftime('%H.%M')} WIB."
                if opening
                else ""
            )
            when = f"We are outside office hours ({hours}).{at} Staff will reply here then."
        rest = "Write your question here. Type *menu* to return to the automatic assistant."
    else:
        first = f"Pesan Anda sudah diteruskan ke petugas {office.short_name}."
        if on_duty(office, now):
            when = f"Petugas sedang bertugas ({hours}) dan akan membalas di sini."
        else:
            opening = next_opening(office, now)
            at = (
                f" Petugas kembali bertugas {_day(opening, now, 'id')} pukul "
                f"{opening.strftime('%H.%M')} WIB."
                if opening
                else ""
            )
            when = f"Saat ini di luar jam layanan ({hours}).{at} Petugas akan membalas di sini."
        rest = "Silakan tulis pertanyaan Anda. Ketik *menu* untuk kembali ke asisten otomatis."
    return TextContent(body=f"{first} {when}\n\n{rest}")


def offer(office: Office, lang: Lang, reason: HandoffReason) -> ButtonsContent:
    """Ask whether the citizen wants a person (a button, and a typed "ya" works too)."""
    if lang == "en":
        lead = {
            HandoffReason.FALLBACKS: "Sorry, I could not understand your question.",
            HandoffReason.URGENT_COMPLAINT: "Your complaint is marked urgent.",
        }.get(reason, "")
        question = f"Would you like to write to the staff of {office.short_name}?"
        body = f"{lead} {question} Reply *yes* or tap the button.".strip()
        return ButtonsContent(
            body=body,
            buttons=[
                Button(id=ACCEPT_BUTTON_ID, title="Yes, talk to staff"),
                Button(id=DECLINE_BUTTON_ID, title="No, show menu"),
            ],
        )
    lead = {
        HandoffReason.FALLBACKS: "Maaf, saya belum bisa memahami pertanyaan Anda.",
        HandoffReason.URGENT_COMPLAINT: "Keluhan Anda kami tandai mendesak.",
    }.get(reason, "")
    question = f"Apakah Anda ingin berbicara dengan petugas {office.short_name}?"
    body = f"{lead} {question} Balas *ya* atau ketuk tombol di bawah.".strip()
    return ButtonsContent(
        body=body,
        buttons=[
            Button(id=ACCEPT_BUTTON_ID, title="Ya, ke petugas"),
            Button(id=DECLINE_BUTTON_ID, title="Tidak, lihat menu"),
        ],
    )


def offer_expectation(reason: HandoffReason) -> Expectation:
    """The directive that makes the router take the next "ya" as accepting the offer."""
    return Expectation(
        service=Service.ROUTER,
        context={OFFER_CONTEXT: reason.value},
        ttl_seconds=OFFER_TTL_S,
    )


def released_notice(office: Office, lang: Lang, reason: ReleaseReason) -> TextContent:
    """Told when the conversation goes back to the bot."""
    if lang == "en":
        why = {
            ReleaseReason.STAFF: f"The staff of {office.short_name} have closed this conversation.",
            ReleaseReason.IDLE: "This conversation with our staff has ended after a while "
            "without messages.",
            ReleaseReason.CITIZEN: "You have left the conversation with our staff.",
        }[reason]
        return TextContent(
            body=f"{why} The automatic assistant of {office.service_name} is answering again; "
            "type *menu* to see what it can do."
        )
    why = {
        ReleaseReason.STAFF: f"Petugas {office.short_name} telah menutup percakapan ini.",
        ReleaseReason.IDLE: "Percakapan dengan petugas berakhir karena tidak ada pesan "
        "untuk beberapa waktu.",
        ReleaseReason.CITIZEN: "Anda telah keluar dari percakapan dengan petugas.",
    }[reason]
    return TextContent(
        body=f"{why} Asisten otomatis {office.service_name} kembali melayani Anda; "
        "ketik *menu* untuk melihat pilihan."
    )


def staff_template(office: Office, text: str) -> TemplateContent:
    """A staff reply as the approved "tanggapan petugas" template (outside the 24-hour
    window): {{1}} the office, {{2}} the reply (templates take no newlines in parameters)."""
    flat = re.sub(r"\s*\n\s*", " / ", text.strip())[:1000]
    return TemplateContent(
        name=STAFF_TEMPLATE, language="id", body_parameters=[office.short_name, flat]
    )
