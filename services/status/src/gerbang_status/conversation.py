"""The status conversation as pure functions: what the applicant wrote → what we answer.

Flow
    "cek status"                       → ask for application number and date of birth
    "gatau nomornya dimana"            → where to find the number, and ask again
    number (and/or date) in one or two messages; the partial answer travels in the
                                         context the router hands back (`expect`)
    correct pair, this office          → stage + next step + "notify me" button
    correct pair, another office       → that office's name, service and WhatsApp number only
    unknown number or wrong birth date → one neutral answer, identical in both cases
    locked (too many failures)         → polite "try again after HH:MM"
    tap on `status|optin|<no>`, or     → notifications switched on (if a lookup offered it)
      "ya" typed after the invitation    ("gak usah": acknowledged, nothing switched on)

The answer to another office's application needs the correct date of birth too: otherwise
the pointer would tell a stranger that a number exists, and where.

Two steps keep I/O out: `read_turn` says what the message asks for (`Ask`, `Query`,
`OptIn`, `Cancel`, `GiveUp`); the worker does the lockout check and the lookup for a
`Query` and hands the result to `respond`, which builds the replies and the expectation.
`converse` chains both over an in-memory view (the offline CLI, tests and the benchmark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gerbang import dialogue
from gerbang.messages import (
    ApplicationRecord,
    Button,
    ButtonsContent,
    Expectation,
    Intent,
    ReplyContent,
    Service,
    TextContent,
    Understanding,
)
from gerbang.offices import Lang, Office, OfficeRegistry, UnknownOffice
from gerbang.phone import display
from gerbang.texts import render_text
from gerbang.understanding.normalize import normalize
from gerbang.understanding.signals import is_cancel
from gerbang.words import is_no, is_yes
from gerbang_status.lockout import LockState
from gerbang_status.parsing import DEFAULT_FORMAT, ApplicationNoFormat, extract_lookup
from gerbang_status.stages import FINAL_STAGES, describe

OPTIN_PREFIX = "status|optin|"
"""Reply-button id prefix of the opt-in; the router routes `status|…` taps to this service."""

OPTIN_KEY = dialogue.STATUS_OPTIN_KEY
"""Expectation context key after a found status: the application the invitation is for."""

EXPECT_TTL_SECONDS = 600
MAX_EMPTY_ASKS = 2
"""Messages in a row without a number or date before we stop waiting for one."""

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
"""Times shown to applicants. Every office configured today is in WIB (Jakarta, Bogor, Batam);
offices in WITA/WIT would need a time-zone field in office.yaml."""


class Outcome(StrEnum):
    """Result of one lookup (also the `outcome` label of the lookup metric)."""

    FOUND = "found"
    OTHER_OFFICE = "other_office"
    NOT_FOUND_OR_MISMATCH = "not_found_or_mismatch"
    LOCKED = "locked"


# --- reading the applicant's message ------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """Something is missing: ask for it and carry what we have in the context."""

    application_no: str | None
    date_of_birth: dt.date | None
    asks: int
    invalid_date: bool = False
    where_number: bool = False
    """The applicant asked where to find the number ("gatau nomornya dimana"): say where."""

    @property
    def context(self) -> dict[str, Any]:
        """The partial answer, handed back by the router with the next message."""
        context: dict[str, Any] = {"asks": self.asks}
        if self.application_no:
            context["application_no"] = self.application_no
        if self.date_of_birth:
            context["date_of_birth"] = self.date_of_birth.isoformat()
        return context


@dataclass(frozen=True)
class Query:
    """A complete pair to look up."""

    application_no: str
    date_of_birth: dt.date


@dataclass(frozen=True)
class OptIn:
    """The applicant tapped 'notify me' for an application."""

    application_no: str


@dataclass(frozen=True)
class Cancel:
    """The applicant wants to stop ('batal')."""


@dataclass(frozen=True)
class Decline:
    """The applicant answered the invitation to be notified with a no ("gak usah")."""


@dataclass(frozen=True)
class GiveUp:
    """Several messages without a number or a date: stop waiting, explain how to restart."""


Step = Ask | Query | OptIn | Decline | Cancel | GiveUp


def _context_date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def read_turn(
    text: str | None,
    reply_id: str | None,
    context: Mapping[str, Any],
    *,
    expected: bool,
    today: dt.date,
    fmt: ApplicationNoFormat = DEFAULT_FORMAT,
    understanding: Understanding | None = None,
) -> Step:
    """What this message asks for, given the context we asked the router to keep.

    `understanding`: the router's reading of the message (its `cancel`, its normalised text);
    without it (the offline flow of the CLI and tests), the same lexicon is read here. The
    application number and date are read from the text with the office's number format."""
    if reply_id and reply_id.startswith(OPTIN_PREFIX):
        number = fmt.normalize(reply_id[len(OPTIN_PREFIX) :])
        if number:
            return OptIn(number)
    text = text or ""
    invited = fmt.normalize(str(context.get(OPTIN_KEY, ""))) if expected else None
    if invited and is_yes(text):
        return OptIn(invited)
    if invited and is_no(text):
        return Decline()
    if understanding is None:
        canonical = normalize(text)
        understanding = Understanding(
            intent=Intent.STATUS, confidence=1.0, normalized=canonical, cancel=is_cancel(canonical)
        )
    if understanding.cancel and not any(c.isdigit() for c in text):
        return Cancel()
    carried = context if expected else {}
    known_no = fmt.normalize(str(carried.get("application_no", ""))) or None
    known_dob = _context_date(carried.get("date_of_birth"))
    asks = carried.get("asks", 0) if isinstance(carried.get("asks"), int) else 0
    found = extract_lookup(
        text, today, fmt, expecting_date=known_no is not None and known_dob is None
    )
    application_no = found.application_no or known_no
    date_of_birth = found.date_of_birth or known_dob
    if application_no and date_of_birth:
        return Query(application_no, date_of_birth)
    progressed = found.application_no is not None or found.date_of_birth is not None
    if not progressed and dialogue.asks_for_the_number(
        text, understanding, expecting_status=expected
    ):
        # A question, not a failed answer: it does not count towards giving up.
        return Ask(application_no, date_of_birth, asks=asks, where_number=True)
    if expected and not progressed and not found.invalid_date and asks >= MAX_EMPTY_ASKS:
        return GiveUp()
    return Ask(
        application_no,
        date_of_birth,
        asks=0 if progressed else asks + 1,
        invalid_date=found.invalid_date,
    )


def classify(record: ApplicationRecord | None, office: str, date_of_birth: dt.date) -> Outcome:
    """The outcome of a lookup: unknown number and wrong date of birth are one outcome."""
    if record is None or record.date_of_birth != date_of_birth:
        return Outcome.NOT_FOUND_OR_MISMATCH
    if record.office != office:
        return Outcome.OTHER_OFFICE
    return Outcome.FOUND


# --- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What to send (in order) and whether to wait for the applicant's next message."""

    contents: list[ReplyContent]
    expect: Expectation | None = None
    outcome: Outcome | None = None
    offer_optin: str | None = None
    """Application number the 'notify me' button was offered for (the worker remembers it)."""

    @property
    def text(self) -> str:
        """Every content's body, joined (for logs, the CLI and tests)."""
        return "\n\n".join(getattr(content, "body", "") for content in self.contents)


@dataclass(frozen=True)
class LookupResult:
    """What the worker found for a `Query`: the outcome, the record, a lock."""

    outcome: Outcome
    record: ApplicationRecord | None = None
    lock: LockState = field(default_factory=LockState)


def _expect(context: dict[str, Any], ttl: int) -> Expectation:
    return Expectation(service=Service.STATUS, context=context, ttl_seconds=ttl)


def ask_text(step: Ask, lang: Lang, office: Office, registry: OfficeRegistry) -> str:
    """The question for what is still missing."""
    if step.where_number and not step.application_no:
        return render_text(registry, office, "status.where_number", lang)
    if step.application_no and not step.date_of_birth:
        question = "status.ask_date"
    elif step.date_of_birth and not step.application_no:
        question = "status.ask_number"
    else:
        question = "status.ask_both"
    text = render_text(registry, office, question, lang)
    if step.invalid_date:
        return f"{render_text(registry, office, 'status.invalid_date', lang)} {text}"
    return text


def neutral_text(lang: Lang, office: Office, registry: OfficeRegistry) -> str:
    """The one answer for an unknown number and for a wrong date of birth."""
    return render_text(registry, office, "status.neutral", lang)


def locked_text(lang: Lang, until: dt.datetime, office: Office, registry: OfficeRegistry) -> str:
    """Polite 'try again later', with the time (WIB)."""
    when = until.astimezone(WIB).strftime("%d-%m-%Y %H:%M") + " WIB"
    return render_text(registry, office, "status.locked", lang, when=when)


def other_office_text(lang: Lang, other: Office, office: Office, registry: OfficeRegistry) -> str:
    """Pointer to the office the application belongs to: name, service, number — no details."""
    return render_text(
        registry,
        office,
        "status.other_office",
        lang,
        other_office_name=other.name,
        other_service_name=other.service_name,
        other_number=display(other.display_number),
    )


def found_reply(
    record: ApplicationRecord, lang: Lang, office: Office, registry: OfficeRegistry
) -> Reply:
    """Stage, next step and, unless the application is finished, the 'notify me' button."""
    body = describe(registry, record.application_no, record.stage, lang, office, record.note)
    if record.stage in FINAL_STAGES:
        return Reply([TextContent(body=body)], outcome=Outcome.FOUND)
    invite = "\n\n" + render_text(registry, office, "status.optin_invite", lang)
    body = body[: 1024 - len(invite) - 1] + "…" if len(body) + len(invite) > 1024 else body
    content = ButtonsContent(
        body=body + invite,
        buttons=[
            Button(
                id=f"{OPTIN_PREFIX}{record.application_no}",
                title=render_text(registry, office, "status.optin_button", lang),
            )
        ],
    )
    # The invitation asks a question: "ya" / "gak usah" typed answer it as the button does.
    expect = _expect({OPTIN_KEY: record.application_no}, EXPECT_TTL_SECONDS)
    return Reply([content], expect, outcome=Outcome.FOUND, offer_optin=record.application_no)


def respond(
    step: Step,
    *,
    lang: Lang,
    office: Office,
    registry: OfficeRegistry,
    now: dt.datetime,
    result: LookupResult | None = None,
    optin_accepted: bool = False,
    expect_ttl: int = EXPECT_TTL_SECONDS,
) -> Reply:
    """The replies for a step; a `Query` needs its `LookupResult`, an `OptIn` its acceptance."""
    if isinstance(step, Ask):
        return Reply(
            [TextContent(body=ask_text(step, lang, office, registry))],
            _expect(step.context, expect_ttl),
        )
    if isinstance(step, Cancel):
        return Reply([TextContent(body=render_text(registry, office, "status.cancelled", lang))])
    if isinstance(step, Decline):
        return Reply(
            [TextContent(body=render_text(registry, office, "status.optin_declined", lang))]
        )
    if isinstance(step, GiveUp):
        return Reply([TextContent(body=render_text(registry, office, "status.give_up", lang))])
    if isinstance(step, OptIn):
        if optin_accepted:
            body = render_text(
                registry, office, "status.optin_done", lang, application_no=step.application_no
            )
        else:
            body = render_text(registry, office, "status.optin_first", lang)
        return Reply([TextContent(body=body)])
    if result is None:
        raise ValueError("a Query needs its LookupResult")
    if result.outcome is Outcome.LOCKED:
        until = now + dt.timedelta(seconds=result.lock.seconds_left)
        return Reply(
            [TextContent(body=locked_text(lang, until, office, registry))],
            outcome=Outcome.LOCKED,
        )
    neutral = TextContent(body=neutral_text(lang, office, registry))
    if result.outcome is Outcome.NOT_FOUND_OR_MISMATCH:
        return Reply(
            [neutral], _expect({"asks": 0}, expect_ttl), outcome=Outcome.NOT_FOUND_OR_MISMATCH
        )
    if result.record is None:
        raise ValueError(f"outcome {result.outcome} needs the record")
    if result.outcome is Outcome.OTHER_OFFICE:
        try:
            other = registry.get(result.record.office)
        except UnknownOffice:
            # An application of an office no longer configured: say nothing about it.
            return Reply([neutral], outcome=Outcome.NOT_FOUND_OR_MISMATCH)
        return Reply(
            [TextContent(body=other_office_text(lang, other, office, registry))],
            outcome=Outcome.OTHER_OFFICE,
        )
    return found_reply(result.record, lang, office, registry)


def converse(
    text: str | None,
    *,
    office: Office,
    registry: OfficeRegistry,
    records: Mapping[str, ApplicationRecord],
    lang: Lang = "id",
    reply_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    expected: bool = False,
    lock: LockState | None = None,
    now: dt.datetime | None = None,
    fmt: ApplicationNoFormat = DEFAULT_FORMAT,
) -> Reply:
    """The whole flow over an in-memory view, without Kafka or Redis (CLI, tests, bench).

    An opt-in is accepted when the application is this office's (the worker additionally
    requires that a lookup offered it to this wa_id).
    """
    now = now or dt.datetime.now(dt.UTC)
    step = read_turn(
        text, reply_id, context or {}, expected=expected, today=now.astimezone(WIB).date(), fmt=fmt
    )
    result = None
    accepted = False
    if isinstance(step, Query):
        if lock is not None and lock.locked:
            result = LookupResult(Outcome.LOCKED, lock=lock)
        else:
            record = records.get(step.application_no)
            result = LookupResult(classify(record, office.code, step.date_of_birth), record)
    elif isinstance(step, OptIn):
        record = records.get(step.application_no)
        accepted = record is not None and record.office == office.code
    return respond(
        step,
        lang=lang,
        office=office,
        registry=registry,
        now=now,
        result=result,
        optin_accepted=accepted,
    )
