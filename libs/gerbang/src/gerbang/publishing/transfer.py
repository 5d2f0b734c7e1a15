"""`gerbang content export` / `import`: what is live over the YAML, as one YAML file.

The file lists, per scope (`national` or an office code), the published answers and the
office's announcement, in the form the office YAML uses (`text: {id, en}`, `source`,
`verified_on`; announcements with `valid_from`/`valid_until`). Export reads the whole topic
(a replay); import validates every entry against what is live with the file's earlier entries
applied, refuses the whole file on any problem (nothing half-applied), and publishes each
entry that differs from what is live as a new version by author "import".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from gerbang.bus import Producer, Publish, replay
from gerbang.messages import ContentKind, ContentRecord, Topic
from gerbang.offices import LocalizedText, OfficeRegistry
from gerbang.publishing.validate import Problem, check, with_candidate
from gerbang.publishing.versions import (
    ANNOUNCEMENT,
    Edit,
    edit_of,
    examples_target,
    is_own_topic,
    publish_now,
)
from gerbang.publishing.view import ContentView
from gerbang.settings import ServiceSettings

IMPORT_AUTHOR = "import"
HEADER = (
    "# Gerbang content: what staff published over the YAML baseline (offices/).\n"
    "# `gerbang content import <file>` publishes it (validated; author 'import').\n"
)


class ImportRefused(Exception):
    """The file is refused as a whole; `problems` name each entry and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    """One entry of an export file."""

    scope: str
    topic: str
    edit: Edit


def export_data(view: ContentView) -> dict[str, dict[str, dict[str, Any]]]:
    """What is live in `view`, as the export's mapping (scopes and topics sorted)."""
    data: dict[str, dict[str, dict[str, Any]]] = {}
    for record in view:
        live = record.live
        if record.kind is ContentKind.EXAMPLES:
            if live is not None and live.examples:
                data.setdefault(record.scope, {})[record.topic] = {"examples": list(live.examples)}
            continue
        if live is None or live.text is None:
            continue  # never published, or back to the YAML: the baseline is live
        entry: dict[str, Any] = {"text": {"id": live.text.id, "en": live.text.en}}
        if live.title is not None:
            entry["title"] = {"id": live.title.id, "en": live.title.en}
        if live.examples:
            entry["examples"] = list(live.examples)
        for name in ("source", "verified_on", "valid_from", "valid_until"):
            value = getattr(live, name)
            if value is not None:
                entry[name] = value.isoformat() if isinstance(value, dt.date) else value
        data.setdefault(record.scope, {})[record.topic] = entry
    return data


def export_yaml(view: ContentView) -> str:
    """The export file's text."""
    body = yaml.safe_dump(export_data(view), allow_unicode=True, sort_keys=True, width=100)
    return HEADER + body


def parse(text: str) -> list[Entry]:
    """The entries of an export file; `ImportRefused` naming what is malformed."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ImportRefused([f"not YAML: {exc}"]) from None
    if not isinstance(data, Mapping):
        raise ImportRefused(["the file must map scopes (national, office codes) to topics"])
    entries: list[Entry] = []
    problems: list[str] = []
    for scope, topics in data.items():
        if not isinstance(topics, Mapping):
            problems.append(f"{scope}: must map topics to entries")
            continue
        for topic, raw in topics.items():
            where = f"{scope}.{topic}"
            if isinstance(raw, Mapping) and examples_target(str(topic)) is not None:
                examples = raw.get("examples")
                if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
                    problems.append(f"{where}.examples: required (a list of messages)")
                    continue
                entries.append(
                    Entry(str(scope), str(topic), Edit(text=None, examples=tuple(examples)))
                )
                continue
            if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), Mapping):
                problems.append(f"{where}.text: required ({{id: …, en: …}})")
                continue
            try:
                entries.append(Entry(str(scope), str(topic), _edit(raw)))
            except (ValidationError, ValueError, TypeError) as exc:
                problems.append(f"{where}: {exc}")
    if problems:
        raise ImportRefused(problems)
    return entries


def _edit(raw: Mapping[str, Any]) -> Edit:
    def when(value: Any) -> dt.datetime | None:
        if value is None or isinstance(value, dt.datetime):
            return value
        parsed = dt.datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    verified = raw.get("verified_on")
    if verified is not None and not isinstance(verified, dt.date):
        verified = dt.date.fromisoformat(str(verified))
    examples = raw.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise ValueError("examples: a list of messages")
    return Edit(
        title=LocalizedText.model_validate(raw["title"]) if raw.get("title") else None,
        examples=tuple(examples),
        text=LocalizedText.model_validate(raw["text"]),
        source=raw.get("source"),
        verified_on=verified,
        valid_from=when(raw.get("valid_from")),
        valid_until=when(raw.get("valid_until")),
    )


def plan_import(
    view: ContentView, entries: list[Entry], *, reason: str, now: dt.datetime
) -> list[ContentRecord]:
    """The records an import publishes (entries equal to what is live are left out), or
    `ImportRefused` with every problem; nothing is applied here."""
    registry: OfficeRegistry = view.registry
    problems: list[str] = []
    records: list[ContentRecord] = []
    # An office's own topic before the examples attached to it (they need it live).
    for entry in sorted(entries, key=lambda e: not is_own_topic(e.topic)):
        edit = Edit(
            text=entry.edit.text,
            reason=reason,
            source=entry.edit.source,
            verified_on=entry.edit.verified_on,
            valid_from=entry.edit.valid_from,
            valid_until=entry.edit.valid_until,
            title=entry.edit.title,
            examples=entry.edit.examples,
        )
        found: list[Problem] = check(registry, entry.scope, entry.topic, edit, now=now)
        if found:
            problems += [f"{entry.scope}.{entry.topic}.{p}" for p in found]
            continue
        # Later entries are checked with this one live (an announcement over new answers).
        registry = with_candidate(registry, entry.scope, entry.topic, edit)
        current = view.record(entry.scope, entry.topic)
        live = current.live if current else None
        if live is not None and _same(edit_of(live), edit):
            continue
        records.append(
            publish_now(current, entry.scope, entry.topic, edit, author=IMPORT_AUTHOR, now=now)
        )
    if problems:
        raise ImportRefused(problems)
    return records


def _same(a: Edit, b: Edit) -> bool:
    fields = ("text", "source", "verified_on", "valid_from", "valid_until", "title", "examples")
    return all(getattr(a, name) == getattr(b, name) for name in fields)


async def read_view(settings: ServiceSettings, registry: OfficeRegistry) -> ContentView:
    """The content view as it is now (a replay of the whole topic)."""
    view = ContentView(registry)
    await replay(
        settings, Topic.CONTENT_PUBLISHED, ContentRecord, view.apply_batch, client_id="content-cli"
    )
    return view


async def import_file(
    settings: ServiceSettings, registry: OfficeRegistry, text: str, *, reason: str
) -> list[ContentRecord]:
    """Validate and publish an export file; returns the records published."""
    entries = parse(text)
    view = await read_view(settings, registry)
    records = plan_import(view, entries, reason=reason, now=dt.datetime.now(dt.UTC))
    producer = Producer(settings, "content-import")
    await producer.start()
    try:
        await producer.publish_many(
            [Publish(Topic.CONTENT_PUBLISHED, record.key, record) for record in records]
        )
    finally:
        await producer.stop()
    return records


__all__ = [
    "ANNOUNCEMENT",
    "ImportRefused",
    "export_yaml",
    "import_file",
    "parse",
    "plan_import",
    "read_view",
]
