"""TreeSHAP contributions of a LightGBM model, computed once per distinct decision pattern.

TreeSHAP (LightGBM's ``pred_contrib``) walks every tree for every row, and a tree's
contribution to a row depends only on which way the row goes at each of the tree's splits,
including the splits its own path never reaches. Rows that go the same way at every split
of a tree get the same contribution from it. On the default marketplace's 7,192 SMEs the
hybrid's 62 trees see about a quarter as many distinct patterns as rows, so this module
groups the rows per tree, asks LightGBM for one row per group, tree by tree
(``start_iteration``), and sums the trees in their order. The values are LightGBM's own; only
the rows it is asked about change (equal to one ``pred_contrib`` call to 1e-12:
``tests/gnn/test_treeshap.py``).

A row's pattern in a tree is read without walking it: for each feature the tree splits on,
how many of the tree's thresholds on that feature lie below the value (a numerical split
sends ``x`` left when ``x <= threshold``, so values with the same count go the same way at
every one of them), with NaN and zero (what LightGBM may treat as missing) as patterns of
their own. That is a partition at least as fine as the trees' own, so it never merges rows
that a tree tells apart. Trees with categorical splits, multiclass models and small inputs
take the plain call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Below this many rows one plain ``pred_contrib`` call is cheaper than a call per tree.
MIN_ROWS = 1_024
#: LightGBM's ``kZeroThreshold`` (the float ``1e-35f``): values this close to zero may count
#: as missing.
_ZERO = float(np.float32(1e-35))
#: A pattern key is a mixed-radix integer; wider keys fall back to the plain call.
_MAX_KEY = 2**62


@dataclass(frozen=True)
class TreeSplits:
    """The numerical splits of one tree: ``features [k]`` (column indexes, ascending) and,
    per feature, its thresholds sorted ascending."""

    features: list[int]
    thresholds: list[np.ndarray]

    @property
    def radix(self) -> int:
        """How many keys the tree's patterns can take (a product of per-feature codes)."""
        size = 1
        for ts in self.thresholds:
            size *= len(ts) + 3
        return size


def tree_splits(booster: Any) -> list[TreeSplits] | None:
    """Every tree's :class:`TreeSplits`, or ``None`` when a tree has a split other than
    ``<=`` or the model has more than one tree per iteration."""
    model = booster.dump_model()
    if model.get("num_tree_per_iteration", 1) != 1:
        return None
    out: list[TreeSplits] = []
    for tree in model["tree_info"]:
        splits: dict[int, set[float]] = {}
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "leaf_value" in node or "split_feature" not in node:
                continue
            if node.get("decision_type", "<=") != "<=":
                return None
            splits.setdefault(int(node["split_feature"]), set()).add(float(node["threshold"]))
            stack += [node["left_child"], node["right_child"]]
        features = sorted(splits)
        out.append(TreeSplits(features, [np.asarray(sorted(splits[f])) for f in features]))
    return out


def _pattern_codes(column: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per value: 0 for NaN, 1 for (near) zero, else 2 + the thresholds below it."""
    codes = np.searchsorted(thresholds, column, side="left") + 2
    codes[np.abs(column) <= _ZERO] = 1
    codes[np.isnan(column)] = 0
    return codes


def tree_contributions(booster: Any, matrix: np.ndarray, *, min_rows: int = MIN_ROWS) -> np.ndarray:
    """TreeSHAP log-odds contributions ``[n, F + 1]`` of ``matrix [n, F]`` (the last column
    is the expected value), as ``booster.predict(matrix, pred_contrib=True)`` gives them,
    computed per tree on one row per distinct decision pattern when ``n >= min_rows``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    trees = tree_splits(booster) if len(matrix) >= min_rows else None
    if trees is None or any(t.radix >= _MAX_KEY for t in trees):
        return np.asarray(booster.predict(matrix, pred_contrib=True))
    n, width = matrix.shape
    codes = _feature_codes(matrix, trees)
    total = np.zeros((width + 1, n))  # [F + 1, n]: a column's values side by side
    for index, tree in enumerate(trees):
        key = np.zeros(n, dtype=np.int64)
        for feature, thresholds in zip(tree.features, tree.thresholds, strict=True):
            key *= len(thresholds) + 3
            key += codes[feature].within(thresholds)
        _, first, group = np.unique(key, return_index=True, return_inverse=True)
        contrib = booster.predict(
            matrix[first], start_iteration=index, num_iteration=1, pred_contrib=True
        )
        used = [*tree.features, width]  # every other column of a tree's contribution is 0
        total[used] += np.asarray(contrib)[:, used].T[:, group.ravel()]
    return np.ascontiguousarray(total.T)


@dataclass(frozen=True)
class _FeatureCodes:
    """One feature's values coded once against every tree's thresholds on it (``thresholds``,
    sorted, distinct): ``codes [n]`` as :func:`_pattern_codes` gives them."""

    thresholds: np.ndarray
    codes: np.ndarray

    def within(self, subset: np.ndarray) -> np.ndarray:
        """The codes against ``subset`` (some of the thresholds) without searching again: a
        value below ``g`` of all thresholds is below as many of ``subset`` as lie among
        those ``g``."""
        below = np.concatenate([[0], np.cumsum(np.isin(self.thresholds, subset))])
        return np.concatenate([[0, 1], below + 2])[self.codes]


def _feature_codes(matrix: np.ndarray, trees: list[TreeSplits]) -> dict[int, _FeatureCodes]:
    """Per feature any tree splits on, its :class:`_FeatureCodes`."""
    thresholds: dict[int, list[np.ndarray]] = {}
    for tree in trees:
        for feature, values in zip(tree.features, tree.thresholds, strict=True):
            thresholds.setdefault(feature, []).append(values)
    out = {}
    for feature, parts in thresholds.items():
        every = np.unique(np.concatenate(parts))
        out[feature] = _FeatureCodes(every, _pattern_codes(matrix[:, feature], every))
    return out
