"""The model card (Markdown) written at every training, for lenders and model-risk review.

Everything quoted comes from ``Artefact.metrics`` as ``gnn.scoring.train_models`` measured it:
cohort and data window, champion and baseline metrics out of fold (each row scored by models
that never saw its label; the champion chosen on the folds' mean AUC), the calibration table,
the back-test by grade, performance by region and industry with large gaps flagged, intended
use and known limits.
"""

from __future__ import annotations

import math
import re

from gnn.artefact import Artefact
from gnn.evaluate import MODEL_LABELS

_METRICS = ("auc", "auprc", "ks", "gini", "brier", "recall_top10")
_COHORT_COUNTS = (
    "businesses_in_graph",
    "trade_edges",
    "labelled",
    "positives",
    "folds",
    "thin_file",
    "thin_file_positives",
)
#: Characters with a meaning in Markdown (or HTML inside it), escaped in data values.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md_text(value: object) -> str:
    """A data value (a region or industry name from the export) as literal Markdown text:
    special characters backslash-escaped and line breaks folded, so it can neither add a
    link, markup nor a table cell."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


def _num(value: object, fmt: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, fmt)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_rows(block: dict[str, dict[str, float]], champion: str) -> list[list[str]]:
    rows = []
    for name, values in block.items():
        label = MODEL_LABELS.get(name, "champion, calibrated PD")
        mark = " **(champion)**" if name == champion else ""
        rows.append([label + mark, *(_num(values.get(m)) for m in _METRICS)])
    return rows


def render(artefact: Artefact) -> str:
    """The model card of ``artefact`` as Markdown, section by section."""
    parts = [
        *_overview(artefact),
        *_calibration_and_grades(artefact),
        *_fairness(artefact),
        *_use_and_limits(artefact),
    ]
    return "\n".join(parts)


def _overview(artefact: Artefact) -> list[str]:
    """Champion, target, scale and calibration; the cohort; the out-of-fold comparison."""
    m = artefact.metrics
    cohort = m["cohort"]
    scale = artefact.scale
    champion = m["champion"]
    return [
        f"# Model card: {artefact.model_version}",
        "",
        f"- **Champion**: {MODEL_LABELS.get(champion, champion)} (`{champion}`), chosen on "
        f"the mean held-out AUC of {cohort['folds']}-fold cross-validation inside the training "
        "cohort (folds grouped by business)",
        f"- **Target**: `{artefact.target}` within the outcome horizon after the score date",
        f"- **Trained as of**: {cohort['as_of']} (trained at {artefact.trained_at})",
        f"- **Score scale**: `{scale.name}` {scale.min_score:.0f}–{scale.max_score:.0f}, higher "
        f"is safer; {scale.base_score:.0f} points = odds {scale.base_odds:g}:1, "
        f"{scale.pdo:g} points to double the odds",
        f"- **Calibration**: {m['calibration_method']}, fitted on the champion's out-of-fold "
        f"predictions; expected calibration error out of fold {_num(m['ece_raw'])} raw → "
        f"{_num(m['ece_calibrated'])} calibrated (calibration cross-fitted over the folds)",
        "",
        "## Data window and cohorts",
        "",
        f"Point-in-time snapshot strictly before {cohort['as_of']}: businesses registered from "
        f"{cohort['first_registration']}, orders from {cohort['first_order']}, with their status "
        "as it stood at the score date. Outcomes are labels only.",
        "",
        _table(
            [
                "businesses in graph",
                "trade edges",
                "labelled",
                cohort["target"],
                "folds",
                "thin-file",
                f"thin-file {cohort['target']}",
            ],
            [[str(cohort[k]) for k in _COHORT_COUNTS]],
        ),
        "",
        "Every figure below is out of fold: the cohort is split into folds grouped by "
        "business; each fold is scored by models fitted on the others (early-stopping on rows "
        "inside those), so no figure comes from a row its model was fitted on. The champion "
        "is chosen on these figures, so its own are slightly optimistic; a temporal test on a "
        "later cohort (`tradegraph evaluate`) is the unbiased check.",
        "",
        "## Champion and baselines (out of fold)",
        "",
        _table(["model", *_METRICS], _metric_rows(m["out_of_fold"], champion)),
        "",
        f"Out-of-fold AUC of the champion on thin-file businesses: {_num(m['thin_auc'])}"
        + (
            f" ({cohort['thin_file_positives']} {cohort['target']}: too few to read)."
            if cohort["thin_file_positives"] < 30
            else "."
        ),
        "",
    ]


def _calibration_and_grades(artefact: Artefact) -> list[str]:
    """Calibration by decile and the back-test by grade, both out of fold."""
    m = artefact.metrics
    scale = artefact.scale
    return [
        "## Calibration (out of fold, by decile of calibrated PD)",
        "",
        _table(
            ["decile", "n", "PD range", "mean predicted PD", "observed rate", "defaults"],
            [
                [
                    str(r["bin"]),
                    str(r["n"]),
                    f"{_num(r['min_pd'], '.2%')}–{_num(r['max_pd'], '.2%')}",
                    _num(r["predicted"], ".2%"),
                    _num(r["observed"], ".2%"),
                    str(int(r["defaults"])),
                ]
                for r in m["calibration_table"]
            ],
        ),
        "",
        "## Back-test by grade (out of fold)",
        "",
        _table(
            ["grade", "lowest score", "n", "defaults", "observed rate", "mean predicted PD"],
            [
                [
                    r["grade"],
                    _num(cut, ".0f"),
                    str(r["n"]),
                    str(r["defaults"]),
                    _num(r["observed"], ".2%"),
                    _num(r["predicted"], ".2%"),
                ]
                for r, cut in zip(
                    m["grade_backtest"],
                    [c for _, c in artefact.grades.cutoffs] + [scale.min_score],
                    strict=True,
                )
            ],
        ),
        "",
    ]


def _fairness(artefact: Artefact) -> list[str]:
    """Performance by region and industry with the slices that need a look flagged."""
    m = artefact.metrics
    parts = [
        "## Performance by region and industry (fairness review, out of fold)",
        "",
        "A slice is flagged when its AUC trails the overall out-of-fold AUC by more than 0.10, or "
        "its observed default rate differs from its mean predicted PD by more than two "
        "standard errors (and 3 points). Slices under 20 businesses get no AUC.",
        "",
    ]
    for column in ("region", "industry"):
        rows = m["slices"][column]
        flagged = [r for r in rows if r["flag"]]
        parts += [
            f"### By {column} ({len(flagged)} flagged)",
            "",
            _table(
                [column, "n", "defaults", "observed", "predicted", "AUC", "flag"],
                [
                    [
                        md_text(r[column]),
                        str(r["n"]),
                        str(r["defaults"]),
                        _num(r["observed"], ".2%"),
                        _num(r["predicted"], ".2%"),
                        _num(r["auc"]),
                        md_text(r["flag"] or ""),
                    ]
                    for r in rows
                ],
            ),
            "",
        ]
    return parts


def _use_and_limits(artefact: Artefact) -> list[str]:
    """Intended use and known limits."""
    cohort = artefact.metrics["cohort"]
    return [
        "## Intended use",
        "",
        "Ranking and pricing the credit risk of small businesses that trade on the marketplace, "
        "as one input to a lending decision a person makes: limits, pricing, review queues and "
        "monitoring of deterioration between scores. Each score comes with up to four reasons "
        "from the champion model (TreeSHAP or Integrated Gradients), each with a stable code "
        "(docs/reason-codes.md), a sentence the applicant may hear (facts about its own trade "
        "only) and a detail line for the analyst naming the counterparties that weigh most.",
        "",
        "Not intended for: consumers, businesses outside the marketplace, decisions without "
        "human review, or as proof of fraud.",
        "",
        "## Known limits",
        "",
        f"- Trained on one cohort ({cohort['as_of']}); performance drifts as the marketplace "
        "changes. Retrain at each new outcome date and compare with the previous model.",
        "- Out-of-fold rows come from the same cohort as training: a temporal test on a later "
        "cohort (`tradegraph evaluate`) is the stronger check.",
        "- PDs are calibrated to the cohort's default rate; a change in the base rate needs "
        "recalibration.",
        "- A business's score moves with its counterparties' behaviour; scores of businesses "
        "with few or no trades rest on their own thin data.",
        "- Small slices (regions, industries) have wide error bars; flags are prompts to "
        "investigate, not conclusions.",
        "",
    ]
