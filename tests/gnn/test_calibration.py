"""Calibration: isotonic and Platt fix a miscalibrated score; the decile table is right."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.calibration import (
    Calibrator,
    calibration_table,
    expected_calibration_error,
    fit_calibrator,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True PD p; the model reports p**0.5 (far too high)."""
    rng = np.random.default_rng(seed)
    true_pd = rng.beta(1, 12, size=n)
    labels = (rng.uniform(size=n) < true_pd).astype(int)
    return np.sqrt(true_pd), labels


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_fitted_on_validation_improves_unseen_rows(method: str) -> None:
    val_p, val_y = _overconfident(4000, seed=1)
    test_p, test_y = _overconfident(4000, seed=2)
    calibrator = fit_calibrator(val_p, val_y, method)
    before = expected_calibration_error(test_p, test_y)
    after = expected_calibration_error(calibrator(test_p), test_y)
    assert after < before / 3
    assert abs(calibrator(test_p).mean() - test_y.mean()) < 0.01
    # Monotone: calibration never reorders businesses.
    grid = np.linspace(0.01, 0.99, 50)
    assert np.all(np.diff(calibrator(grid)) >= -1e-12)
    restored = Calibrator.from_dict(calibrator.to_dict())
    assert np.allclose(restored(test_p), calibrator(test_p))
    assert calibrator.fitted_on == 4000


def test_calibrated_pds_stay_strictly_inside_zero_and_one() -> None:
    calibrator = fit_calibrator(np.array([0.1, 0.2, 0.8, 0.9] * 5), np.array([0, 0, 1, 1] * 5))
    out = calibrator(np.array([0.0, 0.05, 0.95, 1.0]))
    assert np.all(out > 0) and np.all(out < 1)


def test_one_class_is_refused_with_advice() -> None:
    with pytest.raises(ValueError, match="defaults and non-defaults"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(ValueError, match="unknown calibration"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([0, 1]), "beta")  # type: ignore[arg-type]


def test_calibration_table_by_decile() -> None:
    pd_ = np.repeat(np.arange(1, 11) / 20, 10)  # ten PD levels, ten rows each
    labels = np.zeros(100, dtype=int)
    labels[90:95] = 1  # half of the top decile defaults
    table = calibration_table(pd_, labels)
    assert table["bin"].tolist() == list(range(1, 11))
    assert table["n"].tolist() == [10] * 10
    assert table["predicted"].tolist() == pytest.approx(list(np.arange(1, 11) / 20))
    assert table["observed"].tolist() == [0.0] * 9 + [0.5]
    assert table["defaults"].sum() == 5
