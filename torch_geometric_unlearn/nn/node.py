"""Node-classification backbones: thin factories over PyG's models."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch_geometric.nn import SGConv
from torch_geometric.nn.models import GAT, GCN, GIN, GraphSAGE

#: Names accepted by :func:`build_node_model`.
NODE_MODELS = ('gcn', 'gat', 'sage', 'sgc', 'gin')


class SGC(torch.nn.Module):
    r"""Simplifying Graph Convolution (Wu et al., ICML'19): a linear classifier on
    :math:`\hat{A}^K X`. Propagation is recomputed at every call (never cached), so an
    unlearned edge cannot survive in a cache; a run on one fixed graph (a
    :class:`~torch_geometric_unlearn.task.NodeClassificationTask` or
    :class:`~torch_geometric_unlearn.task.LinkPredictionTask` training run, hence Retrain;
    an SGU request) computes it once and trains the linear layer only
    (:func:`~torch_geometric_unlearn.task.node.sgc_features`), nothing kept afterwards.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        K (int, optional): Number of propagation hops. (default: :obj:`2`)
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 2) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.conv = SGConv(in_channels, out_channels, K=K, cached=False)

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                **kwargs: Any) -> Tensor:
        return self.conv(x, edge_index, edge_weight)

    @property
    def num_layers(self) -> int:
        return self.K


def build_node_model(name: str, in_channels: int, out_channels: int,
                     hidden_channels: int = 64, num_layers: int = 2, dropout: float = 0.5,
                     **kwargs: Any) -> torch.nn.Module:
    r"""Builds a node classifier :obj:`model(x, edge_index) -> logits`.

    Args:
        name (str): One of :obj:`"gcn"`, :obj:`"gat"`, :obj:`"sage"`, :obj:`"sgc"`,
            :obj:`"gin"`.
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Hidden size. (default: :obj:`64`)
        num_layers (int, optional): Message-passing layers (hops :obj:`K` for SGC).
            (default: :obj:`2`)
        dropout (float, optional): Dropout. (default: :obj:`0.5`)
        **kwargs: Passed to the PyG model (e.g. :obj:`heads` for GAT, default 8).
    """
    key = name.lower()
    if key == 'gcn':
        return GCN(in_channels, hidden_channels, num_layers, out_channels, dropout=dropout,
                   cached=False, **kwargs)
    if key == 'gat':
        kwargs.setdefault('heads', 8)
        return GAT(in_channels, hidden_channels, num_layers, out_channels, dropout=dropout,
                   **kwargs)
    if key in ('sage', 'graphsage'):
        return GraphSAGE(in_channels, hidden_channels, num_layers, out_channels,
                         dropout=dropout, **kwargs)
    if key == 'gin':
        return GIN(in_channels, hidden_channels, num_layers, out_channels, dropout=dropout,
                   **kwargs)
    if key == 'sgc':
        return SGC(in_channels, out_channels, K=num_layers)
    raise ValueError(f"unknown model '{name}' (expected one of {NODE_MODELS})")


def num_message_passing_layers(model: torch.nn.Module) -> int:
    r"""Number of message-passing hops of :obj:`model` (the receptive field)."""
    if isinstance(model, SGC):
        return model.K
    n = getattr(model, 'num_layers', None)
    if isinstance(n, int):
        return n
    from torch_geometric.nn.conv import MessagePassing
    return sum(isinstance(m, MessagePassing) for m in model.modules())
