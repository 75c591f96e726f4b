"""GraphSAGE for business risk: direction-aware, edge-weighted, inductive.

Layout: input projection -> ``num_layers`` :class:`DirectedSAGEConv` (ReLU, dropout, optional
residual) -> jumping knowledge (concatenate every layer's output, or keep the last) -> an MLP
head giving one logit per node. Nothing in the weights depends on the number of nodes, so a
trained model scores any graph with the same feature columns: a business unseen in training is
scored from its own and its neighbours' features without retraining.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnn.conv import DirectedSAGEConv
from gnn.receptive import LayerPlan, ReceptivePlan

#: What a forward pass runs on: the graph's per-relation operators, or a plan that computes
#: only some targets' rows (:mod:`gnn.receptive`).
Adjacencies = list[Tensor] | ReceptivePlan


@dataclass(frozen=True)
class SAGEConfig:
    """Architecture; defaults are the ones chosen on validation on the synthetic marketplace."""

    hidden: int = 64
    num_layers: int = 2
    dropout: float = 0.2
    jumping_knowledge: Literal["cat", "last"] = "cat"
    residual: bool = True
    use_identifiers: bool = True
    #: Each node aggregates at most this many counterparties per trade direction, its
    #: largest by trade share (:func:`gnn.conv.top_k_in_edges`): the one neighbourhood
    #: definition that training, batch scoring and neighbourhood scoring share, and what
    #: bounds the rows one business's score reads. None: every counterparty.
    max_neighbours: int | None = 32

    @property
    def num_relations(self) -> int:
        return 3 if self.use_identifiers else 2

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class GraphSAGE(nn.Module):
    """``forward(x [N, F], adjacencies) -> logits [N]``; ``embed`` gives ``[N, embedding_dim]``."""

    def __init__(self, in_channels: int, config: SAGEConfig = SAGEConfig()) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.input = nn.Linear(in_channels, config.hidden)
        self.convs = nn.ModuleList(
            DirectedSAGEConv(config.hidden, config.hidden, config.num_relations)
            for _ in range(config.num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(config.hidden) for _ in range(config.num_layers))
        self.head = nn.Sequential(
            nn.Linear(self.embedding_dim, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 1),
        )

    @property
    def embedding_dim(self) -> int:
        layers = self.config.num_layers + 1 if self.config.jumping_knowledge == "cat" else 1
        return self.config.hidden * layers

    def embed(self, x: Tensor, adjacencies: Adjacencies) -> Tensor:
        """Node embeddings ``[N, embedding_dim]`` (input to the head; used by the hybrid).
        With a :class:`~gnn.receptive.ReceptivePlan`, ``x`` holds its ``input_rows`` and the
        result its targets' rows ``[T, embedding_dim]``, equal to the full forward's."""
        h = F.relu(self.input(x))
        outputs = [h]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h_in = F.dropout(h, self.config.dropout, self.training)
            step = adjacencies.layers[i] if isinstance(adjacencies, ReceptivePlan) else adjacencies
            if isinstance(step, LayerPlan):  # this layer computes only the rows it keeps
                out, kept = conv.planned(h_in, step)  # type: ignore[operator]
                h_new = F.relu(norm(out))
                # h is the last output. Without dropout h_in is h, and the gather already
                # picked its kept rows (no second selection, no scatter in the backward pass).
                kept = h[step.keep] if self.training else kept
                outputs = [o[step.keep] for o in outputs[:-1]] + [kept]
                h = kept
            else:
                h_new = F.relu(norm(conv(h_in, step)))
            h = h + h_new if self.config.residual else h_new
            outputs.append(h)
        if self.config.jumping_knowledge == "cat":
            return torch.cat(outputs, dim=-1)
        return outputs[-1]

    def forward(self, x: Tensor, adjacencies: Adjacencies) -> Tensor:
        return self.logit_of([self.embed(x, adjacencies)])

    @property
    def parts(self) -> list[GraphSAGE]:
        """The networks whose embeddings :meth:`logit_of` reads: this one."""
        return [self]

    def logit_of(self, embeddings: Sequence[Tensor]) -> Tensor:
        """The logit ``[N, *batch]`` from each of :attr:`parts`' embedding ``[N, *batch, D]``."""
        (embedding,) = embeddings
        return self.head(embedding).squeeze(-1)

    def embedding_of(self, embeddings: Sequence[Tensor]) -> Tensor:
        """What :meth:`embed` returns, from each of :attr:`parts`' embedding."""
        (embedding,) = embeddings
        return embedding


#: Member logits are clipped to this before averaging (a probability of 1e-6 .. 1 - 1e-6).
BAG_LOGIT_CLIP = float(math.log((1 - 1e-6) / 1e-6))


class SageBagModel(nn.Module):
    """Cross-fitted GraphSAGE members averaged in logit space, as the selection scores (c).

    ``forward(x, adjacencies) -> [N]`` mean logit; ``embed`` gives it as ``[N, 1]``: the column
    the hybrid stacks, so the reasons explain the hybrid's GraphSAGE part through it.
    """

    def __init__(self, members: list[GraphSAGE]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.in_channels = members[0].in_channels
        self.config = members[0].config

    @property
    def convs(self) -> nn.ModuleList:
        """The first member's layers (their count is the receptive field, in hops)."""
        return self.members[0].convs  # type: ignore[return-value]

    def forward(self, x: Tensor, adjacencies: Adjacencies) -> Tensor:
        return self.logit_of([m.embed(x, adjacencies) for m in self.parts])

    def embed(self, x: Tensor, adjacencies: Adjacencies) -> Tensor:
        return self.forward(x, adjacencies).unsqueeze(-1)

    @property
    def parts(self) -> list[GraphSAGE]:
        """The members, whose embeddings :meth:`logit_of` reads."""
        return list(self.members)  # type: ignore[arg-type]

    def logit_of(self, embeddings: Sequence[Tensor]) -> Tensor:
        """The bag's logit ``[N, *batch]`` from each member's embedding ``[N, *batch, D]``:
        the members' logits, clipped, averaged."""
        logits = [
            m.logit_of([e]).clamp(-BAG_LOGIT_CLIP, BAG_LOGIT_CLIP)
            for m, e in zip(self.parts, embeddings, strict=True)
        ]
        return torch.stack(logits).mean(dim=0)

    def embedding_of(self, embeddings: Sequence[Tensor]) -> Tensor:
        """What :meth:`embed` returns (the logit as one column), from each member's."""
        return self.logit_of(embeddings).unsqueeze(-1)
