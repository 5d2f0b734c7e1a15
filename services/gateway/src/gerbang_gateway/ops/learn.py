"""`/ops`: closing the loop on unanswered questions (the misses the FAQ could not answer).

From the misses list staff either attach a message to a topic (it becomes a labelled example
of that office: `<office>:examples.<topic>` on `content.published`), or create a topic of
the office's own (`<office>:own.<name>`: title, answer in both languages, a few example
questions). Any of the office's staff saves a draft; the office lead (or national staff)
publishes, and every router's matcher learns it within seconds (`gerbang.understanding.
examples`: that office only). Validation, versions, history and rollback are the content
editor's (`gerbang.publishing`); each step is audited on `ops.audit`.

Routes:
    GET  /ops/o/{office}/learn                   the office's examples and own topics, history
    GET  /ops/o/{office}/learn/new?text=…        act on a miss: attach it, or a new topic
    POST /ops/o/{office}/learn/attach            text, topic, step=draft|publish
    POST /ops/o/{office}/learn/topic             name, titles, answers, examples, step
    (publish a draft / roll back: POST /ops/o/{office}/content/{record}/{publish|rollback})
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gerbang.faq.content import FAQ_TOPICS
from gerbang.messages import ContentKind, ContentRecord
from gerbang.offices import OWN_TOPIC_PREFIX, LocalizedText
from gerbang.publishing.validate import Problem, check
from gerbang.publishing.versions import (
    Edit,
    examples_key,
    examples_target,
    publish_now,
    save_draft,
)
from gerbang_gateway.ops.access import ALL_OFFICES, Viewer
from gerbang_gateway.ops.audit import action_for
from gerbang_gateway.ops.content import (
    _LOCKS,
    LEAD_REFUSAL,
    TOPIC_TITLES,
    WIB,
    ContentRefused,
    _pages,
    _publish,
    _view,
)


def _topics(request: Request, office: str) -> list[tuple[str, str]]:
    """What a miss can be attached to: the FAQ topics and the office's own live topics."""
    registry = request.app.state.gateway.registry
    own = registry.published.own_topics(office)
    return [(topic, TOPIC_TITLES.get(topic, topic)) for topic in FAQ_TOPICS] + [
        (topic, f"{value.title.id} (topik kantor)") for topic, value in sorted(own.items())
    ]


def _target_title(request: Request, office: str, topic: str) -> str:
    own = request.app.state.gateway.registry.published.own_topics(office).get(topic)
    return own.title.id if own else TOPIC_TITLES.get(topic, topic)


def _learn_records(request: Request, office: str) -> list[dict[str, Any]]:
    rows = []
    for record in _view(request):
        if record.scope != office or record.kind not in (
            ContentKind.EXAMPLES,
            ContentKind.OFFICE_TOPIC,
        ):
            continue
        live, draft = record.live, record.draft
        target = examples_target(record.topic)
        rows.append(
            {
                "key": record.topic,
                "kind": "examples" if target else "topic",
                "target": target or record.topic,
                "target_title": _target_title(request, office, target or record.topic),
                "title": (live or draft or record.versions[0]).title,
                "live": live,
                "draft": draft,
                "history": [
                    {
                        "v": v,
                        "at": v.at.astimezone(WIB).strftime("%d %b %Y %H:%M"),
                        "examples": len(v.examples),
                    }
                    for v in record.versions
                ],
            }
        )
    return rows


def _current(record: ContentRecord | None) -> tuple[str, ...]:
    """The examples a new version builds on: the pending draft's, else what is live."""
    version = (record.draft or record.live) if record else None
    return version.examples if version else ()


def _office_only(office: str) -> None:
    if office == ALL_OFFICES:
        raise ContentRefused(
            "Contoh dan topik kantor milik satu kantor: buka halaman kantornya. / Examples and "
            "office topics belong to one office: open that office's page.",
            status=400,
        )


async def _save(
    request: Request,
    viewer: Viewer,
    office: str,
    topic: str,
    edit_of: Callable[[ContentRecord | None], Edit],
    step: str,
    refused: Callable[[list[Problem]], Response],
) -> Response:
    """Check, then save a draft (`step=draft`) or publish at once (`step=publish`, leads);
    the learn page with what happened, or `refused(problems)` (nothing saved)."""
    ops = _pages()._ops(request)
    if step == "publish" and not viewer.lead:
        await ops.audit.record(
            action_for(viewer, "content.publish", target_office=office, target=topic,
                       outcome="refused", detail="not a lead")
        )  # fmt: skip
        raise ContentRefused(LEAD_REFUSAL)
    registry = request.app.state.gateway.registry
    now = dt.datetime.now(dt.UTC)
    async with _LOCKS.setdefault(f"{office}:{topic}", asyncio.Lock()):
        current = _view(request).record(office, topic)
        edit = edit_of(current)  # under the lock: two attaches at once both count
        problems = check(registry, office, topic, edit, now=now)
        if problems:
            await ops.audit.record(
                action_for(viewer, f"content.{step}", target_office=office, target=topic,
                           outcome="refused", detail=str(problems[0]))
            )  # fmt: skip
            return refused(problems)
        make = publish_now if step == "publish" else save_draft
        record = make(current, office, topic, edit, author=viewer.username, now=now)
        await _publish(request, record)
    await ops.audit.record(
        action_for(viewer, f"content.{step}", target_office=office, target=topic,
                   detail=f"v{record.versions[0].number} {edit.reason}")
    )  # fmt: skip
    done = "published" if step == "publish" else "draft"
    return RedirectResponse(f"/ops/o/{office}/learn?n={done}", status_code=303)


def build_learn_router() -> APIRouter:
    """The routes that turn unanswered questions into examples and office topics."""
    router = APIRouter()

    def page(
        request: Request,
        viewer: Viewer,
        office: str,
        *,
        text: str = "",
        form: dict[str, Any] | None = None,
        problems: list[Problem] | None = None,
        notice: str = "",
        status: int = 200,
    ) -> Response:
        pages = _pages()
        return pages._render(
            request,
            "ops/learn.html",
            status=status,
            **pages._page_context(request, viewer, office, "content"),
            miss=text,
            topics=_topics(request, office),
            records=_learn_records(request, office),
            form=form or {"examples": text},
            problems=problems or [],
            notice=notice,
        )

    @router.get("/ops/o/{office}/learn", response_class=HTMLResponse)
    async def learn_page(request: Request, office: str, n: str = "") -> Response:
        viewer, _ = await _pages()._office_page(request, office)
        _office_only(office)
        notices = {
            "draft": "Draf tersimpan. Kepala kantor dapat menerbitkannya.",
            "published": "Diterbitkan: bot kantor ini mempelajarinya dalam beberapa detik.",
            "rolled_back": "Dibatalkan: versi sebelumnya berlaku lagi.",
        }
        return page(request, viewer, office, notice=notices.get(n, ""))

    @router.get("/ops/o/{office}/learn/new", response_class=HTMLResponse)
    async def learn_new(request: Request, office: str, text: str = "") -> Response:
        viewer, _ = await _pages()._office_page(request, office)
        _office_only(office)
        return page(request, viewer, office, text=text[:300])

    @router.post("/ops/o/{office}/learn/attach")
    async def learn_attach(
        request: Request,
        office: str,
        text: Annotated[str, Form(max_length=1000)],
        topic: Annotated[str, Form(max_length=64)],
        step: Annotated[str, Form(pattern=r"^(draft|publish)$")] = "draft",
        reason: Annotated[str, Form(max_length=500)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        viewer, _ = await _pages()._office_page(request, office, csrf)
        _office_only(office)

        def attached(current: ContentRecord | None) -> Edit:
            return Edit(
                text=None,
                examples=(*_current(current), text.strip()),
                reason=reason.strip() or "pertanyaan belum terjawab dilampirkan",
            )

        def refused(found: list[Problem]) -> Response:
            return page(request, viewer, office, text=text, problems=found, status=422)

        return await _save(request, viewer, office, examples_key(topic), attached, step, refused)

    @router.post("/ops/o/{office}/learn/topic")
    async def learn_topic(
        request: Request,
        office: str,
        name: Annotated[str, Form(max_length=40)],
        title_id: Annotated[str, Form(max_length=200)] = "",
        title_en: Annotated[str, Form(max_length=200)] = "",
        text_id: Annotated[str, Form(max_length=8000)] = "",
        text_en: Annotated[str, Form(max_length=8000)] = "",
        examples: Annotated[str, Form(max_length=4000)] = "",
        step: Annotated[str, Form(pattern=r"^(draft|publish)$")] = "draft",
        reason: Annotated[str, Form(max_length=500)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        viewer, _ = await _pages()._office_page(request, office, csrf)
        _office_only(office)
        form = {
            "name": name,
            "title_id": title_id,
            "title_en": title_en,
            "text_id": text_id,
            "text_en": text_en,
            "examples": examples,
            "reason": reason,
        }
        slug = name.strip().lower().replace(" ", "_").replace("-", "_")
        topic = slug if slug.startswith(OWN_TOPIC_PREFIX) else f"{OWN_TOPIC_PREFIX}{slug}"
        edit = Edit(
            title=LocalizedText.model_construct(id=title_id.strip(), en=title_en.strip() or None),
            text=LocalizedText.model_construct(id=text_id.strip(), en=text_en.strip() or None),
            examples=tuple(line.strip() for line in examples.splitlines() if line.strip()),
            reason=reason.strip() or "topik baru dari pertanyaan belum terjawab",
        )

        def refused(found: list[Problem]) -> Response:
            return page(request, viewer, office, form=form, problems=found, status=422)

        return await _save(request, viewer, office, topic, lambda _: edit, step, refused)

    return router
