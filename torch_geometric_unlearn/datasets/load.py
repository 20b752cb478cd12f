r"""Dataset names of the benchmark CLI, parsed into loader calls."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union
from urllib.parse import parse_qsl

from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.datasets._utils import PathLike, shared_data_dir

#: The dataset names :func:`load_dataset` accepts (placeholders in angle brackets; options
#: after :obj:`?`).
DATASET_NAMES = (
    'cora', 'citeseer', 'pubmed', 'lightgcn:<dir>', 'gowalla', 'movielens100k', 'ogbn-arxiv',
    'ogbn-products', 'sbm:<nodes>,<edges>', 'bipartite:<users>,<items>,<interactions>')

# Options accepted after '?' for each kind of name, with their types.
_OPTIONS: Dict[str, Dict[str, Callable[[str], Any]]] = {
    'planetoid': {'split': str},
    'lightgcn': {'max_users': int, 'subset': str, 'min_interactions': int},
    'movielens100k': {'min_rating': int, 'split': str, 'test_ratio': float},
    'ogb': {},
    'sbm': {'num_classes': int, 'num_features': int, 'homophily': float,
            'feature_signal': float},
    'bipartite': {'test_ratio': float, 'user_exponent': float, 'item_exponent': float},
}


def is_bipartite(data: Union[Data, HeteroData]) -> bool:
    r"""Whether :obj:`data` is a user-item graph: a :class:`HeteroData` with node types
    :obj:`'user'` and :obj:`'item'` and a :obj:`('user', *, 'item')` edge type, or the
    homogeneous view of :func:`to_homogeneous_bipartite` (a :class:`Data` with
    :obj:`num_users` and :obj:`num_items`)."""
    if isinstance(data, HeteroData):
        return ('user' in data.node_types and 'item' in data.node_types
                and any(s == 'user' and d == 'item' for s, _, d in data.edge_types))
    if isinstance(data, Data):
        return 'num_users' in data and 'num_items' in data
    return False


def _valid_names() -> str:
    return ', '.join(DATASET_NAMES) + " (options after '?', e.g. 'gowalla?max_users=2000')"


def _count(text: str, what: str, name: str) -> int:
    try:
        value = float(text.replace('_', ''))
    except ValueError:
        value = float('nan')
    if not value.is_integer() or value < 0:
        raise ValueError(f"'{name}': {what} must be a non-negative integer, got '{text}'")
    return int(value)


def _counts(arg: str, whats: Tuple[str, ...], name: str) -> Tuple[int, ...]:
    parts = [p.strip() for p in arg.split(',')] if arg.strip() else []
    if len(parts) != len(whats):
        raise ValueError(f"'{name}' must look like '{name.split(':')[0]}:"
                         f"{','.join('<' + w + '>' for w in whats)}'")
    return tuple(_count(p, w, name) for p, w in zip(parts, whats))


def _options(query: str, kind: str, name: str) -> Dict[str, Any]:
    allowed = _OPTIONS[kind]
    out: Dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key not in allowed:
            raise ValueError(f"'{name}': unknown option '{key}' (valid: {sorted(allowed)})")
        try:
            out[key] = allowed[key](value)
        except ValueError:
            raise ValueError(f"'{name}': option '{key}' has an invalid value '{value}'") \
                from None
    return out


def _default_folder(root: Optional[PathLike], sub: str, name: str, hint: str) -> Path:
    r""":obj:`root` (or :obj:`root/sub` when it holds it), else the shared data folder."""
    if root is not None:
        root = Path(root).expanduser()
        return root / sub if (root / sub).is_dir() else root
    path = shared_data_dir() / sub
    if not path.is_dir():
        raise FileNotFoundError(f"'{name}': no root given and '{path}' does not exist; pass "
                                f'root=<{hint}> (--root in the benchmark CLI)')
    return path


def load_dataset(name: str, root: Optional[PathLike] = None,
                 seed: int = 0) -> Union[Data, HeteroData]:
    r"""Loads a dataset by its benchmark-CLI name (case-insensitive).

    ================================================  ==============================================
    name                                              dataset
    ================================================  ==============================================
    :obj:`cora`, :obj:`citeseer`, :obj:`pubmed`       :func:`load_planetoid` on the raw files under
                                                      :obj:`root`; :obj:`cora` without :obj:`root`
                                                      is the copy shipped with the package
    :obj:`lightgcn:<dir>`                             :func:`load_lightgcn` on :obj:`<dir>` (if
                                                      empty: :obj:`root`)
    :obj:`gowalla`                                    :func:`load_lightgcn` on :obj:`root` (or
                                                      :obj:`root/gowalla`); without :obj:`root`, the
                                                      development copy
                                                      :obj:`../shared/data/gowalla`
                                                      (:obj:`$TGU_SHARED_DATA`)
    :obj:`movielens100k`                              :func:`load_movielens100k` on :obj:`root`
                                                      (default: :obj:`../shared/data/ml-100k`)
    :obj:`ogbn-arxiv`, :obj:`ogbn-products`           :func:`load_ogb_node` on the OGB layout under
                                                      :obj:`root` (default: the shared data folder)
    :obj:`sbm:<nodes>,<edges>`                        :func:`stochastic_block_model`
    :obj:`bipartite:<users>,<items>,<interactions>`   :func:`powerlaw_bipartite`
    ================================================  ==============================================

    Options go after :obj:`?` as :obj:`key=value` pairs joined by :obj:`&`:
    :obj:`max_users`, :obj:`subset`, :obj:`min_interactions` (lightgcn, gowalla; the last one
    keeps the training :math:`k`-core, see :func:`load_lightgcn`); :obj:`split` (planetoid names);
    :obj:`min_rating`, :obj:`split`, :obj:`test_ratio` (movielens100k); :obj:`num_classes`,
    :obj:`num_features`, :obj:`homophily`, :obj:`feature_signal` (sbm); :obj:`test_ratio`,
    :obj:`user_exponent`, :obj:`item_exponent` (bipartite). Example:
    :obj:`"gowalla?max_users=2000"`, :obj:`"gowalla?max_users=8000&min_interactions=10"`,
    :obj:`"sbm:10000,50000?homophily=0.9"`.

    Args:
        name (str): The dataset name (see above).
        root (str or Path, optional): Data folder. (default: :obj:`None`)
        seed (int, optional): Seed of every random choice (synthetic graphs, user subsets,
            random splits). (default: :obj:`0`)

    Raises:
        ValueError: For an unknown name or malformed arguments (the message lists the valid
            names).
    """
    from torch_geometric_unlearn.datasets.lightgcn import load_lightgcn
    from torch_geometric_unlearn.datasets.movielens import load_movielens100k
    from torch_geometric_unlearn.datasets.ogb import OGB_NODE_DATASETS, load_ogb_node
    from torch_geometric_unlearn.datasets.planetoid import PLANETOID_NAMES, load_planetoid
    from torch_geometric_unlearn.datasets.synthetic import (
        powerlaw_bipartite,
        stochastic_block_model,
    )

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'dataset name must be a non-empty string, got {name!r}; valid: '
                         f'{_valid_names()}')
    full = name.strip()
    base, _, query = full.partition('?')
    kind, sep, arg = base.partition(':')
    kind = kind.strip().lower()

    if kind in PLANETOID_NAMES and not sep:
        opts = _options(query, 'planetoid', full)
        return load_planetoid(PLANETOID_NAMES[kind], root=root, seed=seed, **opts)
    if kind == 'lightgcn' and sep:
        folder = Path(arg.strip()).expanduser() if arg.strip() else None
        if folder is None:
            if root is None:
                raise ValueError(f"'{full}': give the folder as 'lightgcn:<dir>' or as root")
            folder = Path(root).expanduser()
        return load_lightgcn(folder, seed=seed, **_options(query, 'lightgcn', full))
    if kind == 'gowalla' and not sep:
        opts = _options(query, 'lightgcn', full)  # bad options fail before any file lookup
        folder = _default_folder(root, 'gowalla', full, 'folder with train.txt and test.txt')
        return load_lightgcn(folder, seed=seed, **opts)
    if kind == 'movielens100k' and not sep:
        opts = _options(query, 'movielens100k', full)
        folder = _default_folder(root, 'ml-100k', full, 'folder with raw/u1.base etc.')
        return load_movielens100k(folder, seed=seed, **opts)
    if kind in OGB_NODE_DATASETS and not sep:
        _options(query, 'ogb', full)
        if root is None:  # the shared data folder, if it holds the dataset
            _default_folder(None, kind.replace('-', '_'), full, 'folder holding the OGB '
                            f"folder {kind.replace('-', '_')}/")
        return load_ogb_node(kind, root if root is not None else shared_data_dir())
    if kind == 'sbm' and sep:
        nodes, edges = _counts(arg, ('nodes', 'edges'), full)
        return stochastic_block_model(nodes, edges, seed=seed, **_options(query, 'sbm', full))
    if kind == 'bipartite' and sep:
        users, items, inter = _counts(arg, ('users', 'items', 'interactions'), full)
        return powerlaw_bipartite(users, items, inter, seed=seed,
                                  **_options(query, 'bipartite', full))
    raise ValueError(f"unknown dataset '{name}'; valid names: {_valid_names()}")
