"""Neo4j Browser favourites and a Browser guide, generated from the query library so the
Browser copies never drift from ``graph/queries``.

:func:`export_browser` writes two files into a folder:

- ``tradegraph-favorites.zip``: one ``tradegraph/<name>.cypher`` per query, first line
  ``// <title>`` (the name Browser shows), then the ``:params`` line with the defaults and the
  query. Import it from the Favorites drawer ("Import") of Neo4j Browser.
- ``tradegraph-guide.html``: a Browser guide (one slide per query: what it finds, what a hit
  means, its parameters, runnable ``:params`` and query blocks). Serve it and open it with
  ``:play <url>`` (the host must be in ``browser.remote_content_allowlist``).
"""

from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path
from typing import Any

from graph.query_library import LibraryQuery, load_library

FAVORITES_FILE = "tradegraph-favorites.zip"
GUIDE_FILE = "tradegraph-guide.html"


def cypher_literal(value: Any) -> str:
    """A Cypher literal for a parameter default (``null``, numbers, strings, lists)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    return json.dumps(str(value))


def params_command(query: LibraryQuery) -> str:
    """``:params {...}`` setting every parameter of ``query`` to its default."""
    body = ", ".join(f"{p.name}: {cypher_literal(p.default)}" for p in query.params)
    return f":params {{{body}}}"


def query_body(query: LibraryQuery) -> str:
    """The query text without its header comment block."""
    lines = query.text.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.strip().startswith("//")), 0)
    return "\n".join(lines[start:]).strip() + "\n"


def favorite_text(query: LibraryQuery) -> str:
    """One favourite: title line, the library header (as documentation), params, query."""
    return f"// {query.title}\n// {params_command(query)}\n{query.text.strip()}\n"


def guide_html(library: dict[str, LibraryQuery]) -> str:
    """A Neo4j Browser guide with one slide per query."""
    slides = [
        "<slide class='row-fluid'><div class='col-sm-12'><h3>tradegraph fraud queries</h3>"
        "<p>Each slide is one question from the tested library in <code>graph/queries</code>. "
        "Run the <code>:params</code> block first (edit the values), then the query.</p><ul>"
        + "".join(f"<li>{html.escape(q.title)}</li>" for q in library.values())
        + "</ul></div></slide>"
    ]
    for query in library.values():
        rows = "".join(
            f"<tr><td><code>{html.escape(p.name)}</code></td><td>{html.escape(p.type)}</td>"
            f"<td><code>{html.escape('required' if p.required else cypher_literal(p.default))}"
            f"</code></td><td>{html.escape(p.doc)}</td></tr>"
            for p in query.params
        )
        slides.append(
            "<slide class='row-fluid'><div class='col-sm-12'>"
            f"<h3>{html.escape(query.title)}</h3>"
            f"<p><b>Finds:</b> {html.escape(query.finds)}</p>"
            f"<p><b>A hit means:</b> {html.escape(query.hit)}</p>"
            "<table class='table'><tr><th>parameter</th><th>type</th><th>default</th>"
            f"<th>meaning</th></tr>{rows}</table>"
            f"<pre class='code runnable'>{html.escape(params_command(query))}</pre>"
            f"<pre class='code runnable'>{html.escape(query_body(query))}</pre>"
            "</div></slide>"
        )
    return (
        "<article class='guide'><carousel class='deck container-fluid'>\n"
        + "\n".join(slides)
        + "\n</carousel></article>\n"
    )


def export_browser(out_dir: Path, library: dict[str, LibraryQuery] | None = None) -> list[Path]:
    """Write the favourites zip and the guide into ``out_dir`` (created); return both paths."""
    library = library if library is not None else load_library()
    out_dir.mkdir(parents=True, exist_ok=True)
    favorites = out_dir / FAVORITES_FILE
    with zipfile.ZipFile(favorites, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, query in library.items():
            archive.writestr(f"tradegraph/{name}.cypher", favorite_text(query))
    guide = out_dir / GUIDE_FILE
    guide.write_text(guide_html(library), encoding="utf-8")
    return [favorites, guide]
