"""`gerbang`: offline tools for office staff and operators.

gerbang ask --office jakpus [--json] [TEXT]   answer like the WhatsApp line would (offline);
    several messages (-m TEXT -m TEXT, --file, or one per stdin line) are one citizen's
    conversation: follow-ups, prompts and tickets as the router handles them;
    --published: with what staff published (read from content.published in Kafka);
    --content FILE: with a `gerbang content export` file (no Kafka needed)
gerbang offices check                         validate every office folder and its content
gerbang topics create                         create Kafka topics (re-runnable)
gerbang content export [--out FILE]           what staff published (live over the YAML), as YAML
gerbang content import FILE [--reason WHY]    validate a file and publish it (author "import")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gerbang.offices import OfficeConfigError, OfficeRegistry, load_registry


def ask(registry: OfficeRegistry, office_code: str, texts: Iterable[str], as_json: bool) -> int:
    """Answer the texts as one citizen's conversation with the office's WhatsApp line, without
    Kafka or Redis: the router's rules (`gerbang.routing.decide`, `gerbang.dialogue`) over
    in-memory state, the FAQ composer and the services' offline steps."""
    from gerbang.faq.answers import NotAnFaqIntent, answer_topic
    from gerbang.offline import OfflineLine, reply_text

    line = OfflineLine(registry, office_code)
    for text in texts:
        result = line.send(text)
        intent = result.intent
        service = intent.service.value
        understanding = result.understanding
        reply = "\n\n".join(reply_text(r.content) for r in result.replies)
        topic = ""
        if understanding is not None and service in ("faq", "router"):
            try:
                topic = answer_topic(understanding.model_copy(update={"intent": intent}))
            except NotAnFaqIntent:
                topic = ""
        confidence = understanding.confidence if understanding is not None else 1.0
        if as_json:
            print(
                json.dumps(
                    {
                        "service": service,
                        "intent": intent.value,
                        "topic": topic,
                        "reply": reply,
                        "confidence": round(confidence, 3),
                        "records": [r.kind.value for r in result.records],
                        "appends_to": [a.ticket for a in result.addenda],
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
        else:
            print(f"> {text}\n[{intent.value} {confidence:.2f}] {reply}\n", flush=True)
    return 0


def apply_published(
    settings: Any, registry: OfficeRegistry, *, content: str | None, from_kafka: bool
) -> str | None:
    """Apply published content to `registry` as the workers do: an export file (validated as
    an import would be) and/or the `content.published` topic. Returns why it could not be
    applied (None: applied)."""
    import datetime as dt

    from gerbang.publishing.transfer import ImportRefused, parse, plan_import, read_view
    from gerbang.publishing.view import ContentView

    view = ContentView(registry)
    if from_kafka:
        try:
            view = asyncio.run(asyncio.wait_for(read_view(settings, registry), 30.0))
        except (TimeoutError, OSError) as exc:
            return f"content.published not read from Kafka ({exc or 'timed out'})"
    if content:
        try:
            records = plan_import(
                view,
                parse(Path(content).read_text(encoding="utf-8")),
                reason="gerbang ask --content",
                now=dt.datetime.now(dt.UTC),
            )
        except ImportRefused as exc:
            return "content file refused: " + "; ".join(exc.problems)
        except OSError as exc:
            return f"content file not read: {exc}"
        for record in records:
            view.apply(record)
    return None


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
        "text", nargs="*", help="one message; without it (and -m, --file), one per stdin line"
    )
    p_ask.add_argument(
        "-m",
        "--message",
        action="append",
        default=[],
        help="a message of the conversation (repeat for the next ones)",
    )
    p_ask.add_argument(
        "--file", type=argparse.FileType("r", encoding="utf-8"), help="one message per line"
    )
    p_ask.add_argument(
        "--published",
        action="store_true",
        help="answer with what staff published (reads content.published from Kafka)",
    )
    p_ask.add_argument(
        "--content", metavar="FILE", help="answer with a `gerbang content export` file applied"
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
        if args.published or args.content:
            problem = apply_published(
                settings, registry, content=args.content, from_kafka=args.published
            )
            if problem:
                print(f"gerbang ask: {problem}", file=sys.stderr)
                return 2
        texts: list[str] = [" ".join(args.text)] if args.text else []
        texts += args.message
        if args.file is not None:
            texts += [line.rstrip("\n") for line in args.file]
        if not texts:
            texts = [line.rstrip("\n") for line in sys.stdin]
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
