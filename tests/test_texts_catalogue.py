"""One catalogue of what citizens read (issue 11): no citizen-facing sentence in Python, every
catalogue id the code names exists, and every entry of the catalogue is used.

The code is read as Python syntax trees (docstrings skipped), so the test sees string literals
and comparisons, not comments. A literal catalogue id is a string constant shaped `family.name`
whose family is one of the catalogue's; ids built at run time (`f"stage.{stage.value}"`) are
declared next to the code that builds them (`*_TEXT_IDS`) and imported here.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator

import pytest

from gerbang.faq.menu import MENU_TEXT_IDS
from gerbang.handoff import _WEEKDAY_TEXTS
from gerbang.messages import Topic
from gerbang.offices import OfficeRegistry, load_registry
from gerbang_feedback.replies import KIND_TEXT_IDS
from gerbang_status.stages import STAGE_TEXT_IDS
from tests.conftest import REPO

# Production code: every service's package and the shared library (not tests, not tools).
SOURCES = sorted([*REPO.glob("services/*/src/**/*.py"), *REPO.glob("libs/gerbang/src/**/*.py")])
# The /ops pages speak to office staff, not citizens (their texts are not WhatsApp replies).
STAFF_PAGES = REPO / "services/gateway/src/gerbang_gateway/ops"
BUILT_IDS = frozenset(MENU_TEXT_IDS + KIND_TEXT_IDS + STAGE_TEXT_IDS + _WEEKDAY_TEXTS)

# A language test that is not choosing a text, with why.
LANGUAGE_CHOICES_ALLOWED = {
    # the stored opt-in's language, decoded from its Redis hash
    ("services/status/src/gerbang_status/store.py", 'lang: Lang = "en" if fields.get("lang")'),
    # the approved template's own language picks the stage name's language
    ("services/status/src/gerbang_status/notify.py", '"en" if template.language.startswith'),
}
# Strings shaped like a catalogue id that are something else, with what they are.
NOT_TEXTS = {
    "status.view": "the status view's Kafka client id (gerbang_status.worker)",
}
# Words of a sentence written to a citizen (Indonesian and English), as the replies used them.
CITIZEN_WORDS = re.compile(
    r"\b(Anda|Silakan|Mohon|Terima kasih|Maaf|Ketik|Sorry|Please|Thank you|Type \*)\b"
)


@pytest.fixture(scope="module")
def registry() -> OfficeRegistry:
    return load_registry(REPO / "offices")


def _trees() -> Iterator[tuple[str, ast.AST]]:
    for path in SOURCES:
        yield str(path.relative_to(REPO)), ast.parse(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
        # An attribute's docstring: a string expression right after an assignment.
        if isinstance(body, list):
            for before, after in itertools.pairwise(body):
                if isinstance(before, ast.Assign | ast.AnnAssign) and isinstance(after, ast.Expr):
                    found.add(id(after.value))
    return found


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node


def _is_language(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name in ("lang", "language")


def test_no_language_branch_chooses_a_text_in_code() -> None:
    """`if lang == "en"` blocks and `_t(lang, id, en)` helpers are gone from the services."""
    found = []
    for where, tree in _trees():
        if not where.startswith("services/") or where.startswith(
            str(STAFF_PAGES.relative_to(REPO))
        ):
            continue
        lines = (REPO / where).read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "_t":
                found.append(f"{where}:{node.lineno}: def _t")
            if isinstance(node, ast.Compare) and len(node.comparators) == 1:
                sides = [node.left, node.comparators[0]]
                if any(isinstance(s, ast.Constant) and s.value in ("id", "en") for s in sides) and (
                    any(_is_language(s) for s in sides)
                ):
                    line = lines[node.lineno - 1]
                    if not any(where == w and text in line for w, text in LANGUAGE_CHOICES_ALLOWED):
                        found.append(f"{where}:{node.lineno}: {line.strip()}")
    assert found == [], "choose texts with gerbang.texts.render_text:\n" + "\n".join(found)


def test_no_citizen_sentence_is_a_python_literal() -> None:
    """A sentence for citizens belongs in offices/_national/texts.yaml (or faq.yaml)."""
    found = []
    for where, tree in _trees():
        if (REPO / where).is_relative_to(STAFF_PAGES):
            continue
        for node in _strings(tree):
            text = node.value
            if "|" in text or "(?" in text:  # a regular expression of the understanding
                continue
            if len(text.split()) >= 3 and CITIZEN_WORDS.search(text):
                found.append(f"{where}:{node.lineno}: {text[:70]!r}")
    assert found == [], "move these to offices/_national/texts.yaml:\n" + "\n".join(found)


def _literal_ids(families: set[str]) -> dict[str, str]:
    """Catalogue-shaped string constants in the code → where the first one is."""
    shaped = re.compile(r"^([a-z_]+)\.[a-z0-9_]+$")
    topics = {topic.value for topic in Topic}
    found: dict[str, str] = {}
    for where, tree in _trees():
        for node in _strings(tree):
            match = shaped.match(node.value)
            if match and match.group(1) in families and node.value not in topics | NOT_TEXTS.keys():
                found.setdefault(node.value, f"{where}:{node.lineno}")
    return found


def test_every_id_in_code_is_in_the_catalogue_and_every_entry_is_used(
    registry: OfficeRegistry,
) -> None:
    catalogue = set(registry.national.texts)
    families = {text_id.split(".")[0] for text_id in catalogue}
    named = _literal_ids(families)
    unknown = {text_id: where for text_id, where in named.items() if text_id not in catalogue}
    assert unknown == {}, "ids the code names that the catalogue lacks"
    assert BUILT_IDS <= catalogue, sorted(BUILT_IDS - catalogue)
    unused = catalogue - set(named) - BUILT_IDS
    assert unused == set(), "catalogue entries no code uses: remove them or use them"
