"""Population stability index: zero for the same population, growing with the shift."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tradegraph.report.psi import MAJOR, MODERATE, psi, psi_flag, psi_table


def test_identical_populations_have_zero_psi() -> None:
    values = np.random.default_rng(0).normal(size=2_000)
    assert psi(values, values) == pytest.approx(0.0, abs=1e-12)


def test_psi_grows_with_the_shift_and_matches_the_formula() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=5_000)
    shifts = [psi(train, rng.normal(loc=mu, size=5_000)) for mu in (0.0, 0.3, 1.0)]
    assert shifts[0] < MODERATE
    assert shifts[0] < shifts[1] < shifts[2]
    assert shifts[2] >= MAJOR
    # Two bins by hand: expected 50/50 at the median, actual 80/20.
    expected = np.array([0.0] * 50 + [1.0] * 50)
    actual = np.array([0.0] * 80 + [1.0] * 20)
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)


def test_missing_values_and_constants_are_handled() -> None:
    constant = np.ones(100)
    assert psi(constant, constant) == pytest.approx(0.0, abs=1e-12)
    # A feature that starts going missing is drift, not an error.
    some_missing = np.where(np.arange(100) < 40, np.nan, 1.0)
    assert psi(constant, some_missing) >= MAJOR
    assert math.isnan(psi([], [1.0, 2.0]))


def test_flags_follow_the_thresholds() -> None:
    assert psi_flag(0.05) == "stable"
    assert psi_flag(MODERATE) == "moderate"
    assert psi_flag(0.2) == "moderate"
    assert psi_flag(MAJOR) == "major"
    assert psi_flag(math.nan) == "n/a"


def test_table_is_per_feature_highest_first() -> None:
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"stable": rng.normal(size=3_000), "drifted": rng.normal(size=3_000)})
    test = pd.DataFrame(
        {"stable": rng.normal(size=3_000), "drifted": rng.normal(loc=1.5, size=3_000)}
    )
    table = psi_table(train, test)
    assert list(table["feature"]) == ["drifted", "stable"]
    assert list(table["flag"]) == ["major", "stable"]
    with pytest.raises(KeyError, match="both cohorts"):
        psi_table(train, test, columns=["nope"])
