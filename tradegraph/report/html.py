"""The model report: one HTML page (``index.html``, inline CSS, no scripts or remote assets) and
its PNG charts in ``plots/`` beside it, so the folder can be zipped and mailed to a credit
committee. :class:`ReportData` holds what goes in; every part is optional and a missing part
is said so on the page rather than failing the whole report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradegraph.report import plots
from tradegraph.report.markdown import render as render_markdown
from tradegraph.report.psi import MAJOR, MODERATE, psi, psi_flag, psi_table

#: Metrics shown in the table, in this order, with their headings.
METRICS: dict[str, str] = {
    "auc": "AUC",
    "auprc": "AUPRC",
    "ks": "KS",
    "gini": "Gini",
    "brier": "Brier",
    "recall_top10": "Recall top 10%",
}


@dataclass
class ReportData:
    """Everything the report shows. Frames follow these shapes:

    * ``metrics``: rows (model, slice) with ``<metric>_mean`` and ``<metric>_std`` columns
      (``gnn.evaluate.EvaluationResult.table``);
    * ``predictions``: ``model, y_true, pd`` per test business (see ``plots``);
    * ``scores``: ``score, grade`` and optionally ``pd`` and ``y_true`` per scored business;
    * ``train_features`` / ``test_features``: one row per business of each cohort, numeric
      columns; ``train_scores`` / ``test_scores``: the score of each cohort (overall PSI);
    * ``clusters``: dicts with ``cluster_id, kind, size, suspicion, reasons, members``;
    * ``riskiest``: ``business_id, pd, score, grade, reason_codes, reasons, reason_details``
      (``graph.scores.riskiest``).
    """

    title: str = "tradegraph model report"
    facts: dict[str, Any] = field(default_factory=dict)
    champion: str | None = None
    model_labels: dict[str, str] = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None
    train_features: pd.DataFrame | None = None
    test_features: pd.DataFrame | None = None
    train_scores: pd.Series | None = None
    test_scores: pd.Series | None = None
    clusters: list[dict[str, Any]] = field(default_factory=list)
    #: The latest ``clusters`` run (``graph.clusters.latest_cluster_run``): partial or not.
    cluster_run: dict[str, Any] | None = None
    #: Each drawn cluster's page, relative to the report folder (``clusters/<id>.html``).
    cluster_pages: dict[str, str] = field(default_factory=dict)
    riskiest: pd.DataFrame | None = None
    model_card: str | None = None
    warnings: list[str] = field(default_factory=list)


def from_evaluation_json(text: str) -> ReportData:
    """A :class:`ReportData` with facts, champion, metrics and (when the JSON has a
    ``predictions`` list of ``{model, y_true, pd}``) test predictions, from
    ``EvaluationResult.to_json()`` output."""
    payload = json.loads(text)
    data = ReportData(
        facts={
            k: payload[k]
            for k in ("target", "split", "train_as_of", "test_as_of", "seeds", "seconds")
            if k in payload
        }
        | {f"count: {k}": v for k, v in (payload.get("counts") or {}).items()},
        champion=payload.get("champion"),
        warnings=list(payload.get("warnings") or []),
    )
    try:
        from gnn.evaluate import MODEL_LABELS

        data.model_labels = dict(MODEL_LABELS)
    except ImportError:  # pragma: no cover - gnn is part of the install
        pass
    if payload.get("table"):
        data.metrics = _with_intervals(pd.DataFrame(payload["table"]), payload.get("intervals"))
    if payload.get("predictions"):
        data.predictions = pd.DataFrame(payload["predictions"])
    return data


def _with_intervals(table: pd.DataFrame, intervals: dict[str, Any] | None) -> pd.DataFrame:
    """``table`` plus ``<metric>_low``/``_high`` columns from the evaluation's bootstrap
    intervals (``intervals[slice][model][metric]``), where it has them."""
    if not intervals:
        return table
    table = table.copy()
    for metric in ("auc", "auprc"):
        for bound in ("low", "high"):
            table[f"{metric}_{bound}"] = [
                ((intervals.get(r["slice"]) or {}).get(r["model"]) or {}).get(metric, {}).get(bound)
                for _, r in table.iterrows()
            ]
    return table


# --- sections ------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _esc(value) if value is not None else "-"
    return "-" if math.isnan(number) else f"{number:.{digits}f}"


def _img(src: str, alt: str) -> str:
    caption = f"<figcaption>{_esc(alt)}</figcaption>"
    return f'<figure><img src="{_esc(src)}" alt="{_esc(alt)}">{caption}</figure>'


def _row(*cells: str) -> str:
    """A table row of already-escaped cell HTML."""
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _missing(what: str) -> str:
    return f'<p class="missing">{_esc(what)}</p>'


def _metrics_section(data: ReportData) -> str:
    if data.metrics is None or data.metrics.empty:
        return _missing("No evaluation metrics: run `tradegraph evaluate ... --json` first.")
    shown = [m for m in METRICS if f"{m}_mean" in data.metrics.columns or m in data.metrics.columns]
    head = "<th>model</th><th>slice</th>" + "".join(f"<th>{METRICS[m]}</th>" for m in shown)
    rows = []
    for _, row in data.metrics.iterrows():
        model = str(row.get("model"))
        cells = []
        for m in shown:
            if f"{m}_mean" in row:
                std, low, high = row.get(f"{m}_std"), row.get(f"{m}_low"), row.get(f"{m}_high")
                spread = f' <span class="std">± {_num(std)}</span>' if std is not None else ""
                if low is not None and high is not None and not pd.isna(low):
                    spread = f' <span class="std">[{_num(low)}, {_num(high)}]</span>'
                cells.append(f"<td>{_num(row[f'{m}_mean'])}{spread}</td>")
            else:
                cells.append(f"<td>{_num(row[m])}</td>")
        css = ' class="champion"' if model == data.champion else ""
        label = data.model_labels.get(model, model) + (" ★" if model == data.champion else "")
        rows.append(
            f"<tr{css}><td>{_esc(label)}</td><td>{_esc(row.get('slice', 'all'))}</td>"
            f"{''.join(cells)}</tr>"
        )
    note = (
        "<p>★ champion, chosen by cross-validation inside the training rows (the test rows "
        "never choose it); test figures are means over seeds, with the 95% interval of a "
        "paired bootstrap over test businesses in brackets where the evaluation has it "
        "(± std over seeds otherwise).</p>"
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _champion_predictions(data: ReportData) -> tuple[str, np.ndarray, np.ndarray] | None:
    if data.predictions is None or data.predictions.empty:
        return None
    models = data.predictions["model"].astype(str)
    model = str(data.champion) if data.champion in set(models) else str(models.iloc[0])
    rows = data.predictions[models == model]
    return model, rows["y_true"].to_numpy(dtype=int), rows["pd"].to_numpy(dtype=float)


def _performance_section(data: ReportData, plot_dir: Path) -> str:
    champ = _champion_predictions(data)
    if champ is None:
        return _missing(
            "No test-set predictions in the evaluation: "
            "ROC, PR, KS and calibration charts need them."
        )
    model, y, p = champ
    label = data.model_labels.get(model, model)
    if len(np.unique(y)) < 2:
        return _missing("The test cohort holds one class only: no ROC, PR or KS chart.")
    plots.roc_plot(data.predictions, plot_dir / "roc.png", data.champion, data.model_labels)
    plots.pr_plot(data.predictions, plot_dir / "pr.png", data.champion, data.model_labels)
    plots.ks_plot(y, p, plot_dir / "ks.png", label)
    plots.calibration_plot(y, p, plot_dir / "calibration.png", label)
    table = plots.calibration_table(y, p)
    rows = "".join(
        _row(
            str(int(r["bin"]) + 1), str(int(r["n"])), _num(r["mean_pd"], 4), _num(r["observed"], 4)
        )
        for _, r in table.iterrows()
    )
    calibration = (
        f"<details><summary>Calibration table of {_esc(label)} (deciles)</summary>"
        "<table><thead><tr>"
        "<th>decile</th><th>n</th><th>mean PD</th><th>observed rate</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></details>"
    )
    return (
        '<div class="grid">'
        + _img("plots/roc.png", "ROC curves: champion and baselines")
        + _img("plots/pr.png", "Precision-recall curves: champion and baselines")
        + _img("plots/ks.png", f"KS chart: {label}")
        + _img("plots/calibration.png", f"Calibration: {label}")
        + "</div>"
        + calibration
    )


def _scores_section(data: ReportData, plot_dir: Path) -> str:
    if data.scores is None or data.scores.empty:
        return _missing("No scores: run `tradegraph score` to see the score distribution by grade.")
    plots.score_distribution_plot(data.scores, plot_dir / "score_distribution.png")
    order = plots.grade_order(data.scores)
    grouped = data.scores.assign(grade=data.scores["grade"].astype(str)).groupby("grade")
    rows = []
    for grade in order:
        part = grouped.get_group(grade)
        observed = (
            _num(part["y_true"].mean(), 4)
            if "y_true" in part and part["y_true"].notna().any()
            else "-"
        )
        mean_pd = _num(part["pd"].mean(), 4) if "pd" in part else "-"
        rows.append(
            f"<tr><td>{_esc(grade)}</td><td>{len(part)}</td>"
            f"<td>{_num(part['score'].min(), 0)}-{_num(part['score'].max(), 0)}</td>"
            f"<td>{mean_pd}</td><td>{observed}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>grade</th><th>businesses</th><th>score range</th><th>mean PD</th>"
        f"<th>observed default rate</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        '<div class="grid">'
        + _img("plots/score_distribution.png", "Score distribution by grade")
        + f"<div>{table}</div></div>"
    )


def _psi_section(data: ReportData, plot_dir: Path) -> str:
    parts = []
    overall = None
    if data.train_scores is not None and data.test_scores is not None:
        overall = psi(data.train_scores, data.test_scores)
        parts.append(
            '<p class="psi-overall">Score PSI (training vs test cohort): '
            f"<strong>{_num(overall)}</strong> "
            f'<span class="flag {psi_flag(overall)}">{psi_flag(overall)}</span></p>'
        )
    if data.train_features is None or data.test_features is None:
        parts.append(
            _missing("No feature cohorts: PSI per feature needs the training and test snapshots.")
        )
        return "".join(parts)
    table = psi_table(data.train_features, data.test_features)
    plots.psi_plot(table, plot_dir / "psi.png", overall)
    rows = "".join(
        _row(_esc(r["feature"]), _num(r["psi"]), f'<span class="flag {flag}">{flag}</span>')
        for _, r in table.iterrows()
        for flag in [_esc(r["flag"])]
    )
    flagged = int((table["flag"] != "stable").sum())
    parts.append(
        f"<p>{flagged} of {len(table)} features shifted: flagged at PSI ≥ {MODERATE} "
        f"(moderate) and ≥ {MAJOR} (major).</p>"
        '<div class="grid">'
        + _img("plots/psi.png", "PSI per feature, training vs test cohort")
        + '<div class="scroll"><table><thead><tr><th>feature</th><th>PSI</th><th>flag</th>'
        + f"</tr></thead><tbody>{rows}</tbody></table></div></div>"
    )
    return "".join(parts)


def _riskiest_section(data: ReportData) -> str:
    if data.riskiest is None or data.riskiest.empty:
        return _missing("No stored scores: run `tradegraph score` to list the riskiest SMEs.")
    rows = []
    for r in data.riskiest.itertuples(index=False):
        lines = zip(r.reason_codes or [], r.reasons or [], r.reason_details or [], strict=False)
        reasons = "".join(
            f"<li><code>{_esc(code)}</code> {_esc(text)}"
            f'<div class="detail">{_esc(detail)}</div></li>'
            for code, text, detail in lines
        )
        rows.append(
            f"<tr><td><code>{_esc(r.business_id)}</code></td><td>{_num(r.pd)}</td>"
            f"<td>{_esc(r.score)}</td><td>{_esc(r.grade)}</td><td><ol>{reasons}</ol></td></tr>"
        )
    return (
        "<p>Each reason: its code, the sentence for the applicant (facts about its own trade) "
        "and, below it, the analyst's detail (the counterparties behind it).</p>"
        "<table><thead><tr><th>business</th><th>PD</th><th>score</th><th>grade</th>"
        f"<th>reasons</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cluster_run_note(run: dict[str, Any] | None) -> str:
    """A warning when the latest clusters run was partial: which detectors, and why."""
    if not run or not run.get("partial"):
        return ""
    lines = [d for d in run.get("detectors") or [] if ": complete" not in d]
    return (
        '<p class="warning">The latest clusters run was partial: '
        + "; ".join(_esc(line) for line in lines)
        + ". Clusters those detectors would find may be missing.</p>"
    )


def _clusters_section(data: ReportData, top: int = 10) -> str:
    note = _cluster_run_note(data.cluster_run)
    return note + _clusters_table(data, top)


def _clusters_table(data: ReportData, top: int) -> str:
    if not data.clusters:
        return _missing(
            "No suspicious clusters in the graph: run `tradegraph clusters` to find them."
        )
    rows = []
    for c in data.clusters[:top]:
        members = list(c.get("members") or [])
        shown = ", ".join(members[:8]) + (f" … (+{len(members) - 8})" if len(members) > 8 else "")
        reasons = c.get("reasons") or []
        reasons_html = "<br>".join(
            _esc(r) for r in (reasons if isinstance(reasons, list) else [reasons])
        )
        cluster_id = _esc(c.get("cluster_id"))
        page = data.cluster_pages.get(str(c.get("cluster_id")))
        shown_id = (
            f'<a href="{_esc(page)}"><code>{cluster_id}</code></a>'
            if page
            else f"<code>{cluster_id}</code>"
        )
        rows.append(
            f"<tr><td>{shown_id}</td><td>{_esc(c.get('kind'))}</td>"
            f"<td>{_esc(c.get('size', len(members)))}</td><td>{_num(c.get('suspicion'))}</td>"
            f'<td>{reasons_html}</td><td class="members">{_esc(shown)}</td></tr>'
        )
    return (
        "<table><thead><tr><th>cluster</th><th>kind</th><th>size</th><th>suspicion</th>"
        f"<th>why</th><th>members</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


_CSS = """
body{
  font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  margin:0;
  color:#1f2933;
  background:#f5f7fa;
}
header{background:#1f3a5f;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;opacity:.85}
main{padding:8px 32px 40px;max-width:1400px}
section{
  background:#fff;
  border-radius:8px;
  padding:12px 20px;
  margin:16px 0;
  box-shadow:0 1px 3px rgba(0,0,0,.08);
}
h2{color:#1f3a5f;border-bottom:2px solid #e4e7eb;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f4f8}
tr.champion td{background:#fff8e1;font-weight:600}
.std{color:#7b8794;font-weight:400;font-size:11px}
.grid{
  display:grid;
  grid-template-columns:repeat(auto-fit,minmax(480px,1fr));
  gap:12px;
  align-items:start;
}
figure{margin:0}
img{max-width:100%;border:1px solid #e4e7eb;border-radius:4px}
figcaption{font-size:12px;color:#52606d}
.flag{padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}
.flag.stable{background:#4c9f70}
.flag.moderate{background:#e0a526}
.flag.major{background:#c8443a}
.flag.n\\/a{background:#999}
.missing{color:#7b8794;font-style:italic}
.warning{background:#fff4e5;border-left:4px solid #e0a526;padding:6px 10px}
.facts td:first-child{color:#52606d}
.members{font-size:11px;max-width:380px}
.detail{font-size:11px;color:#555}
.scroll{max-height:480px;overflow:auto}
.card h1{font-size:20px}
.card h2{font-size:17px}
.card h3{font-size:15px}
pre{background:#f0f4f8;padding:8px;overflow:auto}
"""


def render_report(data: ReportData, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/plots/*.png``; return the HTML path."""
    out_dir = Path(out_dir)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    for old in plot_dir.glob("*.png"):  # a chart that is not drawn this time must not linger
        old.unlink()
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in data.facts.items())
    warnings = "".join(f'<p class="warning">{_esc(w)}</p>' for w in data.warnings)
    card = (
        f'<div class="card">{render_markdown(data.model_card)}</div>'
        if data.model_card
        else _missing("No model card: run `tradegraph train` to write one.")
    )
    sections = [
        (
            "Run",
            (f'<table class="facts"><tbody>{facts}</tbody></table>' if facts else "") + warnings,
        ),
        ("Champion and baselines", _metrics_section(data)),
        ("Discrimination and calibration", _performance_section(data, plot_dir)),
        ("Scores by grade", _scores_section(data, plot_dir)),
        ("Population stability (training vs test cohort)", _psi_section(data, plot_dir)),
        ("Riskiest businesses and their reasons", _riskiest_section(data)),
        ("Top suspicious clusters", _clusters_section(data)),
        ("Model card", card),
    ]
    body = "".join(
        f'<section id="{_esc(title.split()[0].lower())}"><h2>{_esc(title)}</h2>{content}</section>'
        for title, content in sections
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(data.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_esc(data.title)}</h1><p>generated {generated}</p></header>"
        f"<main>{body}</main></body></html>"
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
