"""Calibrated probability of default: isotonic or Platt scaling of a model's raw probability.

Fit on validation rows only (never on the rows the model trained on, whose scores are
over-confident, nor on the rows the model card back-tests). A :class:`Calibrator` is plain
numbers so the model artefact stores it as JSON. :func:`calibration_table` gives predicted vs
observed default rate by decile of predicted PD, for the model card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["isotonic", "platt"]
#: Calibrated PDs are kept inside this range: a PD of exactly 0 or 1 is never credible.
MIN_PD = 1e-4
MAX_PD = 1.0 - 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """Maps raw probabilities ``[n]`` to calibrated PDs ``[n]``.

    ``isotonic``: a monotone step function through ``(x, y)`` knots, interpolated linearly.
    ``platt``: ``sigmoid(a * logit(p) + b)``.
    """

    method: Method
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    fitted_on: int = 0

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        p = np.asarray(probability, dtype=np.float64)
        if self.method == "isotonic":
            out = np.interp(p, np.asarray(self.x), np.asarray(self.y))
        else:
            out = 1.0 / (1.0 + np.exp(-(self.a * _logit(p) + self.b)))
        return np.clip(out, MIN_PD, MAX_PD)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "x": self.x,
            "y": self.y,
            "a": self.a,
            "b": self.b,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Calibrator:
        """Read back :meth:`to_dict` (JSON from a model folder)."""
        return cls(
            method=payload["method"],
            x=[float(v) for v in payload.get("x", [])],
            y=[float(v) for v in payload.get("y", [])],
            a=float(payload.get("a", 1.0)),
            b=float(payload.get("b", 0.0)),
            fitted_on=int(payload.get("fitted_on", 0)),
        )


def fit_calibrator(
    probability: np.ndarray, labels: np.ndarray, method: Method = "isotonic"
) -> Calibrator:
    """Fit on validation ``probability [n]`` and 0/1 ``labels [n]`` (both classes needed)."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(labels).astype(int)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} probabilities but {len(y)} labels")
    if len(np.unique(y)) < 2:
        raise ValueError(
            "calibration needs defaults and non-defaults in the validation rows: "
            "use a score date with more labelled outcomes"
        )
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return Calibrator(
            method="isotonic",
            x=iso.X_thresholds_.tolist(),
            y=iso.y_thresholds_.tolist(),
            fitted_on=len(y),
        )
    if method == "platt":
        lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
        return Calibrator(
            method="platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]), fitted_on=len(y)
        )
    raise ValueError(f"unknown calibration {method!r}: use isotonic or platt")


def calibration_table(pd_: np.ndarray, labels: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed by quantile bin of predicted PD (deciles by default).

    Columns: ``bin`` (1 = lowest PD), ``n``, ``min_pd``, ``max_pd``, ``predicted`` (mean PD),
    ``observed`` (default rate), ``defaults``. Ties may merge bins, so there can be fewer rows.
    """
    frame = pd.DataFrame({"pd": np.asarray(pd_, float), "y": np.asarray(labels, float)})
    if frame.empty:
        return pd.DataFrame(
            columns=["bin", "n", "min_pd", "max_pd", "predicted", "observed", "defaults"]
        )
    ranks = frame["pd"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(bins, len(frame)), labels=False) + 1
    table = frame.groupby("bin").agg(
        n=("y", "size"),
        min_pd=("pd", "min"),
        max_pd=("pd", "max"),
        predicted=("pd", "mean"),
        observed=("y", "mean"),
        defaults=("y", "sum"),
    )
    return table.reset_index()


def expected_calibration_error(pd_: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |predicted - observed| over :func:`calibration_table` bins."""
    table = calibration_table(pd_, labels, bins)
    if table.empty:
        return float("nan")
    gaps = (table["predicted"] - table["observed"]).abs()
    return float((gaps * table["n"]).sum() / table["n"].sum())
