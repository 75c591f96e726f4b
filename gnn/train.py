"""Training GraphSAGE: imbalance-aware loss, early stopping on validation, fixed seeds.

Full-batch by default (the graph and its adjacencies fit in memory at 10x the default size);
``TrainConfig.batch_size`` switches to mini-batches from :mod:`gnn.sampler`. CPU unless CUDA is
present. A :class:`TrainedSAGE` holds everything needed to score a new graph (weights, feature
columns, scaler, architecture, edge weighting) and saves/loads it (``weights_only``).
"""

from __future__ import annotations

import json
import math
import random
import resource
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from gnn.conv import RelationAdjacencies, relation_operators
from gnn.data import EdgeWeighting, FeatureScaler, GraphData
from gnn.model import GraphSAGE, SageBagModel, SAGEConfig
from gnn.pretrain import PretrainTask, pretrain
from gnn.receptive import ReceptivePlan, plan_layers


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping rule. ``pos_weight``: "balanced" (negatives/positives),
    "sqrt" (its square root) or "none". ``batch_size`` None = full batch.

    ``lr`` is the full-batch rate. Mini-batches (one process or DDP) step at
    :meth:`step_lr`: with ``minibatch_lr="sqrt"`` (default) the rate shrinks with the square
    root of the share of the labelled rows one step sees, the square-root scaling rule for
    Adam (Malladi et al., NeurIPS 2022). At the full-batch rate an epoch of ``n / batch``
    steps overshoots: the validation AUC peaked inside the first epoch, and the stopping rule
    then chose among near-tied early checkpoints by noise. ``"same"`` keeps ``lr``."""

    lr: float = 0.005
    weight_decay: float = 1e-4
    max_epochs: int = 300
    patience: int = 40
    pos_weight: str = "sqrt"
    batch_size: int | None = None
    fanout: tuple[int, ...] = (15, 10)
    device: str | None = None
    minibatch_lr: Literal["sqrt", "same"] = "sqrt"

    def step_lr(self, labelled: int, global_batch: int | None) -> float:
        """The optimiser's rate for steps of ``global_batch`` seeds (summed over DDP ranks)
        out of ``labelled`` rows; ``lr`` itself for full batch (``global_batch`` None)."""
        if not global_batch or global_batch >= labelled or self.minibatch_lr == "same":
            return self.lr
        if self.minibatch_lr != "sqrt":
            raise ValueError(f"unknown minibatch_lr {self.minibatch_lr!r}: use sqrt or same")
        return self.lr * math.sqrt(global_batch / labelled)

    def resolved_device(self) -> torch.device:
        if self.device:
            return torch.device(self.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux ``ru_maxrss`` is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def graph_operators(
    graph: GraphData, *, use_identifiers: bool = True, max_neighbours: int | None = None
) -> list[torch.Tensor]:
    """The model's normalised per-relation operators on the whole of ``graph``, each trade
    direction capped to ``max_neighbours`` counterparties (the model's own neighbourhood
    definition, :class:`~gnn.model.SAGEConfig`)."""
    data = graph.data
    return relation_operators(
        data.edge_index, data.edge_weight, data.num_nodes, data.id_edge_index,
        use_identifiers=use_identifiers, max_neighbours=max_neighbours,
    )  # fmt: skip


def graph_adjacencies(
    graph: GraphData, config: SAGEConfig, device: torch.device
) -> RelationAdjacencies:
    """Normalised per-relation adjacencies of ``graph`` on ``device``, with the combined
    operator built once (one sparse product per layer instead of one per relation)."""
    operators = graph_operators(
        graph, use_identifiers=config.use_identifiers, max_neighbours=config.max_neighbours
    )
    return RelationAdjacencies(operators).to(device)


def pos_weight_for(labels: np.ndarray, policy: str) -> float:
    positives = max(float(labels.sum()), 1.0)
    ratio = max(float(len(labels) - labels.sum()), 1.0) / positives
    if policy == "balanced":
        return ratio
    if policy == "sqrt":
        return float(np.sqrt(ratio))
    if policy == "none":
        return 1.0
    raise ValueError(f"unknown pos_weight policy {policy!r}: use balanced, sqrt or none")


@dataclass
class TrainedSAGE:
    """A trained model and everything it needs to score new graphs."""

    model: GraphSAGE | SageBagModel
    scaler: FeatureScaler
    sage_config: SAGEConfig
    weighting: EdgeWeighting
    best_epoch: int = 0
    val_auc: float = float("nan")
    epochs_run: int = 0
    seconds_per_epoch: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def _inputs(
        self, graph: GraphData, rows: np.ndarray | None, device: torch.device
    ) -> tuple[torch.Tensor, RelationAdjacencies | ReceptivePlan]:
        """The model's input and operators: the whole graph, or only what ``rows`` read
        (a receptive-field plan, :mod:`gnn.receptive`)."""
        x = graph.data.x
        if rows is None:
            return x.to(device), graph_adjacencies(graph, self.sage_config, device)
        config = self.sage_config
        operators = graph_operators(
            graph, use_identifiers=config.use_identifiers, max_neighbours=config.max_neighbours
        )
        plan = plan_layers(operators, np.asarray(rows, dtype=np.int64), config.num_layers)
        return x[torch.from_numpy(plan.input_rows)].to(device), plan

    @torch.no_grad()
    def predict_proba(self, graph: GraphData, rows: np.ndarray | None = None) -> np.ndarray:
        """Probability of the positive class for every node of ``graph`` (``[N]``), or for
        ``rows`` only (``[len(rows)]``, computed on their receptive field alone)."""
        device = next(self.model.parameters()).device
        self.model.eval()
        x, operators = self._inputs(graph, rows, device)
        return torch.sigmoid(self.model(x, operators)).cpu().numpy()

    @torch.no_grad()
    def embed(self, graph: GraphData, rows: np.ndarray | None = None) -> np.ndarray:
        """Node embeddings ``[N, embedding_dim]`` for the hybrid model (or ``rows``' only)."""
        device = next(self.model.parameters()).device
        self.model.eval()
        x, operators = self._inputs(graph, rows, device)
        return self.model.embed(x, operators).cpu().numpy()

    def save(self, folder: Path) -> None:
        """Write ``weights.pt`` (state dict) and ``sage.json`` (config, scaler, weighting)."""
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / "weights.pt")
        meta = {
            "in_channels": self.model.in_channels,
            "sage_config": self.sage_config.to_dict(),
            "scaler": self.scaler.to_dict(),
            "weighting": self.weighting,
            "best_epoch": self.best_epoch,
            "val_auc": self.val_auc,
        }
        (folder / "sage.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path, device: str = "cpu") -> TrainedSAGE:
        """Load what :meth:`save` wrote; weights are read with ``weights_only=True``."""
        meta_path = folder / "sage.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path} not found: point at a folder written by save()")
        meta = json.loads(meta_path.read_text())
        # A model saved before the neighbourhood cap existed aggregated every counterparty.
        config = SAGEConfig(**{"max_neighbours": None, **meta["sage_config"]})
        model = GraphSAGE(meta["in_channels"], config)
        state = torch.load(folder / "weights.pt", map_location=device, weights_only=True)
        model.load_state_dict(state)
        model.to(device).eval()
        return cls(
            model=model,
            scaler=FeatureScaler.from_dict(meta["scaler"]),
            sage_config=config,
            weighting=meta["weighting"],
            best_epoch=int(meta["best_epoch"]),
            val_auc=float(meta["val_auc"]),
        )


@dataclass
class BestEpoch:
    """The stopping rule every GraphSAGE fit shares (one process or DDP): keep the weights of
    the epoch with the best validation AUC; stop once ``patience`` epochs pass without a
    better one."""

    patience: int
    auc: float = -1.0
    epoch: int = 0
    state: dict[str, torch.Tensor] | None = None

    def stop_after(self, epoch: int, val_auc: float, model: torch.nn.Module) -> bool:
        """Record ``epoch``'s validation AUC; True when training should stop."""
        if val_auc > self.auc:
            self.auc, self.epoch = val_auc, epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        return epoch - self.epoch >= self.patience

    def trained(
        self,
        model: GraphSAGE,
        *,
        scaler: FeatureScaler,
        sage_config: SAGEConfig,
        weighting: EdgeWeighting,
        epochs_run: int,
        seconds: float,
        history: list[dict[str, float]],
    ) -> TrainedSAGE:
        """``model`` with the best epoch's weights, in eval mode, as a :class:`TrainedSAGE`."""
        if self.state is not None:
            model.load_state_dict(self.state)
        model.eval()
        return TrainedSAGE(
            model=model,
            scaler=scaler,
            sage_config=sage_config,
            weighting=weighting,
            best_epoch=self.epoch,
            val_auc=self.auc,
            epochs_run=epochs_run,
            seconds_per_epoch=seconds / max(epochs_run, 1),
            history=history,
        )


def auc_or_nan(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")


def train_sage(
    graph: GraphData,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    scaler: FeatureScaler,
    sage_config: SAGEConfig = SAGEConfig(),
    train_config: TrainConfig = TrainConfig(),
    weighting: EdgeWeighting = "gmv",
    seed: int = 0,
    pretraining: PretrainTask | None = None,
) -> TrainedSAGE:
    """Train on labelled rows ``train_idx`` of ``graph``; stop when validation AUC on
    ``val_idx`` has not improved for ``patience`` epochs and keep the best weights.
    ``pretraining``: first fit the layers to that target (:mod:`gnn.pretrain`, full batch)."""
    import time

    from gnn import distributed

    if distributed.current() is not None:
        if pretraining is not None:
            raise ValueError("pre-training runs in one process: drop it or train without DDP")
        return distributed.train_sage_distributed(
            graph, train_idx, val_idx, scaler, sage_config, train_config, weighting, seed
        )
    set_seed(seed)
    device = train_config.resolved_device()
    data = graph.data
    y = data.y.to(device)
    train_t = torch.as_tensor(train_idx, dtype=torch.long, device=device)
    val_labels = data.y[val_idx].numpy()
    model = GraphSAGE(data.num_features, sage_config).to(device)
    lr = train_config.step_lr(len(train_idx), train_config.batch_size)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=train_config.weight_decay)
    pos_weight = torch.tensor(
        pos_weight_for(data.y[train_idx].numpy(), train_config.pos_weight), device=device
    )

    x = data.x.to(device)
    adjacencies = graph_adjacencies(graph, sage_config, device)
    if pretraining is not None:
        pretrain(model, x, adjacencies, pretraining.target, pretraining.mask, pretraining.config)
    loader = None
    if train_config.batch_size:
        from gnn.sampler import sampled_batches

        loader = sampled_batches

    best = BestEpoch(train_config.patience)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, train_config.max_epochs + 1):
        model.train()
        step_started = time.perf_counter()
        if loader is None:
            optimiser.zero_grad()
            logits = model(x, adjacencies)[train_t]
            loss = F.binary_cross_entropy_with_logits(logits, y[train_t], pos_weight=pos_weight)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            epoch_loss = float(loss.detach())
        else:
            epoch_loss = loader(
                model, optimiser, graph, train_idx, sage_config, train_config, pos_weight, device
            )
        step_seconds = time.perf_counter() - step_started
        model.eval()
        with torch.no_grad():
            scores = model(x, adjacencies)[val_idx].cpu().numpy()
        val_auc = auc_or_nan(val_labels, scores)
        history.append(
            {"epoch": epoch, "loss": epoch_loss, "val_auc": val_auc,
             "train_seconds": step_seconds, "seeds": float(len(train_idx)), "lr": lr}
        )  # fmt: skip
        if best.stop_after(epoch, val_auc, model):
            break
    return best.trained(
        model, scaler=scaler, sage_config=sage_config, weighting=weighting, epochs_run=epoch,
        seconds=time.perf_counter() - started, history=history,
    )  # fmt: skip


def config_summary(train_config: TrainConfig, sage_config: SAGEConfig) -> dict[str, object]:
    """Both configs as one JSON-ready dict (for reports and model cards)."""
    return {"train": asdict(train_config), "sage": sage_config.to_dict()}
