"""A WhatsApp text as the app shows it, in HTML, for the `/ops` content preview.

WhatsApp's formatting (reference: WhatsApp Help Center, "How to format your messages"):
`*bold*`, `_italic_`, `~strikethrough~`, ```` ```monospace``` ````, lines starting with
"* " or "- " as bulleted lists (Gerbang's texts use "•"), "1. " as numbered lists, and links
made clickable. Everything is HTML-escaped first; markers never span lines.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

_URL = re.compile(r"(https?://[^\s<]+[^\s<.,;:!?)\]'\"])")
_INLINE = [
    (re.compile(r"```(.+?)```"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), r"<del>\1</del>"),
]
_BULLET = re.compile(r"^\s*(?:•|\*|-)\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,2}[.)]\s+(.*)$")


def _inline(line: str) -> str:
    parts = _URL.split(line)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a link: escaped, never formatted inside
            url = html.escape(part, quote=True)
            out.append(f'<a href="{url}" rel="noopener noreferrer" target="_blank">{url}</a>')
            continue
        text = html.escape(part, quote=False)
        for pattern, replacement in _INLINE:
            text = pattern.sub(replacement, text)
        out.append(text)
    return "".join(out)


def whatsapp_html(text: str) -> Markup:
    """`text` formatted as WhatsApp shows it (safe HTML: everything else is escaped)."""
    blocks: list[str] = []
    lines: list[str] = []
    items: list[str] = []
    kind = ""

    def flush_lines() -> None:
        if lines:
            blocks.append("<p>" + "<br>".join(lines) + "</p>")
            lines.clear()

    def flush_items() -> None:
        nonlocal kind
        if items:
            tag = "ol" if kind == "ol" else "ul"
            blocks.append(f"<{tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{tag}>")
            items.clear()
        kind = ""

    for raw in text.split("\n"):
        bullet, numbered = _BULLET.match(raw), _NUMBERED.match(raw)
        match = bullet or numbered
        if match and not (bullet and raw.lstrip().startswith("*") and raw.rstrip().endswith("*")):
            wanted = "ul" if bullet else "ol"
            flush_lines()
            if kind and kind != wanted:
                flush_items()
            kind = wanted
            items.append(_inline(match.group(1)))
            continue
        flush_items()
        if not raw.strip():
            flush_lines()
            continue
        lines.append(_inline(raw))
    flush_items()
    flush_lines()
    return Markup("".join(blocks))  # noqa: S704 - built from escaped text only
