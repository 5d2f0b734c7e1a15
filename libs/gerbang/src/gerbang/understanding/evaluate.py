"""`make eval`: how well Gerbang understands messages it was not trained on.

Reports, for the dev split (`data/dev.tsv`, used for choosing the threshold and the model)
and, when it exists, the held-out test split (`tests/fixtures/nlu/test.tsv`, never used for
tuning) — each ALONE, never mixed with the other or with train:

- accuracy of the intent, out-of-domain recall (out-of-domain messages answered as such);
- per-intent precision, recall, F1 and the confusion matrix (dev and test);
- the ask rule's sweep on dev (how ABSTAIN_THRESHOLD and ASK_MARGIN were chosen) and the
  calibration by temperature (how TEMPERATURE was chosen).

Other evaluations add a section: `SECTIONS` maps a name to a function returning a dict
(e.g. the multi-turn pass rate of `gerbang.dialogue.evaluate`, when that module exists).
The last line printed is one JSON object with every section.

Run: `uv run python -m gerbang.understanding.evaluate` (`--quiet` prints only the JSON).
`--split dev` (`make eval-dev`) reports the tuning sections only — dev, the ask rule's sweep,
calibration and the multi-turn scenarios — and never opens the held-out files: the one to
run while tuning, so the test number is not looked at again and again.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from gerbang.messages import Intent
from gerbang.understanding.bench import fixture_dir
from gerbang.understanding.classify import IntentMatcher, prepare
from gerbang.understanding.model import DEV_FILE, Example, read_examples
from gerbang.understanding.normalize import analyze
from gerbang.understanding.signals import extract_phone_numbers

OFFICE = "jakpus"
"""The office the messages are written to (another office named is a detail, not an error)."""
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
TEMPERATURES = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)


def held_out_path() -> Path:
    """The held-out test split (written by someone who never saw the model)."""
    return fixture_dir() / "test.tsv"


@lru_cache(maxsize=1)
def matcher() -> IntentMatcher:
    """The matcher the router runs (trained with the offices' FAQ examples)."""
    from gerbang.offices import default_offices_dir, load_registry

    return IntentMatcher.from_registry(load_registry(default_offices_dir()))[OFFICE]


def predictions(
    examples: Sequence[Example], threshold: float | None = None, margin: float | None = None
) -> list[Intent]:
    """The intent the pipeline gives each example (optionally with another ask rule)."""
    chosen = matcher()
    saved = chosen.threshold, chosen.margin
    try:
        chosen.threshold = saved[0] if threshold is None else threshold
        chosen.margin = saved[1] if margin is None else margin
        return [chosen.understand(e.text, office_code=OFFICE).intent for e in examples]
    finally:
        chosen.threshold, chosen.margin = saved


def intent_report(examples: Sequence[Example]) -> dict[str, object]:
    """Accuracy, out-of-domain recall, per-intent precision/recall/F1, confusion matrix."""
    predicted = predictions(examples)
    gold = [e.intent for e in examples]
    pairs = Counter(zip(gold, predicted, strict=True))
    per_intent: dict[str, dict[str, float]] = {}
    for intent in Intent:
        true_positive = pairs[(intent, intent)]
        support = sum(count for (g, _), count in pairs.items() if g is intent)
        said = sum(count for (_, p), count in pairs.items() if p is intent)
        if not support and not said:
            continue
        precision = true_positive / said if said else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[intent.value] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": support,
        }
    right = sum(count for (g, p), count in pairs.items() if g is p)
    ood = per_intent.get(Intent.OUT_OF_DOMAIN.value, {})
    return {
        "messages": len(examples),
        "accuracy": round(right / len(examples), 4) if examples else 0.0,
        "out_of_domain_recall": ood.get("recall", 0.0),
        "per_intent": per_intent,
        "confusion": {
            f"{g.value} -> {p.value}": count for (g, p), count in sorted(pairs.items()) if g != p
        },
        "errors": [
            {"text": e.text, "gold": e.intent.value, "predicted": p.value}
            for e, p in zip(examples, predicted, strict=True)
            if e.intent is not p
        ],
    }


def threshold_sweep(examples: Sequence[Example]) -> dict[str, float]:
    """Dev accuracy for each pair of the ask rule's threshold and margin ("0.35/0.15"):
    ABSTAIN_THRESHOLD and ASK_MARGIN are chosen from this."""
    sweep = {}
    for threshold in THRESHOLDS:
        for margin in MARGINS:
            predicted = predictions(examples, threshold, margin)
            right = sum(p is e.intent for e, p in zip(examples, predicted, strict=True))
            sweep[f"{threshold:.2f}/{margin:.2f}"] = round(right / len(examples), 4)
    return sweep


def calibration(examples: Sequence[Example]) -> dict[str, object]:
    """Dev negative log-likelihood and expected calibration error (10 bins) of the
    classifier's probabilities at several temperatures (TEMPERATURE is chosen from this)."""
    chosen = matcher()
    rows = []
    for example in examples:
        _, rest = extract_phone_numbers(example.text)
        rows.append((chosen.model.probabilities(prepare(analyze(rest))), example.intent))
    column = {intent: index for index, intent in enumerate(chosen.model.intents)}
    report: dict[str, object] = {}
    for temperature in TEMPERATURES:
        log_loss = 0.0
        bins: dict[int, list[tuple[float, bool]]] = {}
        for probabilities, gold in rows:
            scaled = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
            scaled = np.exp(scaled - scaled.max())
            scaled /= scaled.sum()
            log_loss -= math.log(max(float(scaled[column[gold]]), 1e-12))
            best = int(scaled.argmax())
            confidence = float(scaled[best])
            bins.setdefault(min(int(confidence * 10), 9), []).append(
                (confidence, chosen.model.intents[best] is gold)
            )
        error = sum(
            abs(sum(c for c, _ in items) - sum(r for _, r in items)) for items in bins.values()
        ) / len(rows)
        report[f"{temperature:.1f}"] = {
            "nll": round(log_loss / len(rows), 4),
            "ece": round(error, 4),
        }
    return report


def dev_section() -> dict[str, object]:
    """The dev split's report and the threshold sweep."""
    examples = read_examples(DEV_FILE)
    return {
        **intent_report(examples),
        "threshold_sweep": threshold_sweep(examples),
        "calibration": calibration(examples),
    }


def test_section() -> dict[str, object] | None:
    """The test split's report, alone (None when the split is not in the checkout)."""
    path = held_out_path()
    if not path.is_file():
        return None
    return intent_report(read_examples(path))


SCENARIOS_FILE = fixture_dir() / "scenarios.yaml"
"""The multi-turn scenarios the E2E tests also run (written with the dialogue code)."""
HELD_OUT_CONVERSATIONS = fixture_dir() / "conversations_heldout.yaml"
"""Multi-turn conversations by the independent writer: never tuned on, reported alone."""

TARGETS = {"test_accuracy": 0.97, "test_out_of_domain_recall": 0.90, "multi_turn": 1.0}
"""Issue 9's acceptance targets."""


def _conversations(path: Path) -> Callable[[], dict[str, object] | None]:
    def run() -> dict[str, object] | None:
        if not path.is_file():
            return None
        from gerbang import dialogue

        report = dialogue.evaluate(str(path))
        report["pass_rate"] = round(report["passed"] / max(report["scenarios"], 1), 4)
        return report

    return run


def examples_calibration() -> dict[str, object]:
    """How far an office's examples can be trusted (`gerbang.understanding.examples`): the
    nearest-example rule, as the matcher applies it, with train as the examples and dev as
    the messages: the share decided by their nearest example that get the right intent."""
    from gerbang.understanding.classify import prepare
    from gerbang.understanding.examples import calibrate
    from gerbang.understanding.model import TRAIN_FILE

    report: dict[str, object] = {}
    report |= calibrate(
        matcher().model,
        prepare,
        [(e.text, e.intent.value) for e in read_examples(TRAIN_FILE)],
        [(e.text, e.intent.value) for e in read_examples(DEV_FILE)],
    )
    return report


SECTIONS: dict[str, Callable[[], dict[str, object] | None]] = {
    "dev": dev_section,
    "test": test_section,
    "multi_turn": _conversations(SCENARIOS_FILE),
    "multi_turn_heldout": _conversations(HELD_OUT_CONVERSATIONS),
    "examples_calibration": examples_calibration,
}
"""Name → a function returning that section's dict (None: not available here)."""


_HELD_OUT_SECTIONS = frozenset({"test", "multi_turn_heldout"})
"""The sections that read the held-out files (skipped by `--split dev`)."""


def evaluate(*, held_out: bool = True) -> dict[str, object]:
    """Every section, by name (without the held-out ones when `held_out` is False)."""
    return {
        name: section()
        for name, section in SECTIONS.items()
        if held_out or name not in _HELD_OUT_SECTIONS
    }


def _table(name: str, report: dict[str, object]) -> str:
    lines = [
        f"== {name}: {report['messages']} messages, accuracy {report['accuracy']:.1%}, "
        f"out-of-domain recall {report['out_of_domain_recall']:.1%}",
        f"{'intent':<24} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}",
    ]
    per_intent: dict[str, dict[str, float]] = report["per_intent"]  # type: ignore[assignment]
    for intent, row in per_intent.items():
        lines.append(
            f"{intent:<24} {row['precision']:>6.2f} {row['recall']:>6.2f} {row['f1']:>6.2f} "
            f"{int(row['support']):>4}"
        )
    confusion: dict[str, int] = report["confusion"]  # type: ignore[assignment]
    if confusion:
        lines.append("confusions (gold -> predicted: count):")
        for pair, count in sorted(confusion.items(), key=lambda item: -item[1]):
            lines.append(f"  {pair}: {count}")
    return "\n".join(lines)


def _targets(results: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each acceptance target of issue 9, the measured value and whether it is met."""
    test = results.get("test")
    turns = results.get("multi_turn")
    test = test if isinstance(test, dict) else {}
    turns = turns if isinstance(turns, dict) else {}
    measured: dict[str, float | None] = {
        "test_accuracy": test.get("accuracy"),
        "test_out_of_domain_recall": test.get("out_of_domain_recall"),
        "multi_turn": turns.get("pass_rate"),
    }
    report: dict[str, dict[str, object]] = {}
    for name, target in TARGETS.items():
        value = measured[name]
        report[name] = {
            "target": target,
            "measured": value,
            "met": value is not None and value >= target,
        }
    return report


def _summary_table(results: dict[str, object], targets: dict[str, dict[str, object]]) -> str:
    lines = ["== summary (issue 9 targets)", f"{'measure':<34} {'measured':>9} {'target':>7}  met"]
    for name, row in targets.items():
        assert isinstance(row, dict)
        value = row["measured"]
        shown = "–" if value is None else f"{value:.1%}"
        lines.append(
            f"{name:<34} {shown:>9} {row['target']:>7.0%}  {'yes' if row['met'] else 'NO'}"
        )
    held = results.get("multi_turn_heldout")
    if isinstance(held, dict):
        lines.append(
            f"{'held-out conversations (reported)':<34} {held['pass_rate']:>9.1%} "
            f"{'':>7}  ({held['passed']}/{held['scenarios']})"
        )
    return "\n".join(lines)


_HIDDEN_FROM_SUMMARY = {"errors", "confusion"}
_HELD_OUT = {"test", "multi_turn_heldout"}
_HELD_OUT_DETAIL = {"failures"}
"""The held-out sections print aggregates only: which held-out conversation failed, and how,
is a per-item error, and seeing it invites tuning on the held-out data."""


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="only the JSON line")
    parser.add_argument("--errors", action="store_true", help="list the dev split's errors")
    parser.add_argument(
        "--split",
        choices=("all", "dev"),
        default="all",
        help="dev: the tuning sections only; the held-out files are not opened",
    )
    args = parser.parse_args(argv)
    dev_only = args.split == "dev"
    results = evaluate(held_out=not dev_only)
    if not args.quiet:
        for name in ("dev",) if dev_only else ("dev", "test"):
            report = results.get(name)
            if isinstance(report, dict):
                print(_table(name, report), end="\n\n")
            elif name == "test":
                print(f"== test: {held_out_path()} not found (not in this checkout)\n")
        dev = results["dev"]
        assert isinstance(dev, dict)
        print("dev accuracy by ask threshold/margin:", dev["threshold_sweep"], end="\n\n")
        print("dev calibration by temperature:", dev["calibration"], end="\n\n")
        print("office examples, nearest-example rule (train as examples, dev):",
              results["examples_calibration"], end="\n\n")  # fmt: skip
        if args.errors:
            for error in dev["errors"]:
                print(f"  {error['gold']:<24} {error['predicted']:<24} {error['text']}")
    summary: dict[str, object] = {}
    for name, report in results.items():
        if isinstance(report, dict):
            hidden = _HIDDEN_FROM_SUMMARY | (_HELD_OUT_DETAIL if name in _HELD_OUT else set())
            summary[name] = {key: value for key, value in report.items() if key not in hidden}
        else:
            summary[name] = report
    if dev_only:
        turns = results.get("multi_turn")
        if not args.quiet and isinstance(turns, dict):
            print(f"multi-turn scenarios: {turns['passed']}/{turns['scenarios']}", end="\n\n")
        print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
        return 0
    targets = _targets(results)
    summary["targets"] = targets
    if not args.quiet:
        print(_summary_table(results, targets), end="\n\n")
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
