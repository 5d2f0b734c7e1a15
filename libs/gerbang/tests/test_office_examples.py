"""Closing the loop on misses, in the pure core: an unanswered question attached to a topic,
or a new office topic with its example questions, is learnt by that office's matcher when it
is published (paraphrases and typos too), never by another office's; validation names the
field; rollback takes it back; `gerbang ask --content` answers from an export file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gerbang import cli
from gerbang.messages import ContentRecord, Intent
from gerbang.offices import LocalizedText, OfficeRegistry, default_offices_dir, load_registry
from gerbang.offline import OfflineLine
from gerbang.publishing.transfer import export_yaml
from gerbang.publishing.validate import check
from gerbang.publishing.versions import Edit, examples_key, publish_now, rollback, save_draft
from gerbang.publishing.view import ContentView

NOW = dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC)
MISS = "apakah boleh pakai jilbab waktu foto paspor"
PARAPHRASE_WITH_TYPO = "apa boleh pake jilbab wkt foto pasport?"
NEAR_BUT_OTHER = "kalo foto pake kacamata boleh?"
MPP_TOPIC = "own.mpp_sabtu"
MPP = Edit(
    title=LocalizedText(id="Layanan MPP Sabtu", en="Saturday MPP service"),
    text=LocalizedText(
        id="Layanan paspor di Mal Pelayanan Publik buka *Sabtu 08.00–12.00* dengan kuota "
        "terbatas; daftar lewat {official_app}.",
        en="The passport counter at the Public Service Mall opens *Saturday 08:00–12:00* "
        "with a limited quota; book in {official_app}.",
    ),
    examples=("apakah bisa bikin paspor di mal pelayanan publik hari sabtu", "mpp buka sabtu?"),
    reason="many asked in November",
)


@pytest.fixture
def view() -> ContentView:
    return ContentView(load_registry(default_offices_dir()))


def _attach(view: ContentView, office: str, topic: str, *examples: str) -> ContentRecord:
    edit = Edit(text=None, examples=examples, reason="from the misses")
    assert check(view.registry, office, examples_key(topic), edit, now=NOW) == []
    record = publish_now(
        view.record(office, examples_key(topic)),
        office,
        examples_key(topic),
        edit,
        author="jakpus.lead",
        now=NOW,
    )
    view.apply(record)
    return record


def _line(registry: OfficeRegistry, office: str) -> OfflineLine:
    return OfflineLine(registry, office, turns={})


def test_an_attached_miss_routes_to_its_topic_for_that_office_only(view: ContentView) -> None:
    before = _line(view.registry, "jakpus").send(MISS)
    assert before.intent is not Intent.FAQ_REQUIREMENTS
    _attach(view, "jakpus", "requirements", MISS)
    for text in (MISS, PARAPHRASE_WITH_TYPO):
        answered = _line(view.registry, "jakpus").send(text)
        assert answered.intent is Intent.FAQ_REQUIREMENTS, text
        assert answered.understanding.example_similarity >= 0.55
    other = _line(view.registry, "bogor").send(MISS)
    assert other.intent is before.intent  # Bogor's routing did not move
    # Other questions at Jakarta Pusat are not pulled to the example.
    assert _line(view.registry, "jakpus").send(NEAR_BUT_OTHER).intent is not (
        Intent.FAQ_REQUIREMENTS
    )
    assert _line(view.registry, "jakpus").send("berapa biaya paspor 10 tahun").intent is (
        Intent.FAQ_FEES
    )


def test_rollback_forgets_the_example(view: ContentView) -> None:
    record = _attach(view, "jakpus", "requirements", MISS)
    view.apply(rollback(record, by="jakpus.lead", now=NOW))
    assert _line(view.registry, "jakpus").send(MISS).intent is not Intent.FAQ_REQUIREMENTS


def test_a_new_office_topic_is_answered_after_publish(view: ContentView) -> None:
    assert check(view.registry, "jakpus", MPP_TOPIC, MPP, now=NOW) == []
    draft = save_draft(None, "jakpus", MPP_TOPIC, MPP, author="jakpus.agent", now=NOW)
    view.apply(draft)  # a draft changes nothing
    assert _line(view.registry, "jakpus").send(MPP.examples[0]).intent is not (
        Intent.FAQ_OFFICE_TOPIC
    )
    view.apply(publish_now(None, "jakpus", MPP_TOPIC, MPP, author="jakpus.lead", now=NOW))
    answered = _line(view.registry, "jakpus").send(
        "bisa buat pasport di mall pelayanan publik hr sabtu ga"
    )
    assert answered.intent is Intent.FAQ_OFFICE_TOPIC
    assert answered.understanding.office_topic == MPP_TOPIC
    assert "Sabtu 08.00–12.00" in answered.replies[0].content.body  # type: ignore[union-attr]
    assert "M-Paspor" in answered.replies[0].content.body  # type: ignore[union-attr]
    assert _line(view.registry, "bogor").send(MPP.examples[0]).intent is not (
        Intent.FAQ_OFFICE_TOPIC
    )


@pytest.mark.parametrize(
    ("scope", "topic", "edit", "field"),
    [
        ("jakpus", MPP_TOPIC, Edit(text=MPP.text, title=MPP.title, examples=()), "examples"),
        (
            "jakpus",
            MPP_TOPIC,
            Edit(text=MPP.text, title=LocalizedText(id="x" * 25, en="MPP"), examples=("mpp?",)),
            "title.id",
        ),
        (
            "jakpus",
            MPP_TOPIC,
            Edit(text=LocalizedText(id="a" * 4100, en="b"), title=MPP.title, examples=("mpp?",)),
            "text.id",
        ),
        (
            "jakpus",
            MPP_TOPIC,
            Edit(text=LocalizedText(id="x", en=None), title=MPP.title, examples=("mpp?",)),
            "text.en",
        ),
        ("jakpus", "own.X!", MPP, "topic"),
        ("national", MPP_TOPIC, MPP, "office"),
        ("jakpus", examples_key("no_such_topic"), Edit(text=None, examples=("a b",)), "topic"),
        ("jakpus", examples_key("pickup"), Edit(text=None, examples=("x" * 301,)), "examples[0]"),
        ("jakpus", examples_key("pickup"), Edit(text=None, examples=("👍",)), "examples[0]"),
        (
            "jakpus",
            examples_key("pickup"),
            Edit(text=None, examples=("kapan jadi", "kapan jadi?")),
            "examples[1]",
        ),
    ],
)
def test_refused_with_the_field_named(
    view: ContentView, scope: str, topic: str, edit: Edit, field: str
) -> None:
    problems = check(view.registry, scope, topic, edit, now=NOW)
    assert problems and problems[0].field == field, problems


def test_an_example_of_another_topic_is_refused(view: ContentView) -> None:
    _attach(view, "jakpus", "requirements", MISS)
    problems = check(
        view.registry, "jakpus", examples_key("payment"), Edit(text=None, examples=(MISS,)), now=NOW
    )
    assert [p.field for p in problems] == ["examples[0]"]
    assert "requirements" in problems[0].message


def test_gerbang_ask_with_an_export_file(
    view: ContentView, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    view.apply(publish_now(None, "jakpus", MPP_TOPIC, MPP, author="jakpus.lead", now=NOW))
    _attach(view, "jakpus", "requirements", MISS)
    export = tmp_path / "content.yaml"
    export.write_text(export_yaml(view), encoding="utf-8")
    assert cli.main(["ask", "--office", "jakpus", "--json", "--content", str(export), MISS]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["intent"], answer["topic"]) == ("faq:requirements", "requirements")
    assert (
        cli.main(
            ["ask", "--office", "jakpus", "--json", "--content", str(export), "mpp buka sabtu ga"]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert (answer["intent"], answer["topic"]) == ("faq:office_topic", MPP_TOPIC)
    assert cli.main(["ask", "--office", "jakpus", "--json", MISS]) == 0  # without: the YAML
    assert json.loads(capsys.readouterr().out)["topic"] != "requirements"


def test_unseen_ngrams_are_forgotten_and_the_index_rebuilt(
    view: ContentView, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router reads new words forever: the ids of n-grams the labelled data never had are
    bounded; once forgotten, the office's index is rebuilt and routes as before."""
    from gerbang.understanding import examples as office_examples
    from gerbang.understanding.classify import IntentMatcher

    _attach(view, "jakpus", "requirements", MISS)
    matcher = IntentMatcher.from_registry(view.registry)["jakpus"]
    assert matcher.understand(PARAPHRASE_WITH_TYPO, office_code="jakpus").intent is (
        Intent.FAQ_REQUIREMENTS
    )
    monkeypatch.setattr(office_examples, "_UNSEEN_KEPT", 5)
    for word in ("qzxv", "wplk", "zzkq jjhq", "xxyq"):
        matcher.understand(f"{word} {word}", office_code="jakpus")
    vectoriser = matcher._vectoriser
    assert vectoriser is not None and vectoriser.epoch >= 1
    assert matcher.understand(PARAPHRASE_WITH_TYPO, office_code="jakpus").intent is (
        Intent.FAQ_REQUIREMENTS
    )


def test_offices_without_examples_read_messages_as_before(view: ContentView) -> None:
    from gerbang.understanding.classify import IntentMatcher
    from gerbang.understanding.model import DEV_FILE, read_examples

    plain = IntentMatcher.from_registry(load_registry(default_offices_dir()))["bogor"]
    _attach(view, "jakpus", "requirements", MISS)
    learning = IntentMatcher.from_registry(view.registry)["bogor"]
    for example in read_examples(DEV_FILE)[:150]:
        assert learning.understand(example.text, office_code="bogor") == plain.understand(
            example.text, office_code="bogor"
        )
