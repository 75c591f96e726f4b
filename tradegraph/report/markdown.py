"""A small Markdown-to-HTML renderer for model cards (the ``markdown`` package is not a
dependency). It covers what the cards use: ATX headings, paragraphs, ``-``/``*``/``1.`` lists,
pipe tables, fenced code, block quotes, rules, and inline ``code``, **bold**, *italic* and
[links](url), and backslash escapes (``\\[`` is a literal ``[``). Everything is HTML-escaped
first, so a card cannot inject markup, and only ``http(s)`` links become anchors, so a value
like ``[x](javascript:...)`` stays text."""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_SAFE_URL = re.compile(r"https?://[^\s<>\"'`]+$", re.IGNORECASE)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _link(match: re.Match[str]) -> str:
    """An anchor for http(s) targets only; any other target (``javascript:``, ``data:``, a
    relative path) leaves just the link text."""
    label, target = match.group(1), html.unescape(match.group(2))
    if not _SAFE_URL.match(target):
        return label
    return f'<a href="{html.escape(target)}" rel="noopener noreferrer">{label}</a>'


def _span(text: str) -> str:
    """Escape a span without code and apply bold, italic and links; ``\\X`` keeps a
    punctuation character X literal (how the model card escapes data values)."""
    literals: list[str] = []

    def keep(match: re.Match[str]) -> str:
        literals.append(match.group(1))
        return f"\x00{len(literals) - 1}\x00"

    s = _ESCAPED.sub(keep, text.replace("\x00", ""))
    s = html.escape(s, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
    s = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"<em>\1</em>", s)
    s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", _link, s)
    return re.sub(r"\x00(\d+)\x00", lambda m: html.escape(literals[int(m.group(1))]), s)


def inline(text: str) -> str:
    """Escape ``text`` and apply inline code, bold, italic and links (http(s) only)."""
    parts = re.split(r"((?<!\\)`[^`]+`)", text)  # an escaped \` opens no code span
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            out.append(_span(part))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """A table row's cells; an escaped ``\\|`` stays inside its cell."""
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def _table(lines: list[str]) -> str:
    head = "".join(f"<th>{inline(c)}</th>" for c in _cells(lines[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(line)) + "</tr>"
        for line in lines[2:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(markdown: str) -> str:
    """HTML fragment for ``markdown`` (blocks separated as in CommonMark, simplified)."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{inline(' '.join(s.strip() for s in paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(lines[i + 1 : j]))}</code></pre>")
            i = j + 1
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        if heading := _HEADING.match(line):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if _RULE.match(line):
            flush()
            out.append("<hr>")
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[i + 1]):
            flush()
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            out.append(_table(lines[i:j]))
            i = j
            continue
        if line.lstrip().startswith(">"):
            flush()
            j = i
            quoted = []
            while j < len(lines) and lines[j].lstrip().startswith(">"):
                quoted.append(lines[j].lstrip()[1:].lstrip())
                j += 1
            out.append(f"<blockquote>{render(chr(10).join(quoted))}</blockquote>")
            i = j
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                flush()
                items: list[str] = []
                while i < len(lines) and lines[i].strip():
                    item = pattern.match(lines[i])
                    if item:
                        items.append(item.group(1))
                    elif items and lines[i][:1].isspace():  # continues the last item
                        items[-1] += " " + lines[i].strip()
                    else:
                        break
                    i += 1
                out.append(
                    f"<{tag}>" + "".join(f"<li>{inline(t)}</li>" for t in items) + f"</{tag}>"
                )
                break
        else:
            paragraph.append(line)
            i += 1
    flush()
    return "\n".join(out)
