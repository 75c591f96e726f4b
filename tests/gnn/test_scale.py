"""Score scale arithmetic and grades."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnn.scale import PRESETS, Grades, ScoreScale, grades_from_pd_bands, preset


def test_base_score_means_base_odds_and_pdo_doubles_them() -> None:
    scale = ScoreScale(base_score=600, base_odds=50, pdo=20, min_score=0, max_score=2000)
    pd_at_base = 1 / (1 + 50)
    assert scale.score(pd_at_base)[()] == 600
    pd_double = 1 / (1 + 100)  # odds 100:1
    assert scale.score(pd_double)[()] == 620
    assert scale.score(1 / (1 + 25))[()] == 580
    assert scale.factor == pytest.approx(20 / math.log(2))
    assert scale.offset == pytest.approx(600 - 20 / math.log(2) * math.log(50))


def test_higher_score_is_safer_and_clipped_to_the_range() -> None:
    for scale in PRESETS.values():
        scores = scale.score(np.array([1e-9, 0.001, 0.01, 0.1, 0.5, 0.999999]))
        assert np.all(np.diff(scores) <= 0)
        assert scores.min() >= scale.min_score and scores.max() <= scale.max_score
        assert scores[0] == scale.max_score and scores[-1] == scale.min_score


def test_pd_at_inverts_score_before_rounding() -> None:
    scale = preset("300-850")
    for pd_ in (0.002, 0.03, 0.2):
        raw = scale.offset + scale.factor * math.log((1 - pd_) / pd_)
        assert scale.pd_at(raw)[()] == pytest.approx(pd_)


def test_presets_span_their_ranges() -> None:
    assert (preset("default").min_score, preset("default").max_score) == (350, 950)
    assert (preset("300-850").min_score, preset("300-850").max_score) == (300, 850)
    assert (preset("0-300").min_score, preset("0-300").max_score) == (0, 300)
    with pytest.raises(ValueError, match="unknown score scale"):
        preset("1-10")


def test_invalid_scales_are_refused() -> None:
    with pytest.raises(ValueError):
        ScoreScale(pdo=0)
    with pytest.raises(ValueError):
        ScoreScale(min_score=900, max_score=800)


def test_grades_use_inclusive_lower_bounds() -> None:
    grades = Grades(cutoffs=(("A", 800.0), ("B", 700.0)), floor_grade="C")
    assert grades.grade(np.array([950, 800, 799, 700, 699, 0])).tolist() == [
        "A", "A", "B", "B", "C", "C",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="decrease"):
        Grades(cutoffs=(("A", 700.0), ("B", 800.0)))
    assert Grades.from_dict(grades.to_dict()) == grades


def test_pd_band_grades_agree_across_scales() -> None:
    pds = np.array([0.001, 0.004, 0.008, 0.015, 0.04, 0.08, 0.15, 0.5])
    letters = [grades_from_pd_bands(s).grade(s.score(pds)).tolist() for s in PRESETS.values()]
    assert letters[0] == letters[1] == letters[2]
    assert letters[0] == ["A", "A", "B", "C", "D", "E", "F", "G"]
    assert ScoreScale.from_dict(preset("0-300").to_dict()) == preset("0-300")
