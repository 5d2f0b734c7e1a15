"""The steps of a content record's life, pure: draft → publish → (roll back), and diffs.

Each step takes the record as it is (None: nothing was ever written for that key) and returns
the next record; the caller publishes it on `content.published` (key `scope:topic`). A
record carries its history (`versions`, newest first, at most `CONTENT_HISTORY_KEPT`), so
compaction, which keeps only the latest record per key, loses no version that is shown.
"""

from __future__ import annotations

import datetime as dt
import difflib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from gerbang.faq.content import TOPICS
from gerbang.messages import (
    CONTENT_HISTORY_KEPT,
    ContentKind,
    ContentRecord,
    ContentState,
    ContentVersion,
)
from gerbang.offices import OWN_TOPIC_PREFIX, LocalizedText

ANNOUNCEMENT = "announcement"
"""The topic name of an office's announcement record (`<office>:announcement`)."""
EXAMPLES_PREFIX = "examples."
"""An office's labelled examples of one topic: `<office>:examples.<topic>` (`examples.fees`,
`examples.requirements.minor`, `examples.own.<name>`)."""


def is_own_topic(topic: str) -> bool:
    """Whether `topic` is an office's own topic (`own.<name>`)."""
    return topic.startswith(OWN_TOPIC_PREFIX)


def examples_key(topic: str) -> str:
    """The record topic holding an office's examples of `topic`."""
    return f"{EXAMPLES_PREFIX}{topic}"


def examples_target(record_topic: str) -> str | None:
    """The topic an examples record labels (`examples.fees` → `fees`), else None."""
    if record_topic.startswith(EXAMPLES_PREFIX):
        return record_topic[len(EXAMPLES_PREFIX) :]
    return None


# National facts: the same for every office, sourced and dated, edited only by national staff
# (the issue: fees, requirements, payment deadline). The lost/damaged answers carry the
# replacement fees and fines.
NATIONAL_FACTS: frozenset[str] = frozenset(
    topic
    for topic in TOPICS
    if topic.partition(".")[0] in ("requirements", "fees", "payment", "lost", "damaged")
    or topic == "lost_damaged"
)
assert NATIONAL_FACTS <= set(TOPICS)


class ContentStepError(Exception):
    """The step does not apply to the record as it is (nothing to publish, nothing to undo)."""


@dataclass(frozen=True)
class Edit:
    """What staff wrote: the texts and, for national facts, source and date checked."""

    text: LocalizedText | None
    reason: str = ""
    source: str | None = None
    verified_on: dt.date | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    title: LocalizedText | None = None
    """An office's own topic: its name in `/ops` (both languages)."""
    examples: tuple[str, ...] = ()
    """Examples records and office topics: messages citizens wrote for this topic."""


def edit_of(version: ContentVersion) -> Edit:
    """The content fields of a version, as an `Edit` (to check or compare it again)."""
    return Edit(
        text=version.text,
        reason=version.reason,
        source=version.source,
        verified_on=version.verified_on,
        valid_from=version.valid_from,
        valid_until=version.valid_until,
        title=version.title,
        examples=version.examples,
    )


def record_key(scope: str, topic: str) -> str:
    """The Kafka key of a scope's topic: `jakpus:fees`, `national:fees`."""
    return f"{scope}:{topic}"


def kind_of(topic: str) -> ContentKind:
    """Announcement, examples, an office's own topic or an answer, from the topic name."""
    if topic == ANNOUNCEMENT:
        return ContentKind.ANNOUNCEMENT
    if topic.startswith(EXAMPLES_PREFIX):
        return ContentKind.EXAMPLES
    if is_own_topic(topic):
        return ContentKind.OFFICE_TOPIC
    return ContentKind.ANSWER


def _version(
    record: ContentRecord | None,
    edit: Edit,
    *,
    author: str,
    state: ContentState,
    now: dt.datetime,
    restores: int | None = None,
) -> ContentVersion:
    number = 1 + max((v.number for v in record.versions), default=0) if record else 1
    published = state is ContentState.PUBLISHED
    return ContentVersion(
        version_id=uuid.uuid4().hex,
        number=number,
        text=edit.text,
        author=author,
        at=now,
        reason=edit.reason,
        source=edit.source,
        verified_on=edit.verified_on,
        valid_from=edit.valid_from,
        valid_until=edit.valid_until,
        state=state,
        published_by=author if published else None,
        published_at=now if published else None,
        restores=restores,
        title=edit.title,
        examples=edit.examples,
    )


def _with(
    record: ContentRecord | None, scope: str, topic: str, versions: list[ContentVersion]
) -> ContentRecord:
    live = next((v for v in versions if v.state is ContentState.PUBLISHED), None)
    # Keep the newest versions, and always the live one (it may be older than the drafts).
    kept = versions[:CONTENT_HISTORY_KEPT]
    if live is not None and live not in kept:
        kept = [*kept[: CONTENT_HISTORY_KEPT - 1], live]
    return ContentRecord(scope=scope, topic=topic, kind=kind_of(topic), versions=kept)


def save_draft(
    record: ContentRecord | None,
    scope: str,
    topic: str,
    edit: Edit,
    *,
    author: str,
    now: dt.datetime,
    state: ContentState = ContentState.DRAFT,
) -> ContentRecord:
    """A new version on top of the record: a draft (what is live does not change), or with
    `state=PUBLISHED` live at once (imports)."""
    version = _version(record, edit, author=author, state=state, now=now)
    return _with(record, scope, topic, [version, *(record.versions if record else [])])


def publish_now(
    record: ContentRecord | None,
    scope: str,
    topic: str,
    edit: Edit,
    *,
    author: str,
    now: dt.datetime,
) -> ContentRecord:
    """A new version that is live at once (imports)."""
    return save_draft(
        record, scope, topic, edit, author=author, now=now, state=ContentState.PUBLISHED
    )


def publish_draft(
    record: ContentRecord | None, *, by: str, now: dt.datetime, reason: str = ""
) -> ContentRecord:
    """The pending draft becomes what citizens read."""
    draft = record.draft if record else None
    if record is None or draft is None:
        raise ContentStepError("there is no draft to publish")
    published = draft.model_copy(
        update={
            "state": ContentState.PUBLISHED,
            "published_by": by,
            "published_at": now,
            "reason": reason or draft.reason,
        }
    )
    versions = [published if v.version_id == draft.version_id else v for v in record.versions]
    # The published draft moves to the top: the history reads in the order things went live.
    versions.remove(published)
    return _with(record, record.scope, record.topic, [published, *versions])


def rollback(
    record: ContentRecord | None,
    *,
    by: str,
    now: dt.datetime,
    reason: str = "",
    to: int | None = None,
) -> ContentRecord:
    """Undo what is live in one step: a new published version with the text of version `to`
    (by default the one published before it; the YAML baseline when there is none). The
    version undone is marked rolled back."""
    live = record.live if record else None
    if record is None or live is None:
        raise ContentStepError("nothing published to roll back")
    older = record.versions[record.versions.index(live) + 1 :]
    if to is None:
        target = next((v for v in older if v.state is ContentState.PUBLISHED), None)
    elif to == 0:
        target = None
    else:
        target = next((v for v in record.versions if v.number == to), None)
        if target is None or target.state is ContentState.DRAFT:
            raise ContentStepError(f"version {to} was never published")
        if target is live:
            raise ContentStepError(f"version {to} is what is live already")
    edit = Edit(
        text=target.text if target else None,
        reason=reason or _rollback_reason(record, target),
        source=target.source if target else None,
        verified_on=target.verified_on if target else None,
        valid_from=target.valid_from if target else None,
        valid_until=target.valid_until if target else None,
        title=target.title if target else None,
        examples=target.examples if target else (),
    )
    restored = _version(
        record,
        edit,
        author=by,
        state=ContentState.PUBLISHED,
        now=now,
        restores=target.number if target else 0,
    )
    versions = [
        v.model_copy(update={"state": ContentState.ROLLED_BACK}) if v is live else v
        for v in record.versions
    ]
    return _with(record, record.scope, record.topic, [restored, *versions])


def _rollback_reason(record: ContentRecord, target: ContentVersion | None) -> str:
    if target is not None:
        return f"rollback to version {target.number}"
    if record.kind is ContentKind.ANNOUNCEMENT:
        return "announcement withdrawn"
    if record.kind is ContentKind.EXAMPLES:
        return "examples withdrawn"
    if record.kind is ContentKind.OFFICE_TOPIC:
        return "topic withdrawn"
    return "rollback to YAML"


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: `op` is "+", "-" or " " (context), `lang` the language."""

    lang: str
    op: str
    text: str


def diff(old: LocalizedText | None, new: LocalizedText | None, context: int = 1) -> list[DiffLine]:
    """What changed between two texts, per language, as unified-diff lines (no headers)."""
    lines: list[DiffLine] = []
    for lang in ("id", "en"):
        before = (old.get(lang) if old else "").splitlines()
        after = (new.get(lang) if new else "").splitlines()
        for line in _unified(before, after, context):
            lines.append(DiffLine(lang, line[0], line[1:]))
    return lines


def _unified(before: list[str], after: list[str], context: int) -> Iterator[str]:
    for line in difflib.unified_diff(before, after, lineterm="", n=context):
        if line.startswith(("---", "+++", "@@")):
            continue
        yield line
