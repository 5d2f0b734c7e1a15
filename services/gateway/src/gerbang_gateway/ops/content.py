"""The `/ops` content editor: answers, texts and announcements, draft → preview → publish.

Per office, every answer — and every catalogue text ("Teks": menus, prompts, confirmations,
stage names; `offices/_national/texts.yaml`, its id is the topic) — with the national default
beside the office's own; an edit is
previewed as WhatsApp shows it, saved as a draft (any of the office's staff) and published
by the office lead or national staff. National facts (`NATIONAL_FACTS`: requirements, fees,
payment) are edited only by national staff, on the national page (`/ops/o/all/content`),
with a source and a "verified on" date. Each step is a record on `content.published` that
every worker applies within seconds; each is audited on `ops.audit`, refusals too.

Routes:
    GET  /ops/o/{office}/content                      every answer and text, the announcement
    GET  /ops/o/{office}/content/{topic}              editor, live text, draft, history + diffs
    POST /ops/o/{office}/content/{topic}              step=preview | draft
    POST /ops/o/{office}/content/{topic}/publish      the draft goes live (leads)
    POST /ops/o/{office}/content/{topic}/rollback     undo what is live, or back to version `to`
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gerbang.faq.content import (
    TEXT_LIMIT,
    TOPICS,
    FaqContentError,
    office_values,
    render,
    sample_extra,
)
from gerbang.messages import ContentRecord, ContentState, Topic
from gerbang.offices import LANGS, NATIONAL_SCOPE, LocalizedText, Office, OfficeRegistry
from gerbang.publishing.validate import Problem, check, offices_reached, with_candidate
from gerbang.publishing.versions import (
    ANNOUNCEMENT,
    NATIONAL_FACTS,
    ContentStepError,
    Edit,
    diff,
    edit_of,
    publish_draft,
    rollback,
    save_draft,
)
from gerbang.publishing.view import ContentView
from gerbang.texts import is_text, render_text, sample_values, text_limit
from gerbang_gateway.ops.access import ALL_OFFICES, Viewer
from gerbang_gateway.ops.audit import action_for
from gerbang_gateway.ops.wa_format import whatsapp_html

_TOPIC = re.compile(r"^[a-z_]{2,30}(\.[a-z_]{2,30})?$")
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_LOCKS: dict[str, asyncio.Lock] = {}

TOPIC_TITLES: dict[str, str] = {
    "requirements": "Syarat paspor baru (dewasa)",
    "requirements.minor": "Syarat paspor anak",
    "requirements.renewal": "Penggantian paspor",
    "requirements.work_abroad": "Syarat bekerja di luar negeri",
    "requirements.umrah": "Syarat umrah/haji",
    "requirements.name_mismatch": "Nama berbeda di dokumen",
    "fees": "Biaya paspor",
    "payment": "Cara & batas waktu pembayaran",
    "pickup": "Pengambilan paspor",
    "registration": "Pendaftaran M-Paspor",
    "hours_location": "Jam layanan & alamat",
    "lost": "Paspor hilang",
    "damaged": "Paspor rusak",
    "lost_damaged": "Paspor hilang/rusak",
    "official_channels": "Nomor resmi & penipuan",
    "fallback": "Pesan tidak dipahami (badan menu)",
    "scam_warning": "Peringatan calo/penipuan",
    "number_official": "Cek nomor: resmi",
    "number_fake": "Cek nomor: palsu",
    "number_hotline": "Cek nomor: hotline",
    "number_unknown": "Cek nomor: tidak dikenal",
    "other_office": "Permohonan kantor lain",
    "non_text": "Pesan bukan teks",
    "greeting": "Sapaan (badan menu)",
    ANNOUNCEMENT: "Pengumuman kantor",
}

NATIONAL_FACT_REFUSAL = (
    "Ini fakta nasional (syarat, biaya, pembayaran): sama untuk semua kantor dan hanya dapat "
    "diubah oleh staf nasional, dengan sumber dan tanggal verifikasi. / This is a national "
    "fact (requirements, fees, payment): the same for every office, changed only by national "
    "staff, with a source and a 'verified on' date."
)
LEAD_REFUSAL = (
    "Hanya kepala kantor atau staf nasional yang dapat menerbitkan atau membatalkan; simpan "
    "sebagai draf dan minta kepala kantor menerbitkannya. / Only the office lead or national "
    "staff publish or roll back; save a draft and ask your lead to publish it."
)


class ContentRefused(Exception):
    """A content step the viewer may not take; `reason` is shown to them."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _pages() -> Any:
    # The shared page helpers live in pages.py, which installs this router (no import cycle).
    from gerbang_gateway.ops import pages

    return pages


def _view(request: Request) -> ContentView:
    view: ContentView = request.app.state.content
    return view


def _scope(office: str) -> str:
    return NATIONAL_SCOPE if office == ALL_OFFICES else office


_LEARNT = re.compile(r"^(examples\.[a-z_]{2,30}(\.[a-z0-9_]{2,30})?|own\.[a-z][a-z0-9_]{1,29})$")
"""An office's examples of a topic, or its own topic (`ops/learn.py`): published and rolled
back by the same actions as answers."""


def _topic_or_404(request: Request, topic: str, *, learnt: bool = False) -> str:
    if learnt and _LEARNT.match(topic):
        return topic
    registry: OfficeRegistry = request.app.state.gateway.registry
    known = topic in TOPICS or topic == ANNOUNCEMENT or is_text(registry, topic)
    if not _TOPIC.match(topic) or not known:
        raise _pages().NoSuchOffice(topic)
    return topic


def _title(registry: OfficeRegistry, topic: str) -> str:
    entry = registry.national.texts.get(topic)
    if entry is not None:
        return f"Teks: {entry.about}" if entry.about else f"Teks {topic}"
    return TOPIC_TITLES.get(topic, topic)


def _excerpt(text: str | None, limit: int = 140) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _national_text(registry: OfficeRegistry, topic: str) -> LocalizedText | None:
    return _scope_text(registry, NATIONAL_SCOPE, topic)


def _baseline_text(registry: OfficeRegistry, scope: str, topic: str) -> LocalizedText | None:
    """The scope's YAML text of an answer or a catalogue text."""
    if is_text(registry, topic):
        text = registry.baseline_text(scope, topic)
        return text.localized if text else None
    answer = registry.baseline_answer(scope, topic)
    return answer.text if answer else None


def _scope_text(registry: OfficeRegistry, scope: str, topic: str) -> LocalizedText | None:
    """What the scope itself says now (published, else its YAML), without inheritance."""
    answer = registry.published.answer(scope, topic)
    return answer.text if answer else _baseline_text(registry, scope, topic)


def _wib(when: dt.datetime | None) -> str:
    return when.astimezone(WIB).strftime("%d %b %Y %H:%M") if when else ""


def _wib_input(when: dt.datetime | None) -> str:
    return when.astimezone(WIB).strftime("%Y-%m-%dT%H:%M") if when else ""


def _parse_wib(value: str) -> dt.datetime | None:
    value = value.strip()
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=WIB)


def _rows(
    registry: OfficeRegistry, view: ContentView, scope: str, topics: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for topic in topics:
        record = view.record(scope, topic)
        national = _national_text(registry, topic)
        own = None if scope == NATIONAL_SCOPE else _scope_text(registry, scope, topic)
        rows.append(
            {
                "topic": topic,
                "title": _title(registry, topic),
                "national_fact": topic in NATIONAL_FACTS,
                "national": _excerpt(national.id if national else ""),
                "own": _excerpt(own.id) if own else "",
                "published": record.live if record else None,
                "draft": record.draft if record else None,
            }
        )
    return rows


def _form_values(record: ContentRecord | None, start: LocalizedText | None) -> dict[str, Any]:
    version = (record.draft or record.live) if record else None
    text = version.text if version and version.text else start
    return {
        "text_id": text.id if text else "",
        "text_en": (text.en or "") if text else "",
        "reason": "",
        "source": version.source if version and version.source else "",
        "verified_on": version.verified_on.isoformat() if version and version.verified_on else "",
        "valid_from": _wib_input(version.valid_from) if version else "",
        "valid_until": _wib_input(version.valid_until) if version else "",
    }


def _history(
    registry: OfficeRegistry, record: ContentRecord | None, scope: str, topic: str
) -> list[dict[str, Any]]:
    if record is None:
        return []
    ordered = sorted(record.versions, key=lambda v: v.number)
    baseline = (
        None if topic == ANNOUNCEMENT else _baseline_text(registry, scope, topic)
    )  # what version 1 changed
    previous_text = baseline
    live = record.live
    entries = []
    for version in ordered:
        entries.append(
            {
                "v": version,
                "live": version is live,
                "at": _wib(version.at),
                "published_at": _wib(version.published_at),
                "diff": diff(previous_text, version.text),
                "baseline": version.text is None,
                "may_restore": version.state is ContentState.PUBLISHED and version is not live,
            }
        )
        if version.state is not ContentState.DRAFT:
            previous_text = version.text or baseline
    return list(reversed(entries))


def _preview(
    registry: OfficeRegistry, scope: str, topic: str, edit: Edit
) -> tuple[Office | None, dict[str, Any]]:
    """The candidate as a citizen of one reached office would read it, per language."""
    reached = offices_reached(registry, scope, topic)
    office = reached[0] if reached else None
    if office is None or edit.text is None:
        return office, {}
    candidate = with_candidate(registry, scope, topic, edit)
    if is_text(registry, topic):
        limit = text_limit(registry, topic)
        values = sample_values(topic, registry)
        texts = {}
        for lang in LANGS:
            try:
                text = render_text(candidate, office, topic, lang, **values)
            except FaqContentError as exc:
                texts[lang] = {"error": str(exc)}
                continue
            texts[lang] = {"html": whatsapp_html(text), "chars": len(text), "limit": limit}
        return office, texts
    shown = "pickup" if topic == ANNOUNCEMENT else topic
    at = max(edit.valid_from, dt.datetime.now(dt.UTC)) if edit.valid_from else None
    preview: dict[str, Any] = {}
    for lang in LANGS:
        try:
            text = render(candidate, office, shown, lang, extra=sample_extra(shown), at=at)
        except FaqContentError as exc:
            preview[lang] = {"error": str(exc)}
            continue
        preview[lang] = {"html": whatsapp_html(text), "chars": len(text), "limit": TEXT_LIMIT}
    return office, preview


def _filled(
    registry: OfficeRegistry, scope: str, topic: str, text: LocalizedText
) -> dict[str, Any]:
    """A text as the office's citizens read it (placeholders filled), formatted per language."""
    office = registry.offices.get(scope)
    shown = {}
    for lang in LANGS:
        raw = text.get(lang)
        if office is not None:
            values = office_values(registry, office, lang) | (
                sample_values(topic, registry) if is_text(registry, topic) else sample_extra(topic)
            )
            with contextlib.suppress(KeyError, ValueError, IndexError):
                raw = raw.format_map(values)
        shown[lang] = whatsapp_html(raw)
    return shown


def _may_edit(viewer: Viewer, scope: str, topic: str) -> str | None:
    """Why the viewer may not draft this (None: they may)."""
    if topic in NATIONAL_FACTS and scope != NATIONAL_SCOPE:
        return NATIONAL_FACT_REFUSAL
    if scope == NATIONAL_SCOPE and not viewer.national:
        return NATIONAL_FACT_REFUSAL
    return None


async def _publish(request: Request, record: ContentRecord) -> None:
    await request.app.state.gateway.producer.publish(Topic.CONTENT_PUBLISHED, record.key, record)
    _view(request).apply(record)  # this page shows it at once; the tail applies it again


def build_content_router() -> APIRouter:
    """The content editor's routes."""
    router = APIRouter()

    @router.get("/ops/o/{office}/content", response_class=HTMLResponse)
    async def content_list(request: Request, office: str, done: str = "") -> Response:
        pages = _pages()
        viewer, _ = await pages._office_page(request, office)
        registry = request.app.state.gateway.registry
        view = _view(request)
        scope = _scope(office)
        announcement = view.record(scope, ANNOUNCEMENT) if scope != NATIONAL_SCOPE else None
        live_notice = announcement.live if announcement else None
        return pages._render(
            request,
            "ops/content.html",
            **pages._page_context(request, viewer, office, "content"),
            rows=_rows(registry, view, scope, list(TOPICS)),
            text_rows=_rows(registry, view, scope, list(registry.national.texts)),
            national_page=scope == NATIONAL_SCOPE,
            notice=live_notice if live_notice and live_notice.text else None,
            notice_draft=announcement.draft if announcement else None,
            notice_from=_wib(live_notice.valid_from) if live_notice else "",
            notice_until=_wib(live_notice.valid_until) if live_notice else "",
            notice_showing=bool(
                scope != NATIONAL_SCOPE
                and registry.published.notice(scope, dt.datetime.now(dt.UTC))
            ),
            done=done if done in ("published", "rolled_back", "draft") else "",
        )

    def editor(
        request: Request,
        viewer: Viewer,
        office: str,
        topic: str,
        *,
        form: dict[str, Any] | None = None,
        problems: list[Problem] | None = None,
        preview: tuple[Office | None, dict[str, Any]] | None = None,
        notice: str = "",
        status: int = 200,
    ) -> Response:
        pages = _pages()
        registry = request.app.state.gateway.registry
        scope = _scope(office)
        record = _view(request).record(scope, topic)
        start = None
        if topic != ANNOUNCEMENT:
            start = (
                _national_text(registry, topic)
                if scope == NATIONAL_SCOPE
                else _scope_text(registry, scope, topic) or _national_text(registry, topic)
            )
        national = None if topic == ANNOUNCEMENT else _national_text(registry, topic)
        own = None
        if topic != ANNOUNCEMENT and scope != NATIONAL_SCOPE:
            own = _scope_text(registry, scope, topic)
        preview_office, previews = preview or (None, {})
        return pages._render(
            request,
            "ops/content_edit.html",
            status=status,
            **pages._page_context(request, viewer, office, "content"),
            topic=topic,
            topic_title=_title(registry, topic),
            catalogue_text=is_text(registry, topic),
            scope=scope,
            announcement=topic == ANNOUNCEMENT,
            national_fact=topic in NATIONAL_FACTS,
            refusal=_may_edit(viewer, scope, topic),
            national_text=national,
            own_text=own,
            national_html=_filled(registry, scope, topic, national) if national else {},
            form=form or _form_values(record, start),
            problems=problems or [],
            preview=previews,
            preview_office=preview_office,
            record=record,
            draft=record.draft if record else None,
            live=record.live if record else None,
            history=_history(registry, record, scope, topic),
            notice=notice,
        )

    @router.get("/ops/o/{office}/content/{topic}", response_class=HTMLResponse)
    async def content_edit(request: Request, office: str, topic: str, n: str = "") -> Response:
        topic = _topic_or_404(request, topic)
        notices = {
            "draft": "Draf tersimpan. Kepala kantor dapat menerbitkannya.",
            "published": "Diterbitkan: warga menerima jawaban ini dalam beberapa detik.",
            "rolled_back": "Dibatalkan: versi sebelumnya berlaku lagi.",
        }
        viewer, _ = await _pages()._office_page(request, office)
        return editor(request, viewer, office, topic, notice=notices.get(n, ""))

    @router.post("/ops/o/{office}/content/{topic}")
    async def content_step(
        request: Request,
        office: str,
        topic: str,
        step: Annotated[str, Form(pattern=r"^(preview|draft)$")],
        text_id: Annotated[str, Form(max_length=8000)] = "",
        text_en: Annotated[str, Form(max_length=8000)] = "",
        reason: Annotated[str, Form(max_length=500)] = "",
        source: Annotated[str, Form(max_length=1000)] = "",
        verified_on: Annotated[str, Form(max_length=10)] = "",
        valid_from: Annotated[str, Form(max_length=25)] = "",
        valid_until: Annotated[str, Form(max_length=25)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        pages = _pages()
        topic = _topic_or_404(request, topic)
        viewer, _ = await pages._office_page(request, office, csrf)
        scope = _scope(office)
        ops = pages._ops(request)
        form = {
            "text_id": text_id,
            "text_en": text_en,
            "reason": reason,
            "source": source,
            "verified_on": verified_on,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        refusal = _may_edit(viewer, scope, topic)
        if refusal:
            await ops.audit.record(
                action_for(viewer, f"content.{step}", target_office=office, target=topic,
                           outcome="refused", detail="national fact")
            )  # fmt: skip
            raise ContentRefused(refusal)
        texts = (text_id.strip(), text_en.strip())
        # An empty announcement withdraws it; an empty answer is refused by `check`.
        withdraw = topic == ANNOUNCEMENT and not any(texts)
        problems: list[Problem] = []
        try:
            edit = Edit(
                text=None
                if withdraw
                else LocalizedText.model_construct(id=texts[0], en=texts[1] or None),
                reason=reason.strip(),
                source=source.strip() or None,
                verified_on=dt.date.fromisoformat(verified_on) if verified_on else None,
                valid_from=_parse_wib(valid_from),
                valid_until=_parse_wib(valid_until),
            )
        except ValueError as exc:
            problems.append(Problem("date", f"not a date: {exc}"))
            return editor(request, viewer, office, topic, form=form, problems=problems, status=422)
        registry = request.app.state.gateway.registry
        problems = check(registry, scope, topic, edit)
        if problems or step == "preview":
            preview = _preview(registry, scope, topic, edit) if not problems else None
            return editor(
                request,
                viewer,
                office,
                topic,
                form=form,
                problems=problems,
                preview=preview,
                status=422 if problems else 200,
            )
        lock = _LOCKS.setdefault(f"{scope}:{topic}", asyncio.Lock())
        async with lock:
            record = save_draft(
                _view(request).record(scope, topic),
                scope,
                topic,
                edit,
                author=viewer.username,
                now=dt.datetime.now(dt.UTC),
            )
            await _publish(request, record)
        await ops.audit.record(
            action_for(viewer, "content.draft", target_office=office, target=topic,
                       detail=f"v{record.versions[0].number} {reason.strip()}")
        )  # fmt: skip
        return RedirectResponse(f"/ops/o/{office}/content/{topic}?n=draft", status_code=303)

    @router.post("/ops/o/{office}/content/{topic}/{action}")
    async def content_action(
        request: Request,
        office: str,
        topic: str,
        action: str,
        reason: Annotated[str, Form(max_length=500)] = "",
        to: Annotated[str, Form(max_length=6, pattern=r"^\d*$")] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        pages = _pages()
        topic = _topic_or_404(request, topic, learnt=True)
        if action not in ("publish", "rollback"):
            raise pages.NoSuchOffice(action)
        viewer, _ = await pages._office_page(request, office, csrf)
        scope = _scope(office)
        ops = pages._ops(request)
        refusal = _may_edit(viewer, scope, topic) or (None if viewer.lead else LEAD_REFUSAL)
        if refusal:
            why = "national fact" if refusal == NATIONAL_FACT_REFUSAL else "not a lead"
            await ops.audit.record(
                action_for(viewer, f"content.{action}", target_office=office, target=topic,
                           outcome="refused", detail=why)
            )  # fmt: skip
            raise ContentRefused(refusal)
        registry = request.app.state.gateway.registry
        now = dt.datetime.now(dt.UTC)
        lock = _LOCKS.setdefault(f"{scope}:{topic}", asyncio.Lock())
        async with lock:
            current = _view(request).record(scope, topic)
            try:
                if action == "publish":
                    draft = current.draft if current else None
                    if draft is not None:
                        # Checked again: what is live may have changed since the draft.
                        problems = check(registry, scope, topic, edit_of(draft), now=now)
                        if problems:
                            raise ContentRefused(
                                "Draf tidak lolos pemeriksaan: "
                                + "; ".join(str(p) for p in problems),
                                status=422,
                            )
                    record = publish_draft(current, by=viewer.username, now=now, reason=reason)
                else:
                    record = rollback(
                        current,
                        by=viewer.username,
                        now=now,
                        reason=reason.strip(),
                        to=int(to) if to else None,
                    )
            except ContentStepError as exc:
                raise ContentRefused(str(exc), status=409) from None
            await _publish(request, record)
        top = record.versions[0]
        await ops.audit.record(
            action_for(viewer, f"content.{action}", target_office=office, target=topic,
                       detail=f"v{top.number}" + (f" restores v{top.restores}"
                                                  if top.restores is not None else ""))
        )  # fmt: skip
        done = "published" if action == "publish" else "rolled_back"
        if _LEARNT.match(topic):
            return RedirectResponse(f"/ops/o/{office}/learn?n={done}", status_code=303)
        return RedirectResponse(f"/ops/o/{office}/content/{topic}?n={done}", status_code=303)

    return router


async def content_refused(request: Request, exc: Exception) -> Response:
    """The refusal page, with the reason."""
    assert isinstance(exc, ContentRefused)
    return _pages()._render(request, "ops/error.html", status=exc.status, message=exc.reason)
