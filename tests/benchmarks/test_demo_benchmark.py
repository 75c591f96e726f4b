"""The demo benchmark's verdict: each stage's median over the runs, the goal, the rendering."""

from __future__ import annotations

import demo_benchmark
import render


def _run(stages: dict[str, float], wall: float) -> dict:
    """One run as :func:`demo_benchmark.run_once` returns it."""
    return {
        "stage_seconds": stages,
        "stages_seconds": round(sum(stages.values()), 1),
        "wall_seconds": wall,
    }


RUNS = [
    _run({"validate + load": 10.0, "train": 200.0}, 230.0),
    _run({"validate + load": 14.0, "train": 150.0}, 180.0),
    _run({"validate + load": 12.0, "train": 400.0}, 430.0),
]


def test_summary_takes_each_stage_median_and_judges_the_median_total() -> None:
    figures = demo_benchmark.summary(RUNS)

    assert figures["stage_seconds_median"] == {"validate + load": 12.0, "train": 200.0}
    # The median of the runs' totals (210, 164, 412), not the sum of the stage medians.
    assert figures["stages_seconds_median"] == 210.0
    assert figures["wall_seconds_median"] == 230.0
    assert figures["goal_met"] is True
    over = demo_benchmark.summary([_run({"train": demo_benchmark.GOAL_SECONDS + 1}, 320.0)])
    assert over["goal_met"] is False


def test_rendered_section_lists_every_run_the_medians_and_the_verdict() -> None:
    figures = {"businesses": 10_000, "runs": RUNS, **demo_benchmark.summary(RUNS)}
    page = "\n".join(render.render_demo(figures))

    assert "| stage (s) | run 1 | run 2 | run 3 | median |" in page
    assert "| validate + load | 10.0 | 14.0 | 12.0 | 12.0 |" in page
    assert "| train | 200.0 | 150.0 | 400.0 | 200.0 |" in page
    assert "| all stages | 210.0 | 164.0 | 412.0 | 210.0 |" in page
    assert "within 300.0 s on 2 cores: met (median 210.0 s)" in page
    slow = [_run({"train": 400.0}, 420.0)]
    slow_page = "\n".join(render.render_demo({"runs": slow, **demo_benchmark.summary(slow)}))
    assert ": not met (median 400.0 s)" in slow_page
