"""Each target's own input gradient of GraphSAGE, from one shared forward pass.

Integrated Gradients need, for every explained target ``t`` and every node ``n`` of its
receptive field, ``d readout_t / d u_n`` (``u``: the model's projected input, scaled by the
path's ``alpha``). Autograd on a private copy of each target's receptive field
(:func:`gnn.receptive.plan_blocks`) gives exactly that, but then the forward pass runs once
per copy although every copy of a node computes the same values (all inputs scale by the
same ``alpha``): on the default marketplace, 400,000 copied rows for 10,000 nodes.

Here the forward pass runs once on the union of the targets' receptive fields
(:func:`gnn.receptive.plan_layers`) and keeps what the backward pass reads: each layer's
ReLU mask and LayerNorm's normalised output and inverse deviation, per node. The backward
pass then runs by hand on the copies, through the block plan's gather transposes, reading
those values by node: the same products autograd would run, without the copies' forward.
Tests check it against each target's own autograd gradient on the whole graph.

Shapes: ``S`` steps of the path, ``P`` a member's projection width (``hidden``), ``M_l`` the
rows of level ``l`` (0: the input rows; ``l``: the rows layer ``l`` computes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gnn.conv import DirectedSAGEConv, sparse_product
from gnn.model import GraphSAGE
from gnn.receptive import LayerPlan, ReceptivePlan, ScipyOperators, plan_layers

#: ``(embeddings, target_index) -> [B, S]``: the explained quantity per target and step, from
#: each member's embedding at the targets (``[B, S, D]``, what its head reads).
EmbeddingReadout = Callable[[list[Tensor], np.ndarray], Tensor]


@dataclass(frozen=True)
class _LayerState:
    """One layer's values per union row: ``gate [M_l, S, H]`` (its ReLU's mask times
    LayerNorm's weight: what the gradient at the layer's output is multiplied by first),
    ``xhat [M_l, S, H]`` and ``rstd [M_l, S, 1]`` (LayerNorm's normalised output and inverse
    standard deviation)."""

    gate: Tensor
    xhat: Tensor
    rstd: Tensor


@dataclass(frozen=True)
class SharedForward:
    """One member's forward pass on the union of some targets' receptive fields
    (:func:`union_plan`).

    ``input_weight [M_0, S, P]``: the input ReLU's mask times each point's weight on the
    path (what turns the gradients at the points into the path integral); ``layers``: per layer,
    :class:`_LayerState`; ``embeddings [T, S, D]``: the member's embedding at each of the
    targets it was run for, in their order."""

    input_weight: Tensor
    layers: list[_LayerState]
    embeddings: Tensor


def _layer_norm(out: Tensor, norm: torch.nn.LayerNorm) -> tuple[Tensor, Tensor, Tensor]:
    """``(y, xhat, rstd)`` of ``norm(out)``, computed as ``F.layer_norm`` does."""
    centred = out - out.mean(-1, keepdim=True)
    # The biased variance from the centred values (Tensor.var took four times as long).
    rstd = torch.rsqrt((centred * centred).mean(-1, keepdim=True) + norm.eps)
    xhat = centred * rstd
    return xhat * norm.weight + norm.bias, xhat, rstd


def union_plan(
    operators: list[Tensor] | ScipyOperators, targets: np.ndarray, num_layers: int
) -> ReceptivePlan:
    """The plan of the union of ``targets``' receptive fields, every level's rows sorted
    (so a copy's rows are found in it by search), shared by a bag's members."""
    return plan_layers(operators, np.unique(targets), num_layers)


def copy_positions(union: ReceptivePlan, blocks: ReceptivePlan) -> list[Tensor]:
    """Per level, the position in ``union``'s rows of each of ``blocks``' copied rows
    (:func:`gnn.receptive.plan_blocks`): where the copy reads its saved forward values."""
    return [
        torch.from_numpy(np.searchsorted(rows, copied))
        for rows, copied in zip(union.level_rows, blocks.level_rows, strict=True)
    ]


def shared_forward(
    member: GraphSAGE,
    union: ReceptivePlan,
    targets: np.ndarray,
    projected: Tensor,
    path: tuple[Tensor, Tensor],
) -> SharedForward:
    """Run ``member`` once on ``union`` (:func:`union_plan` of ``targets``), at every point of
    the path: ``projected [N, P]`` is the member's projection of every graph row without its
    bias (``x W^T``), ``path`` the points and their weights (``[S]`` each,
    :func:`gnn.reasons.path_points`)."""
    alphas, weights = path
    if member.training:
        raise ValueError("attributions need the model in eval mode (no dropout)")
    rows = union.level_rows
    bias = member.input.bias.detach()
    with torch.no_grad():
        u = torch.addcmul(bias, alphas[None, :, None], projected[rows[0]][:, None, :])
        h = torch.relu(u)
        levels, states = [h], []
        for conv, norm, step in zip(member.convs, member.norms, union.layers, strict=True):
            out, root = conv.planned(h, step)  # type: ignore[operator]
            y, xhat, rstd = _layer_norm(out, norm)  # type: ignore[arg-type]
            gate = (y > 0) * norm.weight.detach()  # type: ignore[operator]
            states.append(_LayerState(gate, xhat, rstd))
            h_new = torch.relu(y)
            h = root + h_new if member.config.residual else h_new
            levels.append(h)
        at = [torch.from_numpy(np.searchsorted(r, targets)) for r in rows]
        if member.config.jumping_knowledge == "cat":
            embeddings = torch.cat([lv[i] for lv, i in zip(levels, at, strict=True)], dim=-1)
        else:
            embeddings = levels[-1][at[-1]]
    return SharedForward((u > 0) * weights[None, :, None], states, embeddings)


def _layer_backward(
    grad: Tensor, member: GraphSAGE, layer: int, step: LayerPlan, state: _LayerState,
    at: Tensor,
) -> Tensor:  # fmt: skip
    """From ``grad [M_l, S, H]`` (the copies' gradient at layer ``layer``'s output) to the
    gradient at its input rows ``[M_{l-1}, S, H]``; ``at [M_l]``: each copy row's union
    row, whose saved values it reads."""
    conv: DirectedSAGEConv = member.convs[layer]  # type: ignore[assignment]
    rows, steps, _ = grad.shape
    # LayerNorm's backward, in place on fresh tensors: the copies' rows are many times the
    # union's, and each pass over them is bound by memory, not arithmetic.
    g = grad * state.gate.index_select(0, at)
    xhat = state.xhat.index_select(0, at)
    projection = (g * xhat).mean(-1, keepdim=True)
    dout = g.sub_(g.mean(-1, keepdim=True)).sub_(xhat.mul_(projection))
    dout.mul_(state.rstd.index_select(0, at))
    dz = dout @ conv.lin.weight.detach()  # [M_l, S, slots * in]
    slots = conv.num_relations + 1
    dz = dz.view(rows, steps, slots, -1).movedim(2, 1).reshape(rows * slots, -1)
    below = sparse_product(step.gather_t, dz).view(-1, steps, dz.shape[-1] // steps)
    if member.config.residual:
        below.index_add_(0, step.keep, grad)
    return below


def path_gradient(
    member: GraphSAGE,
    forward: SharedForward,
    blocks: ReceptivePlan,
    at: list[Tensor],
    embedding_grad: Tensor,
) -> Tensor:
    """``[K, P]``: each copied input row's gradient with respect to the projected input,
    integrated along the path (the points' gradients, weighted), for the copies ``blocks``
    (:func:`gnn.receptive.plan_blocks`) whose outputs (their targets) received
    ``embedding_grad [B, S, D]`` at the member's embedding; ``at``: the copies'
    :func:`copy_positions` in the plan ``forward`` ran on."""
    hidden = member.config.hidden
    levels = len(member.convs)
    # The embedding's part for each level's output: every level with jumping knowledge
    # "cat", the last alone otherwise.
    parts: list[Tensor | None] = [None] * levels + [embedding_grad]
    if member.config.jumping_knowledge == "cat":
        parts = list(torch.split(embedding_grad, hidden, dim=-1))
    grad = parts[-1]
    assert grad is not None
    target_rows = torch.arange(grad.shape[0])
    for layer in range(levels - 1, -1, -1):
        step = blocks.layers[layer]
        grad = _layer_backward(grad, member, layer, step, forward.layers[layer], at[layer + 1])
        target_rows = step.keep[target_rows]
        part = parts[layer]
        if part is not None:
            grad.index_add_(0, target_rows, part)
    return grad.mul_(forward.input_weight.index_select(0, at[0])).sum(dim=1)
