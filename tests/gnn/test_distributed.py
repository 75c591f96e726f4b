"""Data-parallel GraphSAGE (``gnn.distributed``): equal shares, gradients kept in sync across
two real ``gloo`` processes, and the artefact they save is the one ``score`` reads."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn.artefact import latest_artefact, load_artefact
from gnn.distributed import current, is_writer, shard
from gnn.scoring import score
from tests.gnn.scoring_fixtures import FEATURES, market

ROOT = Path(__file__).resolve().parents[2]


def test_shards_are_equal_disjoint_and_cover_every_seed() -> None:
    items = np.arange(103) * 7
    shares = [shard(items, rank, 4, seed=11) for rank in range(4)]
    assert {len(s) for s in shares} == {26}  # ceil(103 / 4): every rank takes as many steps
    assert all(len(set(s.tolist())) == len(s) for s in shares)  # no rank sees a seed twice
    assert set(np.concatenate(shares).tolist()) == set(items.tolist())
    again = [shard(items, rank, 4, seed=11) for rank in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(shares, again, strict=True))
    reshuffled = shard(items, 0, 4, seed=12)
    assert not np.array_equal(reshuffled, shares[0])  # a new epoch deals a new share
    assert np.array_equal(shard(items, 1, 4, seed=-1), items[1::4])


def test_outside_torchrun_nothing_is_distributed() -> None:
    assert current() is None and is_writer()


@pytest.mark.slow
def test_two_processes_stay_in_sync_and_save_the_artefact_score_reads(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["OMP_NUM_THREADS"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(ROOT / "tests" / "gnn" / "ddp_worker.py"), str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    spreads = [json.loads((tmp_path / f"spread-{r}.json").read_text()) for r in (0, 1)]
    assert spreads[0]["steps"] == spreads[1]["steps"] > 0
    assert all(s["max_spread"] == 0.0 for s in spreads)  # identical after every single step
    # One step averages both ranks' batches of 48: the rate of a 96-seed step.
    assert all(s["lr"] == pytest.approx(0.005 * math.sqrt(96 / s["labelled"])) for s in spreads)
    # train_sage (what the selection calls) hands over to the distributed trainer.
    assert all(json.loads((tmp_path / f"dispatch-{r}.json").read_text())["same_weights"]
               for r in (0, 1))  # fmt: skip
    # Only rank 0 wrote a model folder; it scores exactly as both ranks' in-memory models did.
    folder = latest_artefact(tmp_path / "models")
    assert len(list((tmp_path / "models").iterdir())) == 1
    frames = market(300)
    loaded = score(load_artefact(folder), frames, frames.as_of, feature_set=FEATURES,
                   with_reasons=False)  # fmt: skip
    saved = pd.Series(loaded["pd"].to_numpy(), index=loaded["business_id"]).round(12)
    for rank in (0, 1):
        in_memory = pd.Series(json.loads((tmp_path / f"scores-{rank}.json").read_text()))
        assert np.allclose(in_memory.reindex(saved.index), saved, atol=1e-9)
