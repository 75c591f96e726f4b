"""The scale benchmark's DDP figures: medians over alternating launches, one model."""

from __future__ import annotations

import pytest
import scale_benchmark


def _launch(rate: float, best_epoch: int = 2) -> dict:
    """What one ``torchrun`` launch reports (rank 0's figures and every rank's rate)."""
    return {
        "epochs": 6, "best_epoch": best_epoch, "train_seconds": 1_000 / rate,
        "labelled_per_second_per_process": rate, "per_rank_labelled_per_second": [rate, rate],
        "wall_seconds_with_launch": 20.0, "held_out_scores": [0.1, 0.7],
    }  # fmt: skip


def test_ddp_launches_report_the_median_rate_and_every_launch() -> None:
    figures = scale_benchmark.median_ddp([_launch(100.0), _launch(300.0), _launch(200.0)])
    assert figures["labelled_per_second_per_process"] == 200.0
    assert figures["labelled_per_second_runs"] == [100.0, 300.0, 200.0]
    assert figures["train_seconds"] == 5.0
    assert figures["held_out_scores"] == [0.1, 0.7]


def test_ddp_launches_that_trained_different_models_are_refused() -> None:
    with pytest.raises(RuntimeError, match="not reproducible"):
        scale_benchmark.median_ddp([_launch(100.0), _launch(100.0, best_epoch=3)])
