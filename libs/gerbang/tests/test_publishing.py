"""Content publishing, pure: the version steps, diffs, validation (field named, nothing applied),
the view built from records, export/import planning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gerbang.bus import Replayed
from gerbang.faq.content import TEXT_LIMIT, render
from gerbang.messages import (
    CONTENT_HISTORY_KEPT,
    Button,
    ButtonsContent,
    ContentRecord,
    ContentState,
    ListContent,
    ListRow,
    ListSection,
    TextContent,
)
from gerbang.offices import NATIONAL_SCOPE, LocalizedText, OfficeRegistry, load_registry
from gerbang.publishing.transfer import ImportRefused, export_yaml, parse, plan_import
from gerbang.publishing.validate import check, reply_problems
from gerbang.publishing.versions import (
    ANNOUNCEMENT,
    ContentStepError,
    Edit,
    diff,
    publish_draft,
    publish_now,
    rollback,
    save_draft,
)
from gerbang.publishing.view import ContentView

OFFICES = Path(__file__).resolve().parents[3] / "offices"
NOW = dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)
TEXT = LocalizedText(id="*Ambil paspor* di {short_name}", en="*Pickup* at {short_name}")


@pytest.fixture
def registry() -> OfficeRegistry:
    return load_registry(OFFICES)


def _edit(text: LocalizedText | None = TEXT, **fields: object) -> Edit:
    return Edit(text=text, **fields)  # type: ignore[arg-type]


def _field_of(problems: list[object]) -> list[str]:
    return [p.field for p in problems]  # type: ignore[attr-defined]


# --- steps ---------------------------------------------------------------------------------


def test_draft_publish_rollback_history() -> None:
    first = save_draft(None, "jakpus", "pickup", _edit(reason="jam"), author="a", now=NOW)
    assert first.key == "jakpus:pickup" and first.live is None
    assert first.draft is not None and first.draft.number == 1
    live1 = publish_draft(first, by="lead", now=NOW)
    assert live1.live is not None and live1.live.published_by == "lead" and live1.draft is None
    second_text = LocalizedText(id="baru", en="new")
    drafted = save_draft(live1, "jakpus", "pickup", _edit(second_text), author="a", now=NOW)
    assert drafted.live is not None and drafted.live.number == 1  # a draft changes nothing
    live2 = publish_draft(drafted, by="lead", now=NOW)
    assert live2.live is not None and live2.live.text == second_text
    undone = rollback(live2, by="lead", now=NOW)
    assert undone.live is not None and undone.live.text == TEXT and undone.live.restores == 1
    assert [v.state for v in undone.versions] == [
        ContentState.PUBLISHED,
        ContentState.ROLLED_BACK,
        ContentState.PUBLISHED,
    ]
    # Rolling back the first version goes back to the YAML (text None).
    to_yaml = rollback(undone, by="lead", now=NOW, to=0)
    assert to_yaml.live is not None and to_yaml.live.text is None and to_yaml.live.restores == 0


def test_steps_refused_when_they_do_not_apply() -> None:
    record = publish_now(None, "jakpus", "pickup", _edit(), author="import", now=NOW)
    with pytest.raises(ContentStepError):
        publish_draft(record, by="lead", now=NOW)
    with pytest.raises(ContentStepError):
        rollback(None, by="lead", now=NOW)
    with pytest.raises(ContentStepError):
        rollback(record, by="lead", now=NOW, to=1)  # is live already
    draft = save_draft(record, "jakpus", "pickup", _edit(), author="a", now=NOW)
    with pytest.raises(ContentStepError):
        rollback(draft, by="lead", now=NOW, to=2)  # a draft was never published


def test_history_is_bounded_and_keeps_what_is_live() -> None:
    record = publish_now(None, "jakpus", "pickup", _edit(), author="import", now=NOW)
    for _ in range(CONTENT_HISTORY_KEPT + 5):
        record = save_draft(record, "jakpus", "pickup", _edit(), author="a", now=NOW)
    assert len(record.versions) == CONTENT_HISTORY_KEPT
    assert record.live is not None and record.live.number == 1


def test_diff_per_language() -> None:
    old = LocalizedText(id="a\nb\nc", en="x")
    new = LocalizedText(id="a\nB\nc", en="x")
    lines = diff(old, new)
    assert [(d.lang, d.op, d.text) for d in lines if d.op != " "] == [
        ("id", "-", "b"),
        ("id", "+", "B"),
    ]
    assert all(d.lang == "id" for d in lines)  # unchanged English: no lines
    assert [d.op for d in diff(None, LocalizedText(id="n", en="e"))] == ["+", "+"]


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "topic", "edit", "fields"),
    [
        ("jakpus", "pickup", _edit(LocalizedText.model_construct(id="x", en=None)), ["text.en"]),
        ("jakpus", "pickup", _edit(LocalizedText.model_construct(id=" ", en="x")), ["text.id"]),
        ("jakpus", "pickup", _edit(LocalizedText(id="{nope}", en="x")), ["text.id"]),
        ("jakpus", "pickup", _edit(LocalizedText(id="x", en="{number}")), ["text.en"]),
        ("jakpus", "pickup", _edit(LocalizedText(id="x {", en="x")), ["text.id"]),
        ("jakpus", "pickup", _edit(LocalizedText(id="x" * 4097, en="x")), ["text.id"]),
        ("jakpus", "fees", _edit(), ["topic"]),
        ("national", "fees", _edit(), ["source", "verified_on"]),
        (
            "national",
            "fees",
            _edit(source="PP 45/2024", verified_on=dt.date(2027, 1, 1)),
            ["verified_on"],
        ),
        ("nowhere", "pickup", _edit(), ["office"]),
        ("jakpus", "nonsense", _edit(), ["topic"]),
        ("national", ANNOUNCEMENT, _edit(), ["office"]),
        ("jakpus", ANNOUNCEMENT, _edit(), ["valid_from", "valid_until"]),
        (
            "jakpus",
            ANNOUNCEMENT,
            _edit(valid_from=NOW, valid_until=NOW - dt.timedelta(hours=1)),
            ["valid_until"],
        ),
        (
            "jakpus",
            ANNOUNCEMENT,
            _edit(
                LocalizedText(id="x" * 1001, en="x"),
                valid_from=NOW,
                valid_until=NOW + dt.timedelta(days=1),
            ),
            ["text.id"],
        ),
    ],
)
def test_refused_with_the_field_named(
    registry: OfficeRegistry, scope: str, topic: str, edit: Edit, fields: list[str]
) -> None:
    assert _field_of(check(registry, scope, topic, edit, now=NOW)) == fields
    assert registry.published.answer(scope, topic) is None  # nothing applied


def test_accepted_edits(registry: OfficeRegistry) -> None:
    assert check(registry, "jakpus", "pickup", _edit(), now=NOW) == []
    fees = _edit(source="PP 45/2024", verified_on=dt.date(2026, 11, 30))
    assert check(registry, NATIONAL_SCOPE, "fees", fees, now=NOW) == []
    notice = _edit(valid_from=NOW, valid_until=NOW + dt.timedelta(days=1))
    assert check(registry, "jakpus", ANNOUNCEMENT, notice, now=NOW) == []


def test_length_is_checked_after_placeholders_at_every_office(registry: OfficeRegistry) -> None:
    """A national text that fits as written (4,083 characters) but not once an office's hours
    fill `{hours}`: refused, naming the language and an office."""
    text = LocalizedText(id="x" * (TEXT_LIMIT - 20) + "{hours}", en="x")
    assert len(text.id) < TEXT_LIMIT
    [problem] = check(registry, NATIONAL_SCOPE, "hours_location", _edit(text), now=NOW)
    assert problem.field == "text.id"
    assert "characters at " in problem.message and "4,096" in problem.message


def test_an_announcement_that_pushes_an_answer_over_the_limit(registry: OfficeRegistry) -> None:
    """jakpus's pickup answer of 3,500 characters fits; with a 999-character announcement
    above it, it would not: the announcement is refused, the same one at bogor is not."""
    ContentView(registry).apply(
        publish_now(
            None,
            "jakpus",
            "pickup",
            _edit(LocalizedText(id="p" * 3500, en="p")),
            author="a",
            now=NOW,
        )
    )
    edit = _edit(
        LocalizedText(id="y" * 999, en="y"), valid_from=NOW, valid_until=NOW + dt.timedelta(days=1)
    )
    [problem] = check(registry, "jakpus", ANNOUNCEMENT, edit, now=NOW)
    assert problem.field == "text.id" and "(pickup)" in problem.message
    assert check(registry, "bogor", ANNOUNCEMENT, edit, now=NOW) == []


def test_whatsapp_limits_on_interactive_replies() -> None:
    rows = [ListRow(id=f"r{i}", title="t" * 24) for i in range(10)]
    good = ListContent(body="b", button="Pilih", sections=[ListSection(title="s", rows=rows)])
    assert reply_problems(good) == []
    too_many = ListContent.model_construct(
        body="b",
        button="x" * 21,
        sections=[
            ListSection.model_construct(
                title="s", rows=[*rows, ListRow.model_construct(id="r", title="t" * 25)]
            )
        ],
    )
    assert _field_of(reply_problems(too_many)) == ["rows", "button", "rows[10].title"]
    buttons = ButtonsContent.model_construct(
        body="b", buttons=[Button.model_construct(id=str(i), title="t" * 21) for i in range(4)]
    )
    assert _field_of(reply_problems(buttons))[:2] == ["buttons", "buttons[0].title"]
    assert _field_of(reply_problems(TextContent.model_construct(body="x" * 4097))) == ["body"]


# --- the view ------------------------------------------------------------------------------


def _replayed(record: ContentRecord | None, key: str, raw: bytes | None = b"x") -> Replayed:  # type: ignore[type-arg]
    return Replayed("content.published", 0, 0, key, record, None if record is None else raw)


async def test_view_applies_records_over_the_yaml(registry: OfficeRegistry) -> None:
    view = ContentView(registry)
    jakpus, bogor = registry.get("jakpus"), registry.get("bogor")
    before = render(registry, bogor, "pickup", "id")
    record = publish_now(None, "jakpus", "pickup", _edit(), author="a", now=NOW)
    await view.apply_batch([_replayed(record, record.key)])
    assert render(registry, jakpus, "pickup", "id").startswith("*Ambil paspor* di Kanim")
    assert render(registry, bogor, "pickup", "id") == before  # another office: unchanged
    # A national publish reaches every office without its own answer.
    fees = publish_now(
        None,
        NATIONAL_SCOPE,
        "fees",
        _edit(LocalizedText(id="Biaya baru", en="New fees"), source="s", verified_on=NOW.date()),
        author="n",
        now=NOW,
    )
    view.apply(fees)
    assert render(registry, bogor, "fees", "en") == "New fees"
    # An older record read again (a reconnect) does not undo a newer one.
    newer = rollback(record, by="lead", now=NOW)
    view.apply(newer)
    view.apply(record)
    assert "Ambil paspor" not in render(registry, jakpus, "pickup", "id")
    # A tombstone removes the key: the YAML answers.
    await view.apply_batch([_replayed(None, "national:fees", raw=None)])
    assert render(registry, bogor, "fees", "en") != "New fees"


def test_announcement_shows_above_answers_only_while_valid(registry: OfficeRegistry) -> None:
    view = ContentView(registry)
    jakpus = registry.get("jakpus")
    notice = LocalizedText(id="Kantor tutup {short_name}", en="Office closed")
    record = publish_now(
        None,
        "jakpus",
        ANNOUNCEMENT,
        _edit(notice, valid_from=NOW, valid_until=NOW + dt.timedelta(days=1)),
        author="lead",
        now=NOW,
    )
    view.apply(record)
    during = render(registry, jakpus, "pickup", "id", at=NOW + dt.timedelta(hours=1))
    assert during.startswith("📢 Kantor tutup Kanim Jakarta Pusat\n\n*Pengambilan paspor*")
    assert not render(registry, jakpus, "pickup", "id", at=NOW - dt.timedelta(hours=1)).startswith(
        "📢"
    )
    assert not render(registry, jakpus, "pickup", "id", at=NOW + dt.timedelta(days=2)).startswith(
        "📢"
    )
    assert not render(registry, registry.get("bogor"), "pickup", "id", at=NOW).startswith("📢")
    assert not render(registry, jakpus, "greeting", "id", at=NOW).startswith("📢")


# --- export / import -----------------------------------------------------------------------


def test_export_import_round_trip(registry: OfficeRegistry) -> None:
    view = ContentView(registry)
    view.apply(publish_now(None, "jakpus", "pickup", _edit(), author="a", now=NOW))
    view.apply(
        publish_now(
            None,
            "jakpus",
            ANNOUNCEMENT,
            _edit(valid_from=NOW, valid_until=NOW + dt.timedelta(days=1)),
            author="a",
            now=NOW,
        )
    )
    text = export_yaml(view)
    entries = parse(text)
    assert {(e.scope, e.topic) for e in entries} == {("jakpus", "pickup"), ("jakpus", ANNOUNCEMENT)}
    # Into the same content: nothing to publish. Into an empty deployment: the same live texts.
    assert plan_import(view, entries, reason="r", now=NOW) == []
    fresh = ContentView(load_registry(OFFICES))
    records = plan_import(fresh, entries, reason="r", now=NOW)
    assert {r.key for r in records} == {"jakpus:pickup", "jakpus:announcement"}
    assert all(r.live and r.live.author == "import" for r in records)
    for record in records:
        fresh.apply(record)
    assert export_yaml(fresh) == text


def test_import_refuses_the_whole_file(registry: OfficeRegistry) -> None:
    view = ContentView(registry)
    text = (
        "jakpus:\n  pickup:\n    text: {id: ok, en: ok}\n"
        "  fees:\n    text: {id: murah, en: cheap}\n"
        "national:\n  fees:\n    text: {id: 'Biaya', en: 'Fees'}\n"
    )
    with pytest.raises(ImportRefused) as refused:
        plan_import(view, parse(text), reason="r", now=NOW)
    assert [p.split(":")[0] for p in refused.value.problems] == [
        "jakpus.fees.topic",
        "national.fees.source",
        "national.fees.verified_on",
    ]
    with pytest.raises(ImportRefused):
        parse("jakpus: [1, 2]")
    with pytest.raises(ImportRefused):
        parse("jakpus:\n  pickup:\n    text: {en: only}\n")
