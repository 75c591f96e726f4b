"""Real-data evaluation: the four models of ``gnn.evaluate`` on Bitcoin OTC and Ethereum phishing.

Each dataset is converted with its ``loaders.real`` adapter into a scratch folder, read back
through the validating export reader (Ethereum with base currency ``ETH``), and evaluated with
``gnn.evaluate.evaluate(target="fraud")``:

* ``bitcoin-otc``: ``split="cv"``. Incoming rating values are hidden from every model: the
  adapter keeps them only in the extra ``rating`` column, which no feature reads. Beside it,
  the leaky baseline (minus a trader's mean incoming rating, the quantity the REV2 labels come
  from) on exactly the same test folds, for comparison only.
* ``ethereum-phishing``: ``split="given"`` (the source's ``is_train``/``is_test`` split, kept by
  the adapter as the outcomes' ``split`` column) and ``split="cv"``.

Run: ``python benchmarks/real_data_eval.py [--datasets bitcoin-otc,ethereum-phishing]
[--splits given,cv] [--seeds 5] [--gnn-bags 4] [--data ../shared/data] [--threads 1]
[--json out.json]``; the result goes to ``benchmarks/results/real_data_eval.json`` unless
``--json`` names a file (it is rewritten after every dataset and split).
Prints one markdown table per (dataset, split): test AUC / AUPRC, mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from results_io import command_line, write_result
from sklearn.metrics import roc_auc_score

from gnn.data import FeatureScaler, SnapshotFrames, build_graph
from gnn.evaluate import (
    MODEL_LABELS,
    EvaluationConfig,
    EvaluationResult,
    FeatureSet,
    evaluate,
    split_folds,
)
from gnn.selection import SelectionConfig
from loaders.options import ExportOptions
from loaders.real.bitcoin_otc import convert_bitcoin_otc
from loaders.real.ethereum_phishing import convert_ethereum_phishing
from loaders.validate import ExportReader

#: Any key works: these exports carry no identifiers to hash.
KEY = b"tradegraph-real-data-benchmark"
CONVERTERS = {"bitcoin-otc": convert_bitcoin_otc, "ethereum-phishing": convert_ethereum_phishing}
BASE_CURRENCY = {"bitcoin-otc": "USD", "ethereum-phishing": "ETH"}
#: The splits each dataset is evaluated on (``given`` needs the source's own split).
SPLITS = {"bitcoin-otc": ("cv",), "ethereum-phishing": ("given", "cv")}
#: Feature options per dataset. Bitcoin OTC's ratings span 2010-2016 and most traders rated
#: no one in its last year: a one-year counterparty window would leave ~90% of labelled traders
#: without counterparties while GraphSAGE's edges cover the whole history. Ten years covers it.
FEATURE_OPTIONS: dict[str, dict[str, object]] = {"bitcoin-otc": {"counterparty_days": 3650}}


def read_frames(dataset: str, src: Path, scratch: Path) -> SnapshotFrames:
    """Convert ``src`` with the dataset's adapter and read the export back as contract frames
    (extra columns kept: ``rating`` on Bitcoin OTC orders, ``split`` on Ethereum outcomes)."""
    CONVERTERS[dataset](src, scratch)
    with ExportReader(
        scratch, KEY, rejects_dir=None, options=ExportOptions(BASE_CURRENCY[dataset])
    ) as reader:
        businesses, identifiers = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
        outcomes = reader.outcomes()
    as_of = pd.Timestamp(outcomes["as_of"].iloc[0])
    return SnapshotFrames(businesses, identifiers, orders, outcomes, as_of)


def leaky_rating_auc(frames: SnapshotFrames, split: str, seeds: int) -> list[float]:
    """Per-fold test AUC of ``-mean incoming rating`` on the folds ``evaluate`` uses (the
    same graph row order and the same fold rule), for comparison only."""
    features = FeatureSet.default().frame(frames, frames.as_of)
    scaler = FeatureScaler(list(features.columns)).fit(features)
    graph = build_graph(frames, features, scaler, frames.as_of, "fraud")
    rating = pd.to_numeric(frames.orders["rating"], errors="coerce")  # extra columns are text
    incoming = rating.groupby(frames.orders["seller_id"].astype(str)).mean()
    score = -incoming.reindex(graph.business_ids).fillna(0.0).to_numpy()
    y = graph.data.y.numpy()
    return [
        float(roc_auc_score(y[fold.test], score[fold.test]))
        for fold in split_folds(split, graph, graph, frames, seeds)  # type: ignore[arg-type]
    ]


def markdown(result: EvaluationResult, leaky: list[float] | None) -> str:
    """One row per model: test AUC and AUPRC with paired-bootstrap 95% intervals, KS (mean ±
    std over seeds), the lead over (b) and the cross-validated AUC the champion was chosen on."""
    lines = [
        "| model | AUC [95%] | AUPRC [95%] | KS | AUC − (b) [95%] | CV AUC |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for model, label in MODEL_LABELS.items():
        cells = []
        for metric in ("auc", "auprc"):
            iv = result.interval(model, metric)
            if iv is None:  # no interval: the mean over seeds
                cells.append(f"{result.metric(model, 'all', metric)[0]:.3f}")
            else:  # the interval's own estimate beside it (pooled out-of-fold under cv)
                cells.append(f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]")
        mean, std = result.metric(model, "all", "ks")
        cells.append(f"{mean:.3f} ± {std:.3f}")
        lead = result.interval(model, "auc_minus_trees_own_cp")
        cells.append(
            "" if lead is None else f"{lead.estimate:+.3f} [{lead.low:+.3f}, {lead.high:+.3f}]"
        )
        name = f"**{label}** (champion)" if model == result.champion else label
        lines.append(f"| {name} | {' | '.join(cells)} | {result.cv_auc[model]:.3f} |")
    if leaky is not None:
        lines.append(
            f"| leaky mean incoming rating (comparison only) | {np.mean(leaky):.3f} ± "
            f"{np.std(leaky, ddof=1):.3f} | | | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="bitcoin-otc,ethereum-phishing")
    parser.add_argument("--splits", default="given,cv", help="subset of each dataset's splits")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds inside the training rows"
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/real_data_eval.json)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 avoids OpenMP spin contention)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wanted_splits = set(args.splits.split(","))
    out: list[dict[str, object]] = []
    for dataset in args.datasets.split(","):
        src = args.data / dataset
        if not src.is_dir():
            raise SystemExit(f"{src} not found: pass --data pointing at the shared data folder")
        with tempfile.TemporaryDirectory(prefix=f"{dataset}-") as scratch:
            frames = read_frames(dataset, src, Path(scratch))
        for split in (s for s in SPLITS[dataset] if s in wanted_splits):
            started = time.perf_counter()
            config = EvaluationConfig(
                target="fraud", split=split, seeds=args.seeds,  # type: ignore[arg-type]
                selection=SelectionConfig(folds=args.folds),
            )  # fmt: skip
            result = evaluate(
                frames, None, config,
                feature_set=FeatureSet.default(**FEATURE_OPTIONS.get(dataset, {})),
                progress=lambda msg, d=dataset, s=split: print(f"[{d} {s}] {msg}", flush=True),
            )  # fmt: skip
            leaky = (
                leaky_rating_auc(frames, split, args.seeds) if dataset == "bitcoin-otc" else None
            )
            seconds = time.perf_counter() - started
            print(
                f"\n### {dataset}, split={split}, {result.seeds} seeds, {args.folds} folds, "
                f"{seconds:.0f} s, "
                f"peak RSS {result.peak_rss_mib:.0f} MiB, counts {result.counts}\n"
            )
            print(markdown(result, leaky), flush=True)
            out.append(
                {
                    "dataset": dataset,
                    "split": split,
                    "seconds": seconds,
                    "leaky_rating_auc": leaky,
                    "result": json.loads(result.to_json()),
                }
            )
            write_result("real_data_eval", out, command=command_line(), path=args.json)


if __name__ == "__main__":
    main()
