"""How hard is the default synthetic marketplace? AUC of LightGBM on own features, own plus
counterparty features, and an oracle that knows the latent state (ground truth).

Train on the first as_of cohort, test on the second, target ``defaulted`` (credit SMEs).
Run: ``python benchmarks/synthetic_auc.py [--businesses N] [--seed S] [--json out.json]``;
the result goes to ``benchmarks/results/synthetic_auc.json`` unless ``--json`` names a file.
Target (issue 3): own < own+counterparty < oracle, each by >= 0.03 AUC; ``own+oracle-exposure``
(own features plus the true receivables exposure) bounds what counterparty features can add.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from results_io import command_line, generator_version, write_result
from sklearn.metrics import roc_auc_score

from loaders.features import COUNTERPARTY_FEATURES, OWN_FEATURES, compute_features
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

DEMO_KEY = "tradegraph-DEMO-KEY-public-not-for-real-data"
ORACLE_FEATURES = ["health", "stress", "exposure_1hop", "exposure_2hop", "is_ring_member"]
MODEL_PARAMS = dict(
    n_estimators=400,
    learning_rate=0.03,
    num_leaves=15,
    min_child_samples=40,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    verbose=-1,
)


def cohort(
    market_frames: tuple[pd.DataFrame, ...], ground_truth: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Features + oracle columns + label for the credit SMEs with a label at ``as_of``."""
    businesses, identifiers, orders, outcomes = market_frames
    feats = compute_features(businesses, orders, as_of, identifiers=identifiers)
    labels = outcomes[(outcomes["as_of"] == as_of) & outcomes["defaulted"].notna()]
    truth = ground_truth[ground_truth["as_of"] == as_of].set_index("business_id")
    frame = feats.loc[labels["business_id"].to_numpy()].copy()
    frame["y"] = labels["defaulted"].to_numpy(int)
    for col in ORACLE_FEATURES:
        frame[col] = truth.loc[frame.index, col].to_numpy(float)
    return frame


def fit_auc(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int) -> np.ndarray:
    """Fit LightGBM on ``train[columns]`` and return test-set probabilities."""
    model = lgb.LGBMClassifier(**MODEL_PARAMS, random_state=seed)
    model.fit(train[columns], train["y"])
    return model.predict_proba(test[columns])[:, 1]


def run(n_businesses: int, seed: int) -> dict[str, object]:
    """Generate, featurise both cohorts, fit the three models and return the figures."""
    started = time.perf_counter()
    config = SyntheticConfig(n_businesses=n_businesses, seed=seed)
    market = generate_marketplace(config)
    generated = time.perf_counter() - started
    frames = to_contract_frames(market, DEMO_KEY)
    first, second = market.as_of_dates[0], market.as_of_dates[1]
    t = time.perf_counter()
    train = cohort(frames, market.ground_truth, first)
    test = cohort(frames, market.ground_truth, second)
    featurised = time.perf_counter() - t

    models = {
        "own": OWN_FEATURES,
        "own+counterparty": OWN_FEATURES + COUNTERPARTY_FEATURES,
        "oracle": ORACLE_FEATURES,
        "own+oracle-exposure": [*OWN_FEATURES, "exposure_1hop", "exposure_2hop"],
    }
    thin = test["is_thin_file"].to_numpy() > 0
    results: dict[str, dict[str, float]] = {}
    for name, columns in models.items():
        p = fit_auc(train, test, columns, seed)
        thin_auc = (
            roc_auc_score(test["y"][thin], p[thin]) if test["y"][thin].nunique() == 2 else np.nan
        )
        results[name] = {"auc": float(roc_auc_score(test["y"], p)), "auc_thin": float(thin_auc)}
    return {
        "n_businesses": n_businesses,
        "seed": seed,
        "orders": len(market.transactions),
        "train": {"as_of": str(first.date()), "rows": len(train),
                  "default_rate": train["y"].mean()},
        "test": {"as_of": str(second.date()), "rows": len(test), "default_rate": test["y"].mean(),
                 "thin_rows": int(thin.sum()), "thin_defaults": int(test["y"][thin].sum())},
        "seconds": {"generate": round(generated, 2), "features_two_cohorts": round(featurised, 2)},
        "auc": results,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--businesses", type=int, default=SyntheticConfig().n_businesses)
    parser.add_argument("--seed", type=int, default=SyntheticConfig().seed)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the result (default: benchmarks/results/synthetic_auc.json)",
    )
    args = parser.parse_args()
    figures = run(args.businesses, args.seed)
    print(f"orders={figures['orders']:,}  train={figures['train']}  test={figures['test']}")
    print(f"timings (s): {figures['seconds']}")
    print(f"{'model':<22}{'AUC':>8}{'AUC thin-file':>16}")
    for name, r in figures["auc"].items():  # type: ignore[union-attr]
        print(f"{name:<22}{r['auc']:>8.3f}{r['auc_thin']:>16.3f}")
    written = write_result(
        "synthetic_auc",
        figures,
        command=command_line(),
        generator_version=generator_version(),
        path=args.json,
    )
    print(f"result: {written}")


if __name__ == "__main__":
    main()
