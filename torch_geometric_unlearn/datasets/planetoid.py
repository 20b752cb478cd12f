r"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from local raw files, never downloaded."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
from torch import Tensor
from torch_geometric.data import Data

from torch_geometric_unlearn.datasets._utils import (
    PathLike,
    cache_lock,
    cache_root,
    missing_files,
    source_key,
    stage_files,
)

#: Canonical PyG names, by lower-case name.
PLANETOID_NAMES = {'cora': 'Cora', 'citeseer': 'CiteSeer', 'pubmed': 'PubMed'}
#: The splits :func:`load_planetoid` understands.
PLANETOID_SPLITS = ('public', 'full', 'random')
_SUFFIXES = ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index')

#: The Cora raw files shipped inside the package (see ``_data/README.md`` for the licence).
VENDORED_ROOT = Path(__file__).resolve().parent / '_data'


def planetoid_raw_file_names(name: str) -> List[str]:
    r"""The eight raw files PyG's :class:`~torch_geometric.datasets.Planetoid` reads."""
    return [f'ind.{name.lower()}.{s}' for s in _SUFFIXES]


def _canonical_name(name: str) -> str:
    key = str(name).lower()
    if key not in PLANETOID_NAMES:
        raise ValueError(f"unknown Planetoid dataset '{name}' (available: "
                         f'{sorted(PLANETOID_NAMES.values())})')
    return PLANETOID_NAMES[key]


def _find_raw_dir(root: Path, name: str) -> Path:
    r"""Accepts :obj:`root/<name>/raw` (any case of :obj:`name`), :obj:`root/raw` or the raw
    folder itself; raises :class:`FileNotFoundError` naming the missing files."""
    files = planetoid_raw_file_names(name)
    candidates = [root / name / 'raw']
    if root.is_dir():
        candidates += [p / 'raw' for p in sorted(root.iterdir())
                       if p.is_dir() and p.name.lower() == name.lower() and p.name != name]
    candidates += [root / 'raw', root]
    for cand in candidates:
        if cand.is_dir() and not missing_files(cand, files):
            return cand
    # Report against the most plausible folder: the first one that exists.
    best = next((c for c in candidates if c.is_dir() and any(c.glob('ind.*'))),
                candidates[0])
    raise FileNotFoundError(
        f"Planetoid '{name}' raw files not found under '{root}': missing "
        f"{missing_files(best, files)} in '{best}' (expected layout: <root>/{name}/raw/ or "
        f'<root>/raw/ holding {files}). Nothing is downloaded; copy the Planetoid raw files '
        f'there (e.g. from https://github.com/kimiyoung/planetoid/tree/master/data).')


def random_planetoid_split(y: Tensor, num_train_per_class: int = 20, num_val: int = 500,
                           num_test: int = 1000, seed: int = 0):
    r"""A seeded random Planetoid-style split (the :obj:`"random"` split of PyG's
    :class:`~torch_geometric.datasets.Planetoid`, drawn with a :class:`torch.Generator` instead
    of the global random state): :obj:`num_train_per_class` training nodes per class, then
    :obj:`num_val` validation and :obj:`num_test` test nodes among the rest.

    Args:
        y (torch.Tensor): Node labels :obj:`[N]`; negative labels are never selected.
        num_train_per_class (int, optional): Training nodes per class. (default: :obj:`20`)
        num_val (int, optional): Validation nodes. (default: :obj:`500`)
        num_test (int, optional): Test nodes. (default: :obj:`1000`)
        seed (int, optional): Random seed. (default: :obj:`0`)

    Returns:
        (train_mask, val_mask, test_mask), boolean tensors :obj:`[N]`.
    """
    gen = torch.Generator().manual_seed(int(seed))
    n = y.numel()
    y = y.view(-1).cpu()
    perm = torch.randperm(n, generator=gen)
    perm = perm[y[perm] >= 0]
    # Rank of every node within its class in random order, without a per-class loop.
    order = perm[torch.sort(y[perm], stable=True).indices]
    cls = y[order]
    counts = torch.bincount(cls)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(order.numel()) - starts[cls]
    train_mask = torch.zeros(n, dtype=torch.bool)
    train_mask[order[rank < num_train_per_class]] = True
    rest = perm[~train_mask[perm]]
    val_mask = torch.zeros(n, dtype=torch.bool)
    val_mask[rest[:num_val]] = True
    test_mask = torch.zeros(n, dtype=torch.bool)
    test_mask[rest[num_val:num_val + num_test]] = True
    return train_mask, val_mask, test_mask


def load_planetoid(name: str = 'Cora', root: Optional[PathLike] = None, split: str = 'public',
                   cache_dir: Optional[PathLike] = None, seed: int = 0) -> Data:
    r"""Loads a Planetoid citation graph with PyG's
    :class:`~torch_geometric.datasets.Planetoid`, from local raw files only.

    The raw files are first copied to a cache folder (:obj:`cache_dir`, else :obj:`$TGU_CACHE`,
    else :obj:`~/.cache/torch_geometric_unlearn`; sub-folder :obj:`planetoid/<name>-<hash of the
    source path>`) and PyG processes them there, so the source folder is only read (it may be
    read-only). The copy is refreshed when the source files change.

    Args:
        name (str, optional): :obj:`"Cora"`, :obj:`"CiteSeer"` or :obj:`"PubMed"`
            (case-insensitive). (default: :obj:`"Cora"`)
        root (str or Path, optional): Folder holding :obj:`<name>/raw/ind.<name>.*` or directly
            :obj:`raw/ind.<name>.*` (i.e. the :obj:`<name>` folder itself). :obj:`None` means the
            copy of Cora shipped with the package (other names then need a root).
            (default: :obj:`None`)
        split (str, optional): :obj:`"public"` (the Planetoid split: 20 training nodes per
            class, 500 validation, 1000 test), :obj:`"full"` (all nodes outside the public
            validation and test sets are training nodes) or :obj:`"random"` (seeded random
            split of the same sizes as :obj:`"public"`, see :func:`random_planetoid_split`).
            (default: :obj:`"public"`)
        cache_dir (str or Path, optional): Cache folder. (default: :obj:`None`)
        seed (int, optional): Seed of the :obj:`"random"` split. (default: :obj:`0`)

    Returns:
        :class:`~torch_geometric.data.Data` with :obj:`x`, :obj:`y`, undirected
        :obj:`edge_index` and boolean :obj:`train_mask`, :obj:`val_mask`, :obj:`test_mask`.

    Raises:
        FileNotFoundError: If raw files are missing (the message names them).
        ValueError: For an unknown name or split.
    """
    from torch_geometric.datasets import Planetoid

    name = _canonical_name(name)
    if split not in PLANETOID_SPLITS:
        raise ValueError(f"unknown Planetoid split '{split}' (available: {PLANETOID_SPLITS})")
    if root is None:
        if name != 'Cora':
            raise FileNotFoundError(f"no root given for Planetoid '{name}': only Cora ships "
                                    'with the package; pass the folder holding its raw files')
        root = VENDORED_ROOT
    raw_dir = _find_raw_dir(Path(root).expanduser(), name)

    base = cache_root(cache_dir) / 'planetoid' / source_key(name, raw_dir)
    with cache_lock(base):
        stage_files(raw_dir, base / name / 'raw', planetoid_raw_file_names(name),
                    stale=[base / name / 'processed'])
        dataset = Planetoid(str(base), name, split='full' if split == 'full' else 'public')
        data = dataset[0]
    if split == 'random':
        data.train_mask, data.val_mask, data.test_mask = random_planetoid_split(data.y,
                                                                               seed=seed)
    return data
