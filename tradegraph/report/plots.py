"""The report's charts, drawn with matplotlib's Agg backend (no display needed) to PNG files.

Predictions come as one long frame, ``PREDICTION_COLUMNS`` = ``model, y_true, pd``: one row
per (model, test business), ``y_true`` 0/1 and ``pd`` the model's probability. Each function
writes one PNG at ``path`` and returns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from tradegraph.report.psi import MAJOR, MODERATE

PREDICTION_COLUMNS: tuple[str, ...] = ("model", "y_true", "pd")
_DPI = 110
_SIZE = (6.4, 4.4)
_FLAG_COLOURS = {"stable": "#4c9f70", "moderate": "#e0a526", "major": "#c8443a", "n/a": "#999999"}


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def _by_model(
    predictions: pd.DataFrame, champion: str | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(model, y, p) per model with both classes present, champion first."""
    out = []
    for model, rows in predictions.groupby("model", sort=True):
        y = rows["y_true"].to_numpy(dtype=int)
        if len(np.unique(y)) == 2:
            out.append((str(model), y, rows["pd"].to_numpy(dtype=float)))
    return sorted(out, key=lambda item: (item[0] != champion, item[0]))


def _style(model: str, champion: str | None) -> dict[str, Any]:
    return {
        "linewidth": 2.6 if model == champion else 1.3,
        "alpha": 1.0 if model == champion else 0.8,
    }


def _label(model: str, champion: str | None, labels: dict[str, str] | None) -> str:
    name = (labels or {}).get(model, model)
    return f"{name} (champion)" if model == champion else name


def roc_plot(
    predictions: pd.DataFrame,
    path: Path,
    champion: str | None = None,
    labels: dict[str, str] | None = None,
) -> Path:
    """ROC curve of every model, AUC in the legend, the chance diagonal dashed."""
    fig, ax = plt.subplots(figsize=_SIZE)
    for model, y, p in _by_model(predictions, champion):
        fpr, tpr, _ = roc_curve(y, p)
        auc = roc_auc_score(y, p)
        ax.plot(
            fpr,
            tpr,
            label=f"{_label(model, champion, labels)}  AUC {auc:.3f}",
            **_style(model, champion),
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(
        xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (test cohort)"
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def pr_plot(
    predictions: pd.DataFrame,
    path: Path,
    champion: str | None = None,
    labels: dict[str, str] | None = None,
) -> Path:
    """Precision-recall curve of every model; the base rate (a random ranking) dashed."""
    fig, ax = plt.subplots(figsize=_SIZE)
    base = None
    for model, y, p in _by_model(predictions, champion):
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(
            recall,
            precision,
            where="post",
            label=_label(model, champion, labels),
            **_style(model, champion),
        )
        base = y.mean()
    if base is not None:
        ax.axhline(base, linestyle="--", color="grey", linewidth=1, label=f"base rate {base:.3f}")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall (test cohort)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def ks_plot(
    y_true: np.ndarray, probability: np.ndarray, path: Path, model: str = "champion"
) -> Path:
    """Cumulative share of defaulters and non-defaulters caught, riskiest first; the KS
    statistic is the largest vertical gap, marked with a line."""
    y = np.asarray(y_true).astype(bool)
    order = np.argsort(-np.asarray(probability, dtype=float), kind="mergesort")
    ys = y[order]
    population = np.arange(1, len(ys) + 1) / max(len(ys), 1)
    bad = np.cumsum(ys) / max(ys.sum(), 1)
    good = np.cumsum(~ys) / max((~ys).sum(), 1)
    gap = np.abs(bad - good)
    at = int(np.argmax(gap)) if len(gap) else 0
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(population, bad, color="#c8443a", label="defaulters (cumulative share)")
    ax.plot(population, good, color="#3a6fc8", label="non-defaulters (cumulative share)")
    if len(gap):
        ax.vlines(population[at], good[at], bad[at], color="black", linestyle=":", linewidth=1.5)
        ax.annotate(
            f"KS = {gap[at]:.3f}",
            (population[at], (good[at] + bad[at]) / 2),
            xytext=(8, 0),
            textcoords="offset points",
        )
    ax.set(
        xlabel="Share of businesses, riskiest first",
        ylabel="Cumulative share",
        title=f"KS chart: {model}",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def calibration_table(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed default rate by quantile bin of the probability.

    Columns ``bin, n, mean_pd, observed`` (``bins`` rows at most; ties can merge bins).
    """
    frame = pd.DataFrame(
        {"y": np.asarray(y_true, dtype=float), "p": np.asarray(probability, dtype=float)}
    )
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    grouped = frame.groupby("bin").agg(
        n=("y", "size"), mean_pd=("p", "mean"), observed=("y", "mean")
    )
    return grouped.reset_index()


def calibration_plot(
    y_true: np.ndarray, probability: np.ndarray, path: Path, model: str = "champion"
) -> Path:
    """Observed default rate against mean predicted PD by decile; the diagonal is perfect."""
    table = calibration_table(y_true, probability)
    top = float(max(table["mean_pd"].max(), table["observed"].max(), 0.05)) * 1.1
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(
        [0, top], [0, top], linestyle="--", color="grey", linewidth=1, label="perfect calibration"
    )
    ax.plot(table["mean_pd"], table["observed"], marker="o", color="#3a6fc8", label=model)
    for _, row in table.iterrows():
        ax.annotate(
            f"n={int(row['n'])}",
            (row["mean_pd"], row["observed"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set(
        xlabel="Mean predicted PD (decile)",
        ylabel="Observed default rate",
        title="Calibration (test cohort)",
    )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def grade_order(scores: pd.DataFrame) -> list[str]:
    """Grades from safest to riskiest (by median PD when present, else by name)."""
    if "pd" in scores.columns:
        return [str(g) for g in scores.groupby("grade")["pd"].median().sort_values().index]
    return sorted(str(g) for g in scores["grade"].dropna().unique())


def score_distribution_plot(scores: pd.DataFrame, path: Path) -> Path:
    """Histogram of the score, stacked by grade. ``scores`` has columns ``score, grade`` (and
    ``pd`` to order the grades)."""
    grades = grade_order(scores)
    values = [
        scores.loc[scores["grade"].astype(str) == g, "score"].to_numpy(dtype=float) for g in grades
    ]
    colours = plt.get_cmap("RdYlGn_r")(np.linspace(0.05, 0.95, max(len(grades), 1)))
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.hist(
        values,
        bins=30,
        stacked=True,
        color=[tuple(c) for c in colours[: len(grades)]],
        label=grades,
        edgecolor="white",
        linewidth=0.3,
    )
    ax.set(
        xlabel="Score (higher = safer)", ylabel="Businesses", title="Score distribution by grade"
    )
    ax.legend(title="grade", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def psi_plot(table: pd.DataFrame, path: Path, overall: float | None = None, top: int = 25) -> Path:
    """Horizontal PSI bars per feature (``table`` from :func:`psi_table`, highest first, at most
    ``top``), coloured by flag, with the 0.1 and 0.25 thresholds drawn."""
    shown = table.head(top).iloc[::-1]
    height = max(2.5, 0.28 * len(shown) + 1.2)
    fig, ax = plt.subplots(figsize=(6.4, height))
    values = shown["psi"].fillna(0.0).to_numpy(dtype=float)
    colours = [_FLAG_COLOURS.get(str(f), "#999999") for f in shown["flag"]]
    ax.barh(shown["feature"].astype(str), values, color=colours)
    ax.axvline(
        MODERATE, color=_FLAG_COLOURS["moderate"], linestyle="--", linewidth=1, label="0.1 moderate"
    )
    ax.axvline(MAJOR, color=_FLAG_COLOURS["major"], linestyle="--", linewidth=1, label="0.25 major")
    title = "PSI per feature, training vs test cohort"
    if overall is not None:
        title += f"\n(score PSI {overall:.3f})"
    ax.set(xlabel="PSI", title=title)
    ax.set_xlim(0, max(float(values.max(initial=0.0)) * 1.15, MAJOR * 1.3))
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)
