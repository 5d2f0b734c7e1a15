"""`gerbang`: offline tools for office staff and operators.

gerbang ask --office jakpus [--json] [TEXT]   answer like the WhatsApp line would (offline)
gerbang offices check                         validate every office folder and its content
gerbang topics create                         create Kafka topics (re-runnable)
gerbang content export [--out FILE]           what staff published (live over the YAML), as YAML
gerbang content import FILE [--reason WHY]    validate a file and publish it (author "import")
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gerbang.offices import OfficeConfigError, OfficeRegistry, load_registry


def _reply_text(content: object) -> str:
    """A reply as text, the way a citizen reads it (lists and buttons flattened)."""
    kind = getattr(content, "type", "")
    if kind == "text":
        return str(content.body)  # type: ignore[attr-defined]
    if kind == "list":
        rows = [
            f"- {row.title}" + (f": {row.description}" if row.description else "")
            for section in content.sections  # type: ignore[attr-defined]
            for row in section.rows
        ]
        return "\n".join([content.body, *rows])  # type: ignore[attr-defined]
    if kind == "buttons":
        buttons = " | ".join(f"[{b.title}]" for b in content.buttons)  # type: ignore[attr-defined]
        return f"{content.body}\n{buttons}"  # type: ignore[attr-defined]
    return str(content)


def offline_services() -> dict[str, Callable[..., list[Any]]]:
    """The services' own offline answers (`gerbang.offline_replies` entry points): the status
    and feedback services answer here exactly as their workers would, minus Kafka and Redis."""
    found = {}
    for entry in importlib.metadata.entry_points(group="gerbang.offline_replies"):
        found[entry.name] = entry.load()
    return found


def ask(registry: OfficeRegistry, office_code: str, texts: Iterable[str], as_json: bool) -> int:
    """Answer each text as the office's WhatsApp line would, without Kafka or Redis."""
    from gerbang.faq.answers import answer_topic, compose
    from gerbang.understanding.classify import IntentMatcher

    services = offline_services()

    office = registry.get(office_code)
    matcher = IntentMatcher.from_registry(registry)[office.code]
    for text in texts:
        understanding = matcher.understand(text, office_code=office.code)
        intent = understanding.intent
        service = intent.service.value
        if service in ("faq", "router"):
            contents = compose(registry, office, understanding)
        elif service in services:
            contents = services[service](registry, office, text, understanding)
        else:
            contents = []
        reply = "\n\n".join(_reply_text(c) for c in contents) or (
            f"({service} service is not installed here: no offline answer)"
        )
        if as_json:
            print(
                json.dumps(
                    {
                        "service": service,
                        "intent": intent.value,
                        "topic": answer_topic(understanding)
                        if service in ("faq", "router")
                        else "",
                        "reply": reply,
                        "confidence": round(understanding.confidence, 3),
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
        else:
            print(f"[{intent.value} {understanding.confidence:.2f}] {reply}\n", flush=True)
    return 0


def check_offices(registry: OfficeRegistry) -> int:
    """Validate content of every office; print problems."""
    from gerbang.faq.content import validate_content

    problems = validate_content(registry)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(registry)} offices, {len(problems)} problem(s)")
    return 1 if problems else 0


def content_command(settings: Any, registry: OfficeRegistry, args: argparse.Namespace) -> int:
    """`gerbang content export|import` against the deployment's Kafka."""
    from gerbang.publishing.transfer import ImportRefused, export_yaml, import_file, read_view

    if args.action == "export":
        text = export_yaml(asyncio.run(read_view(settings, registry)))
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    source = Path(args.file)
    try:
        records = asyncio.run(
            import_file(
                settings,
                registry,
                source.read_text(encoding="utf-8"),
                reason=args.reason or f"import of {source.name}",
            )
        )
    except ImportRefused as exc:
        print("import refused, nothing published:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"imported: {len(records)} version(s) published")
    for record in records:
        print(f"  {record.key} v{record.versions[0].number}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `gerbang` command."""
    parser = argparse.ArgumentParser(
        prog="gerbang", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_ask = sub.add_parser("ask", help="answer a message offline, like the office's WhatsApp line")
    p_ask.add_argument("--office", required=True, help="office code, e.g. jakpus")
    p_ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    p_ask.add_argument(
        "text", nargs="*", help="the message; without it, one message per stdin line"
    )
    p_off = sub.add_parser("offices", help="office data")
    p_off.add_argument("action", choices=["check"])
    p_top = sub.add_parser("topics", help="Kafka topics")
    p_top.add_argument("action", choices=["create", "list"])
    p_con = sub.add_parser("content", help="published content: export what is live, import")
    con = p_con.add_subparsers(dest="action", required=True)
    p_exp = con.add_parser("export", help="what is live over the YAML, as YAML")
    p_exp.add_argument("--out", help="file to write (default: standard output)")
    p_imp = con.add_parser("import", help="validate a file and publish it (author 'import')")
    p_imp.add_argument("file", help="an export file")
    p_imp.add_argument("--reason", default="", help="why (kept with every version)")
    args = parser.parse_args(argv)

    from gerbang.settings import ServiceSettings

    settings = ServiceSettings()
    try:
        registry = load_registry(settings.offices_dir)
    except OfficeConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "ask":
        if args.office not in registry.offices:
            print(
                f"unknown office {args.office!r}; offices: {', '.join(registry.offices)}",
                file=sys.stderr,
            )
            return 2
        texts = [" ".join(args.text)] if args.text else (line.rstrip("\n") for line in sys.stdin)
        return ask(registry, args.office, (t for t in texts if t.strip()), args.json)
    if args.command == "offices":
        return check_offices(registry)
    if args.command == "content":
        return content_command(settings, registry, args)
    from gerbang.topics import ensure_topics, topic_specs

    if args.action == "list":
        for spec in topic_specs(settings):
            print(spec.name, spec.partitions, spec.config)
        return 0
    created = asyncio.run(ensure_topics(settings))
    print(f"topics: {len(created)} created, {len(topic_specs(settings)) - len(created)} existed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
