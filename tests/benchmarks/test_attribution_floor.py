"""The attribution-floor benchmark: the rows it counts are each target's receptive field, its
arithmetic follows those rows, the floor is the sum of its parts, and the page shows them."""

from __future__ import annotations

import attribution_floor
import numpy as np
import render
import torch

from gnn.conv import relation_operators
from gnn.receptive import ScipyOperators


def _operators() -> list[torch.Tensor]:
    """A small trade graph with a hub (0) and a shared identifier between 3 and 4."""
    g = torch.Generator().manual_seed(1)
    src, dst = torch.randint(0, 30, (2, 50), generator=g)
    src = torch.cat([src, torch.zeros(9, dtype=torch.long)])
    dst = torch.cat([dst, torch.arange(1, 10)])
    keep = src != dst
    edges = torch.stack([src[keep], dst[keep]])
    weights = torch.rand(edges.shape[1], generator=g) + 0.1
    shared = torch.tensor([[3, 4], [4, 3]])
    return relation_operators(edges, weights, 30, shared, True, None)


def _field(reads: list[set[int]], target: int, hops: int) -> set[int]:
    """Breadth-first: the rows ``hops`` layers read, starting from ``target`` itself."""
    field = {target}
    for _ in range(hops):
        field |= {n for row in field for n in reads[row]}
    return field


def test_level_rows_are_the_targets_own_receptive_fields_summed() -> None:
    operators = _operators()
    reads: list[set[int]] = [set() for _ in range(30)]
    for operator in operators:
        rows, cols = operator.to_dense().nonzero(as_tuple=True)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            reads[r].add(c)
    targets = np.array([0, 3, 17, 25, 3])  # the hub, an identifier pair, a repeat

    counted = attribution_floor.level_rows(ScipyOperators.of(operators), targets, 2)

    expected = [sum(len(_field(reads, int(t), hops)) for t in targets) for hops in (2, 1, 0)]
    assert counted == expected
    assert counted[-1] == len(targets)


def test_multiply_adds_follow_the_copied_rows() -> None:
    adds = attribution_floor.multiply_adds(
        [100, 10, 2], members=3, steps=2, hidden=4, slots=5, features=7
    )

    # Layers: (10 + 2) copied rows x 2 points, each [4] through a [4, 5 * 4] map, 3 members.
    assert adds["layer_products"] == 12 * 2 * 4 * 20 * 3
    # Inputs: 100 rows, each [4] through a [4, 7] weight, once per member (after the points).
    assert adds["input_products"] == 100 * 4 * 7 * 3


def test_floor_is_the_sum_of_its_parts_and_the_ratio_is_against_it() -> None:
    seconds = dict(zip(attribution_floor.FLOOR_PARTS, [0.2, 0.1, 0.3, 0.35, 0.05], strict=True))

    figures = attribution_floor.summary(seconds, 2.0)

    assert figures == {
        "floor_seconds": 1.0, "integrated_gradients_seconds": 2.0, "over_floor": 2.0
    }  # fmt: skip


def test_rendered_section_lists_each_part_the_floor_and_the_run() -> None:
    seconds = dict(zip(attribution_floor.FLOOR_PARTS, [0.2, 0.1, 0.3, 0.35, 0.05], strict=True))
    figures = {
        "smes": 7192, "score_as_of": "2025-01-01", "repeats": 5,
        "shapes": {"members": 5, "steps": 3, "hidden": 64, "slots": 4, "features": 89},
        "rows_per_target": [55.3, 5.0, 1.0],
        "multiply_adds": {"layer_products": 10_700_000_000, "input_products": 11_300_000_000},
        "part_seconds_median": seconds,
        **attribution_floor.summary(seconds, 1.9),
    }  # fmt: skip

    page = "\n".join(render.render_attribution_floor(figures))

    assert "a GraphSAGE bag of 5 members, 3 path points" in page
    assert "input level first: 55.3, 5.0, 1.0" in page
    assert "22.0 billion" in page
    assert "| members' input-layer products | 0.350 |" in page
    assert "| **floor** (the sum) | 1.000 |" in page
    assert "| **Integrated Gradients as `score` runs them** | 1.900 |" in page
    assert "| times the floor | 1.90 |" in page
    for part in attribution_floor.FLOOR_PARTS:
        assert render.FLOOR_LABELS[part] in page
