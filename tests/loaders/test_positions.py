"""Arrow's hash kernels give what pandas' get_indexer and isin give, on every input kind the
pipeline passes (Arrow-backed and object strings, indexes, lists, nulls, absent ids)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loaders.positions import member, positions

INDEX = pd.Index([*(f"B{i:05d}" for i in range(0, 2000, 3)), "3"])


def _values() -> list[object]:
    rng = np.random.default_rng(0)
    ids = [f"B{i:05d}" for i in rng.integers(0, 2100, 5000)]
    return [
        pd.Series(ids, dtype="str"),
        pd.Series(ids, dtype=object),
        pd.Index(ids),
        ids[:50],
        pd.Series(["B00000", None, np.nan, "nope", "B00003"], dtype=object),
        pd.Series([3, 6], dtype="int64"),
    ]


KINDS = ["str", "object", "index", "list", "nulls", "ints"]


@pytest.mark.parametrize("values", _values(), ids=KINDS)
def test_positions_equal_get_indexer_and_member_equals_isin(values: object) -> None:
    as_text = pd.Series(values).astype(str)
    expected = INDEX.get_indexer(as_text)
    got = positions(values, INDEX)  # type: ignore[arg-type]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    assert (got >= 0).any() and (got < 0).any()  # hits and misses in every case
    np.testing.assert_array_equal(member(values, INDEX), as_text.isin(INDEX).to_numpy())  # type: ignore[arg-type]


def test_positions_refuse_an_index_with_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        positions(["B00001"], pd.Index(["B00001", "B00001"]))
