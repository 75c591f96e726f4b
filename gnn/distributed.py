"""Data-parallel GraphSAGE training with ``torch.distributed`` (DDP, launched by ``torchrun``).

Every process runs the same program (``torchrun --nproc-per-node N -m tradegraph.cli train …``)
and holds the same graph. Each epoch the labelled seed businesses are shuffled with a seed all
ranks share and dealt out in equal shares (padded by wrapping, as ``DistributedSampler`` does,
so every rank takes the same number of steps); each rank trains on sampled neighbourhoods of
its share (:mod:`gnn.sampler`, a different sampling stream per rank) and
``DistributedDataParallel`` averages the gradients, so the parameters stay identical on every
rank after every step. Validation is sharded the same way and gathered, so every rank computes
the same AUC and makes the same early-stopping decision. ``gloo`` on CPU, ``nccl`` on GPUs.

:func:`gnn.train.train_sage` hands over to :func:`train_sage_distributed` when a process group
is running (``torchrun``, even with one process), so `train`, `evaluate` and the selection
need no other change; only rank 0 writes files (:func:`is_writer`).

Past one machine's memory the graph itself must be partitioned (each rank holding its nodes
and their halo); that is what cuGraph-PyG / WholeGraph provide behind PyG's loader interfaces
(see ``docs/scaling.md``). PyG's own ``torch_geometric.distributed`` is deprecated.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.loader import NodeLoader

from gnn.data import EdgeWeighting, FeatureScaler, GraphData
from gnn.model import GraphSAGE, SAGEConfig
from gnn.sampler import UniformNeighborSampler, typed_adjacency, typed_edges
from gnn.train import BestEpoch, TrainConfig, TrainedSAGE, auc_or_nan, pos_weight_for, set_seed

logger = logging.getLogger(__name__)

#: Seeds per rank and step when ``TrainConfig.batch_size`` is unset (DDP always samples).
DEFAULT_BATCH_SIZE = 256


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the running process group."""

    rank: int
    world_size: int
    backend: str


def current() -> DistributedContext | None:
    """The running process group (one rank or more), or None when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return DistributedContext(dist.get_rank(), dist.get_world_size(), str(dist.get_backend()))


def init_from_env(backend: str | None = None) -> DistributedContext | None:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``MASTER_ADDR``…); None, and nothing started, outside ``torchrun``.
    ``backend``: default ``nccl`` when CUDA is present, else ``gloo``."""
    if "WORLD_SIZE" not in os.environ or "MASTER_ADDR" not in os.environ:
        return None
    if not (dist.is_available() and dist.is_initialized()):
        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if chosen == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(chosen)
    return current()


def is_writer() -> bool:
    """True on the process that writes files: rank 0, or the only process."""
    ctx = current()
    return ctx is None or ctx.rank == 0


def shard(indices: np.ndarray, rank: int, world_size: int, *, seed: int) -> np.ndarray:
    """This rank's equal share of ``indices`` shuffled by ``seed`` (the same on every rank),
    padded by wrapping so every share has ``ceil(n / world_size)`` items; no share repeats an
    item. ``seed < 0`` keeps the order (for evaluation)."""
    items = np.asarray(indices, dtype=np.int64)
    if seed >= 0:
        items = items[np.random.default_rng(seed).permutation(len(items))]
    total = -(-len(items) // world_size) * world_size
    padded = np.resize(items, total) if len(items) else items
    return padded[rank::world_size]


def parameter_spread(model: torch.nn.Module) -> float:
    """Largest difference of any parameter between ranks (0.0 when they are in sync)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(torch.float64)
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return float((high - low).abs().max())


def _loader(
    graph: GraphData, seeds: np.ndarray, sage_config: SAGEConfig, fanout: tuple[int, ...],
    batch_size: int, sample_seed: int,
) -> NodeLoader:  # fmt: skip
    """Sampled neighbourhoods of ``seeds`` in their given order (shares come shuffled)."""
    data = typed_edges(graph, sage_config.use_identifiers, sage_config.max_neighbours)
    return NodeLoader(
        data,
        node_sampler=UniformNeighborSampler(data, fanout, sample_seed),
        input_nodes=torch.as_tensor(seeds, dtype=torch.long),
        batch_size=batch_size,
        shuffle=False,
    )


def _validation_auc(
    model: GraphSAGE, graph: GraphData, val_idx: np.ndarray, ctx: DistributedContext,
    sage_config: SAGEConfig, train_config: TrainConfig, device: torch.device,
) -> float:  # fmt: skip
    """Each rank scores its share of the validation seeds on sampled neighbourhoods (a fixed
    sampling stream, so epochs are compared on the same samples); the shares are gathered."""
    mine = np.asarray(val_idx, dtype=np.int64)[ctx.rank :: ctx.world_size]
    batch_size = train_config.batch_size or DEFAULT_BATCH_SIZE
    loader = _loader(graph, mine, sage_config, train_config.fanout, batch_size, 7 + ctx.rank)
    model.eval()
    scores: list[np.ndarray] = []
    with torch.no_grad():
        for batch in loader:
            adjacencies = [a.to(device) for a in typed_adjacency(batch, sage_config.num_relations)]
            scores.append(model(batch.x.to(device), adjacencies)[: batch.batch_size].cpu().numpy())
    shares: list[tuple[np.ndarray, np.ndarray] | None] = [None] * ctx.world_size
    local = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
    dist.all_gather_object(shares, (mine, local))
    nodes = np.concatenate([s[0] for s in shares if s is not None])
    logits = np.concatenate([s[1] for s in shares if s is not None])
    return auc_or_nan(graph.data.y[nodes].numpy(), logits)


def train_sage_distributed(
    graph: GraphData,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    scaler: FeatureScaler,
    sage_config: SAGEConfig = SAGEConfig(),
    train_config: TrainConfig = TrainConfig(),
    weighting: EdgeWeighting = "gmv",
    seed: int = 0,
    *,
    after_step: Callable[[GraphSAGE], None] | None = None,
) -> TrainedSAGE:
    """:func:`gnn.train.train_sage` across the running process group: same arguments, same
    stopping rule (best validation AUC, ``patience`` epochs), the mini-batch rate for steps
    of ``world_size × batch_size`` seeds (:meth:`~gnn.train.TrainConfig.step_lr`), identical
    weights returned on every rank. ``after_step(model)`` runs on every rank after every
    optimiser step (tests use it to check the ranks stay in sync)."""
    ctx = current()
    if ctx is None:
        raise RuntimeError("no process group is running: launch with `torchrun --nproc-per-node N`")
    set_seed(seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    device = train_config.resolved_device()
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    model = GraphSAGE(graph.data.num_features, sage_config).to(device)
    devices = [device.index] if device.type == "cuda" else None
    ddp = DistributedDataParallel(model, device_ids=devices)
    batch_size = train_config.batch_size or DEFAULT_BATCH_SIZE
    # Each step averages the gradients of every rank's batch: one step of world × batch seeds.
    lr = train_config.step_lr(len(train_idx), batch_size * ctx.world_size)
    optimiser = torch.optim.Adam(ddp.parameters(), lr=lr, weight_decay=train_config.weight_decay)
    labels = graph.data.y[train_idx].numpy()
    pos_weight = torch.tensor(pos_weight_for(labels, train_config.pos_weight), device=device)
    best = BestEpoch(train_config.patience)
    history: list[dict[str, float]] = []
    started, train_seconds, epoch = time.perf_counter(), 0.0, 0
    for epoch in range(1, train_config.max_epochs + 1):
        ddp.train()  # type: ignore[no-untyped-call]
        step_started = time.perf_counter()
        mine = shard(train_idx, ctx.rank, ctx.world_size, seed=seed * 100_003 + epoch)
        sample_seed = (seed * 100_003 + epoch) * ctx.world_size + ctx.rank
        loader = _loader(graph, mine, sage_config, train_config.fanout, batch_size, sample_seed)
        losses = []
        for batch in loader:
            optimiser.zero_grad()
            adjacencies = [a.to(device) for a in typed_adjacency(batch, sage_config.num_relations)]
            logits = ddp(batch.x.to(device), adjacencies)[: batch.batch_size]
            target = batch.y[: batch.batch_size].to(device)
            loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
            loss.backward()  # type: ignore[no-untyped-call]  # DDP all-reduces the gradients
            optimiser.step()
            losses.append(float(loss.detach()))
            if after_step is not None:
                after_step(model)
        seconds = time.perf_counter() - step_started
        train_seconds += seconds
        val_auc = _validation_auc(model, graph, val_idx, ctx, sage_config, train_config, device)
        history.append(
            {"epoch": epoch, "loss": float(np.mean(losses)), "val_auc": val_auc,
             "train_seconds": seconds, "seeds": float(len(mine)), "lr": lr}
        )  # fmt: skip
        if best.stop_after(epoch, val_auc, model):
            break
    logger.info(
        "rank %d/%d: %d epochs, best %d (validation AUC %.3f), %.1f labelled businesses/s",
        ctx.rank, ctx.world_size, epoch, best.epoch, best.auc,
        len(mine) * epoch / max(train_seconds, 1e-9),
    )  # fmt: skip
    return best.trained(
        model, scaler=scaler, sage_config=sage_config, weighting=weighting, epochs_run=epoch,
        seconds=time.perf_counter() - started, history=history,
    )  # fmt: skip


def finish() -> None:
    """Leave the process group, if one is running (at the end of a ``torchrun`` command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
