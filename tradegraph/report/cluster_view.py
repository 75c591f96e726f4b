"""A picture of one suspicious cluster for the analyst: members, the identifiers they share,
the trade between them and its amounts, as a PNG and a self-contained HTML page.

Members are circles coloured by their latest probability of default (grey when unscored);
identifiers two members or more hold are squares linked to their holders; trade is an arrow
from seller to buyer, as wide as the log of its GMV. The HTML page embeds the PNG and lists
the same facts in tables, so it can be attached to a case file as it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx

from graph.clusters import ClusterPicture

_DPI = 110
_UNSCORED = "#b0b0b0"


def _date(micros: Any) -> str:
    if micros is None:
        return ""
    return dt.datetime.fromtimestamp(int(micros) / 1e6, dt.UTC).strftime("%Y-%m-%d")


def _short(id_hash: str) -> str:
    return f"{id_hash[:8]}…" if len(id_hash) > 9 else id_hash


def _graph(picture: ClusterPicture) -> nx.DiGraph:
    g = nx.DiGraph()
    for m in picture.members:
        g.add_node(m["business_id"], role="member", pd=m.get("pd"))
    for i in picture.identifiers:
        node = f"{i['id_type']}:{i['id_hash']}"
        g.add_node(node, role="identifier", label=f"{i['id_type']}\n{_short(i['id_hash'])}")
        for member in i["members"]:
            g.add_edge(node, member, kind="holds")
    for t in picture.trade:
        g.add_edge(t["seller_id"], t["buyer_id"], kind="trade", gmv=float(t["gmv"] or 0.0))
    return g


def draw_png(picture: ClusterPicture, path: Path) -> Path:
    """Draw the cluster to ``path`` (PNG) and return it."""
    g = _graph(picture)
    layout = nx.spring_layout(g.to_undirected(), seed=7, k=1.2 / math.sqrt(max(len(g), 1)))
    size = 4.0 + 0.35 * math.sqrt(len(g))
    fig, ax = plt.subplots(figsize=(size * 1.3, size))
    members = [n for n, d in g.nodes(data=True) if d["role"] == "member"]
    ids = [n for n, d in g.nodes(data=True) if d["role"] == "identifier"]
    colours = [g.nodes[n]["pd"] for n in members]
    cmap = plt.get_cmap("RdYlGn_r")
    nx.draw_networkx_nodes(
        g, layout, nodelist=members, ax=ax, node_size=520,
        node_color=[_UNSCORED if c is None else cmap(float(c)) for c in colours],
        edgecolors="#333333",
    )  # fmt: skip
    nx.draw_networkx_nodes(g, layout, nodelist=ids, ax=ax, node_shape="s", node_size=260,
                           node_color="#8fb3d9", edgecolors="#335577")  # fmt: skip
    holds = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "holds"]
    trade = [(u, v, d["gmv"]) for u, v, d in g.edges(data=True) if d["kind"] == "trade"]
    nx.draw_networkx_edges(g, layout, edgelist=holds, ax=ax, style="dotted",
                           edge_color="#6f8fb0", arrows=False)  # fmt: skip
    nx.draw_networkx_edges(
        g, layout, edgelist=[(u, v) for u, v, _ in trade], ax=ax, edge_color="#444444",
        width=[0.6 + 0.35 * math.log10(1.0 + w) for _, _, w in trade],
        arrows=True, arrowsize=14, connectionstyle="arc3,rad=0.12", node_size=520,
    )  # fmt: skip
    nx.draw_networkx_labels(g, layout, labels={n: n for n in members}, ax=ax, font_size=7)
    nx.draw_networkx_labels(g, layout, labels={n: g.nodes[n]["label"] for n in ids}, ax=ax,
                            font_size=6, verticalalignment="top")  # fmt: skip
    info = picture.info
    ax.set_title(
        f"{picture.cluster_id}: {info.get('kind')}, {len(members)} members, "
        f"suspicion {float(info.get('suspicion') or 0):.2f}",
        fontsize=10,
    )
    ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _money(value: Any, currency: str) -> str:
    return f"{float(value or 0):,.2f} {currency}"


def render_html(picture: ClusterPicture, png: Path, currency: str = "USD") -> str:
    """The cluster's page: the picture embedded, then members, identifiers and trade."""
    info = picture.info
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    members = _table(
        ["business", "kind", "registered", "PD", "grade"],
        [[m["business_id"], str(m.get("kind") or ""), _date(m.get("registered_at")),
          "" if m.get("pd") is None else f"{float(m['pd']):.3f}", str(m.get("grade") or "")]
         for m in picture.members],
    )  # fmt: skip
    identifiers = _table(
        ["type", "hash", "members holding it", "businesses holding it in the graph"],
        [[i["id_type"], _short(i["id_hash"]), ", ".join(i["members"]), str(i["holders"])]
         for i in picture.identifiers],
    )  # fmt: skip
    trade = _table(
        ["seller", "buyer", "orders", "GMV", "refunded", "disputed", "cancelled", "first",
         "last"],
        [[t["seller_id"], t["buyer_id"], str(t["orders"]), _money(t["gmv"], currency),
          str(t["refunded"]), str(t["disputed"]), str(t["cancelled"]), _date(t["first_ts"]),
          _date(t["last_ts"])] for t in picture.trade],
    )  # fmt: skip
    total = sum(float(t["gmv"] or 0) for t in picture.trade)
    verdict = info.get("verdict")
    title = html.escape(f"Cluster {picture.cluster_id}")
    reasons = "".join(f"<li>{html.escape(str(r))}</li>" for r in info.get("reasons") or [])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;
padding:0.25em 0.6em;text-align:left;font-size:0.9em}}img{{max-width:100%}}</style></head>
<body><h1>{title}</h1>
<p>{html.escape(str(info.get("kind")))}, {len(picture.members)} members, suspicion
{float(info.get("suspicion") or 0):.2f}, found {_date(info.get("found_at"))};
verdict: {html.escape(str(verdict)) if verdict else "none yet"}.
Trade between members: {len(picture.trade)} pairs, {html.escape(_money(total, currency))}.</p>
<ul>{reasons}</ul>
<img src="data:image/png;base64,{image}" alt="{title}: members, shared identifiers and trade">
<h2>Members</h2>{members}<h2>Shared identifiers</h2>{identifiers}
<h2>Trade between members</h2>{trade}
</body></html>
"""


def write_cluster_view(
    picture: ClusterPicture, out_dir: Path, currency: str = "USD"
) -> tuple[Path, Path]:
    """Write ``<cluster_id>.png`` and ``<cluster_id>.html`` under ``out_dir`` (characters
    that do not belong in a file name become ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", picture.cluster_id).lstrip(".")
    png = draw_png(picture, out_dir / f"{name}.png")
    page = out_dir / f"{name}.html"
    page.write_text(render_html(picture, png, currency), encoding="utf-8")
    return png, page
