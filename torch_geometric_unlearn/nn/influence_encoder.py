r"""UnlearnRec's influence encoder (Chen, Xia and Huang, "Pre-training for Recommendation
Unlearning", SIGIR'25; ``ALGORITHMS.md`` section 4).

The encoder maps an unlearning request, given as its *influence dependency matrix* (IDM)
:math:`\bar{\mathbf{A}}_\Delta`, and the trained model's embeddings to revised layer-0
embeddings

.. math::
    \mathbf{H} = \sum_{l=0}^{L} \bar{\mathbf{A}}_\Delta^{l} \mathbf{H}_0, \qquad
    \mathbf{E}_w = \bar{\mathbf{A}}_\Delta^{L} (\bar{\mathbf{E}} \odot \mathbf{W}_\eta),
    \qquad
    \tilde{\mathbf{E}}_0 = \mathbf{E}_0 + \mathrm{MLP}(\mathbf{H} - \beta\,\mathbf{E}_w),

as the authors' code builds it (the paper's Eq. 15-17 state the same idea). The IDM is the
LightGCN normalisation :math:`\mathbf{D}_\Delta^{-1/2}\mathbf{A}_\Delta\mathbf{D}_\Delta^{-1/2}`
of the adjacency of the *removed* interactions only: a sparse matrix with two entries per removed
interaction (never a dense :math:`N \times N`), so every propagation costs
:math:`O(|\mathcal{E}_\Delta| d)`.
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_unlearn.nn.recsys import info_nce
from torch_geometric_unlearn.nn.sparse import bipartite_norm_adj, drop_interactions, sym_spmm


def influence_dependency_matrix(removed: Tensor, num_users: int, num_items: int) -> Tensor:
    r"""UnlearnRec's influence dependency matrix :math:`\bar{\mathbf{A}}_\Delta` (Eq. 14):
    the symmetric normalised user-item adjacency of the removed interactions, as a sparse CSR
    tensor :obj:`[U+I, U+I]` with :obj:`2 * K` non-zeros (users :obj:`0..U-1`, items
    :obj:`U..U+I-1`; nodes untouched by the request have empty rows).

    Args:
        removed (torch.Tensor): Removed interactions :obj:`[2, K]` (user, local item id).
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
    """
    return bipartite_norm_adj(removed, num_users, num_items)


class InfluenceEncoder(torch.nn.Module):
    r"""The influence encoder :math:`\mathbf{IE}(\bar{\mathbf{A}}_\Delta, \mathbf{E}_0)` of
    UnlearnRec (see the module docstring for the forward pass).

    Parameters and their roles (Algorithm 1 of the paper):

    * :obj:`h0` (:math:`\mathbf{H}_0 \in \mathbb{R}^{N \times d}`, zeros) and :obj:`w_eta`
      (:math:`\mathbf{W}_\eta \in \mathbb{R}^{N \times 1}`, the constant :obj:`weight_init`):
      trained during pre-training on simulated requests;
    * :obj:`mlp`: :obj:`mlp_layers` linear layers of width :math:`d` initialised to the identity
      with zero bias, each followed by a LeakyReLU of slope :obj:`negative_slope`; frozen during
      pre-training, trained during fine-tuning (:meth:`set_stage`).

    With :math:`\mathbf{H}_0 = \mathbf{0}`, :math:`\mathbf{W}_\eta = \mathbf{0}` and the identity
    MLP, :math:`\tilde{\mathbf{E}}_0 = \mathbf{E}_0` exactly.

    Args:
        num_nodes (int): Number of users plus items :math:`N = U + I`.
        embedding_dim (int): Embedding size :math:`d`.
        num_layers (int, optional): IDM propagation steps :math:`L`. (default: :obj:`3`)
        beta (float, optional): Fixed weight :math:`\beta` of :math:`\mathbf{E}_w`.
            (default: :obj:`0.1`, as the authors)
        weight_init (float, optional): Initial value of every entry of :math:`\mathbf{W}_\eta`.
            (default: :obj:`0.002`, as the authors)
        mlp_layers (int, optional): Number of MLP layers. (default: :obj:`2`)
        negative_slope (float, optional): LeakyReLU slope. (default: :obj:`0.99`)
    """

    def __init__(self, num_nodes: int, embedding_dim: int, num_layers: int = 3,
                 beta: float = 0.1, weight_init: float = 0.002, mlp_layers: int = 2,
                 negative_slope: float = 0.99) -> None:
        super().__init__()
        if num_nodes <= 0 or embedding_dim <= 0:
            raise ValueError(f'num_nodes and embedding_dim must be positive, got {num_nodes} '
                             f'and {embedding_dim}')
        if num_layers < 0 or mlp_layers < 0:
            raise ValueError(f'num_layers and mlp_layers must be non-negative, got '
                             f'{num_layers} and {mlp_layers}')
        self.num_nodes, self.embedding_dim = int(num_nodes), int(embedding_dim)
        self.num_layers, self.beta, self.weight_init = int(num_layers), float(beta), weight_init
        self.negative_slope = float(negative_slope)
        self.h0 = torch.nn.Parameter(torch.empty(self.num_nodes, self.embedding_dim))
        self.w_eta = torch.nn.Parameter(torch.empty(self.num_nodes, 1))
        self.mlp = torch.nn.ModuleList([torch.nn.Linear(embedding_dim, embedding_dim)
                                        for _ in range(mlp_layers)])
        self.reset_parameters()
        self.set_stage('pretrain')

    def reset_parameters(self) -> None:
        r""":math:`\mathbf{H}_0 = 0`, :math:`\mathbf{W}_\eta = ` :obj:`weight_init`, identity
        MLP with zero bias (deterministic: no random draw)."""
        with torch.no_grad():
            self.h0.zero_()
            self.w_eta.fill_(self.weight_init)
            for lin in self.mlp:
                lin.weight.copy_(torch.eye(self.embedding_dim))
                lin.bias.zero_()

    def set_stage(self, stage: str) -> 'InfluenceEncoder':
        r"""Chooses the trainable parameters: :obj:`"pretrain"` (:obj:`h0`, :obj:`w_eta`),
        :obj:`"finetune"` (the MLP) or :obj:`"frozen"` (none)."""
        if stage not in ('pretrain', 'finetune', 'frozen'):
            raise ValueError(f"stage must be 'pretrain', 'finetune' or 'frozen', got {stage!r}")
        self.h0.requires_grad_(stage == 'pretrain')
        self.w_eta.requires_grad_(stage == 'pretrain')
        for p in self.mlp.parameters():
            p.requires_grad_(stage == 'finetune')
        self.stage = stage
        return self

    def _check(self, idm: Tensor, x: Tensor, what: str) -> None:
        if idm.size(0) != self.num_nodes or idm.size(1) != self.num_nodes:
            raise ValueError(f'the influence dependency matrix is {tuple(idm.shape)} but the '
                             f'encoder has {self.num_nodes} nodes')
        if x.shape != (self.num_nodes, self.embedding_dim):
            raise ValueError(f'{what} must be [{self.num_nodes}, {self.embedding_dim}], got '
                             f'{tuple(x.shape)}')

    # Building blocks ########################################################

    def influence_layers(self, idm: Tensor) -> List[Tensor]:
        r"""The influence estimation matrices :math:`[\mathbf{H}_0, \bar{\mathbf{A}}_\Delta
        \mathbf{H}_0, \dots, \bar{\mathbf{A}}_\Delta^L \mathbf{H}_0]` (Eq. 15)."""
        layers = [self.h0]
        for _ in range(self.num_layers):
            layers.append(sym_spmm(idm, layers[-1]))
        return layers

    def influence(self, idm: Tensor) -> Tensor:
        r""":math:`\mathbf{H} = \sum_{l=0}^{L}\bar{\mathbf{A}}_\Delta^l\mathbf{H}_0`."""
        return torch.stack(self.influence_layers(idm)).sum(0)

    def weighted_embeddings(self, idm: Tensor, final_emb: Tensor) -> Tensor:
        r""":math:`\mathbf{E}_w = \bar{\mathbf{A}}_\Delta^L(\bar{\mathbf{E}}\odot
        \mathbf{W}_\eta)` (Eq. 16, last layer as read-out) from the trained model's fixed
        final embeddings :math:`\bar{\mathbf{E}}`."""
        x = final_emb.detach() * self.w_eta
        for _ in range(self.num_layers):
            x = sym_spmm(idm, x)
        return x

    def delta(self, idm: Tensor, final_emb: Tensor) -> Tensor:
        r"""The raw shift :math:`\Delta\mathbf{E}_0 = \mathbf{H} - \beta\,\mathbf{E}_w`."""
        self._check(idm, final_emb, 'final_emb')
        return self.influence(idm) - self.beta * self.weighted_embeddings(idm, final_emb)

    def transform(self, delta: Tensor) -> Tensor:
        r""":math:`\mathrm{MLP}(\Delta\mathbf{E}_0)` (Eq. 18)."""
        for lin in self.mlp:
            delta = F.leaky_relu(lin(delta), self.negative_slope)
        return delta

    def forward(self, idm: Tensor, x0: Tensor, final_emb: Tensor) -> Tensor:
        r"""Revised layer-0 embeddings :math:`\tilde{\mathbf{E}}_0`.

        Args:
            idm (torch.Tensor): Influence dependency matrix of the request
                (:func:`influence_dependency_matrix`).
            x0 (torch.Tensor): Layer-0 embeddings :math:`\mathbf{E}_0` of the trained model.
            final_emb (torch.Tensor): Final embeddings :math:`\bar{\mathbf{E}}` of the
                trained model (treated as constants).
        """
        self._check(idm, x0, 'x0')
        return x0 + self.transform(self.delta(idm, final_emb))

    # Contrast loss ##########################################################

    def contrast_loss(self, idm: Tensor, idm_dropped: Tensor, nodes: Tensor,
                      temperature: float = 1.0) -> Tensor:
        r"""UnlearnRec's contrast loss :math:`\mathcal{L}_c` (Eq. 23-24): for every layer
        :math:`l = 1..L`, the InfoNCE (cosine similarity, in-batch negatives) between
        :math:`\bar{\mathbf{A}}_\Delta\mathbf{H}_{l-1}` and
        :math:`\bar{\mathbf{A}}'_\Delta\mathbf{H}_{l-1}` on the rows :obj:`nodes` (a sample of
        the request's nodes: rows of untouched nodes are zero), summed over layers. Memory
        :math:`O(|\text{nodes}|^2)`, never :math:`N \times N`.

        Args:
            idm (torch.Tensor): Influence dependency matrix.
            idm_dropped (torch.Tensor): The matrix of a random subset of the removed
                interactions (edge dropout), renormalised.
            nodes (torch.Tensor): Node ids to contrast.
            temperature (float, optional): InfoNCE temperature. (default: :obj:`1.0`)
        """
        if nodes.numel() < 2 or self.num_layers == 0:
            return self.h0.sum() * 0.
        h = self.h0
        total = h.new_zeros(())
        for _ in range(self.num_layers):
            full, dropped = sym_spmm(idm, h), sym_spmm(idm_dropped, h)
            total = total + info_nce(full[nodes], dropped[nodes], temperature)
            h = full
        return total

    @staticmethod
    def dropped_idm(removed: Tensor, num_users: int, num_items: int, drop_ratio: float,
                    generator: Optional[torch.Generator] = None) -> Tensor:
        r"""IDM of the removed interactions after dropping each with probability
        :obj:`drop_ratio` (Eq. 23's :math:`\bar{\mathbf{A}}'_\Delta`)."""
        return influence_dependency_matrix(drop_interactions(removed, drop_ratio, generator),
                                           num_users, num_items)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_nodes={self.num_nodes}, '
                f'embedding_dim={self.embedding_dim}, num_layers={self.num_layers}, '
                f'beta={self.beta}, mlp_layers={len(self.mlp)})')
