"""Launched by ``test_distributed.py`` under ``torchrun --nproc-per-node 2``: trains GraphSAGE
data-parallel on a tiny market and writes what each rank saw into the folder ``argv[1]``.

- ``spread-<rank>.json``: after every optimiser step, the largest difference of any
  parameter between the ranks, and the number of steps; the optimiser's rate;
- ``dispatch-<rank>.json``: whether ``train_sage`` (what the selection calls) gave the same
  weights as calling the distributed trainer directly;
- ``models/``: the artefact ``train_models`` wrote (rank 0 only), and ``scores-<rank>.json``:
  every rank's scores from its own in-memory artefact.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from gnn import distributed
from gnn.data import FeatureScaler, build_graph
from gnn.model import GraphSAGE, SAGEConfig
from gnn.scoring import TrainingConfig, score, train_models
from gnn.selection import ModelConfig, SelectionConfig
from gnn.train import TrainConfig, train_sage
from tests.gnn.scoring_fixtures import FEATURES, MODELS, market

TRAIN = TrainConfig(max_epochs=6, patience=10, batch_size=48, fanout=(5, 3))


def main(out: Path) -> None:
    torch.set_num_threads(1)
    ctx = distributed.init_from_env()
    assert ctx is not None and ctx.world_size == 2, "run me under torchrun --nproc-per-node 2"
    frames = market(300)
    features = FEATURES.frame(frames, frames.as_of)
    scaler = FeatureScaler(FEATURES.own + FEATURES.counterparty).fit(features)
    graph = build_graph(frames, features, scaler, frames.as_of, "defaulted")
    labelled = graph.labelled
    train_idx, val_idx = labelled[: int(0.7 * len(labelled))], labelled[int(0.7 * len(labelled)) :]
    config = SAGEConfig(hidden=16)

    spreads: list[float] = []

    def check(model: GraphSAGE) -> None:
        spreads.append(distributed.parameter_spread(model))

    direct = distributed.train_sage_distributed(
        graph, train_idx, val_idx, scaler, config, TRAIN, seed=3, after_step=check
    )
    seen = {
        "steps": len(spreads), "max_spread": max(spreads), "epochs": direct.epochs_run,
        "lr": direct.history[0]["lr"], "labelled": len(train_idx),
    }  # fmt: skip
    (out / f"spread-{ctx.rank}.json").write_text(json.dumps(seen))
    via = train_sage(graph, train_idx, val_idx, scaler, config, TRAIN, seed=3)
    pairs = zip(direct.model.state_dict().values(), via.model.state_dict().values(), strict=True)
    same = all(torch.equal(a, b) for a, b in pairs)
    (out / f"dispatch-{ctx.rank}.json").write_text(json.dumps({"same_weights": same}))

    models = ModelConfig(trees=MODELS.trees, train=TRAIN, sage=config)
    training = TrainingConfig(
        selection=SelectionConfig(folds=2, champion="graphsage", models=("graphsage",)),
        models=models,
    )
    writer = distributed.is_writer()
    artefact = train_models(
        frames, frames.as_of, training, feature_set=FEATURES,
        models_dir=out / "models" if writer else None,
    )  # fmt: skip
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES, with_reasons=False)
    (out / f"scores-{ctx.rank}.json").write_text(
        json.dumps(dict(zip(scores["business_id"], np.round(scores["pd"], 12), strict=True)))
    )
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
