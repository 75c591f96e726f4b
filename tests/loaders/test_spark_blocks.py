"""``map_blocks`` hands a kernel whole keys: every row of a key in one call, each call one
partition, empty partitions never, timestamps zone-aware in UTC, and the kernel's frame back
with the declared types."""

from __future__ import annotations

import pandas as pd
import pytest

from loaders.spark.blocks import map_blocks

pytestmark = pytest.mark.slow


def test_every_key_meets_in_one_block_and_empty_partitions_are_skipped(spark) -> None:  # type: ignore[no-untyped-def]
    keys = [f"k{i % 37}" for i in range(2_000)]
    frame = spark.createDataFrame(
        pd.DataFrame({"key": keys, "value": range(2_000), "at": pd.Timestamp("2024-05-01")})
    )

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        # one row per key of this block: its row count, and which call saw it
        counts = rows.groupby("key")["value"].agg(["size", "sum"]).reset_index()
        counts["block"] = str(rows["value"].min())
        counts["at"] = rows["at"].max()
        counts["zone"] = str(rows["at"].dt.tz)  # kernels rely on zone-aware UTC input
        return counts

    schema = "key string, size long, sum long, block string, at timestamp, zone string"
    out = map_blocks(frame, "key", 64, block, schema).toPandas()

    # 37 keys over 64 partitions leaves some empty: none of them produced a row
    assert len(out) == 37 and out["key"].is_unique
    expected = pd.Series(keys).value_counts()
    assert (out.set_index("key")["size"] == expected.reindex(out["key"]).to_numpy()).all()
    assert out["sum"].sum() == sum(range(2_000))
    assert out["block"].nunique() > 1
    assert (pd.to_datetime(out["at"]) == pd.Timestamp("2024-05-01")).all()
    assert set(out["zone"]) == {"UTC"}


def test_a_kernel_missing_a_declared_column_fails_loudly(spark) -> None:  # type: ignore[no-untyped-def]
    frame = spark.createDataFrame(pd.DataFrame({"key": ["a", "b"], "value": [1, 2]}))
    whole = map_blocks(frame, "key", 2, lambda rows: rows, "key string, value long")
    assert sorted(whole.toPandas()["value"]) == [1, 2]
    broken = map_blocks(frame, "key", 2, lambda rows: rows[["key"]], "key string, total long")
    with pytest.raises(Exception, match="total"):
        broken.collect()
