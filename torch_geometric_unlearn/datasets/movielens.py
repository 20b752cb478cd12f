r"""MovieLens-100K as an implicit-feedback user-item graph, read from local raw files."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
from torch_geometric.data import HeteroData

from torch_geometric_unlearn.datasets._utils import (
    PathLike,
    cache_lock,
    cache_root,
    missing_files,
    source_key,
    stage_files,
)
from torch_geometric_unlearn.datasets.lightgcn import build_bipartite, per_user_split

#: The splits :func:`load_movielens100k` understands.
MOVIELENS_SPLITS = ('u1', 'random')


def _movielens_raw_files() -> List[str]:
    # Exactly what PyG's MovieLens100K reads: with all of them present it never downloads.
    from torch_geometric.datasets import MovieLens100K
    try:
        return list(MovieLens100K.raw_file_names.fget(None))  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - a PyG version computing it from the instance
        return ['u.item', 'u.user', 'u1.base', 'u1.test']


def _find_raw_dir(root: Path, files: List[str]) -> Path:
    candidates = [root / 'raw', root / 'ml-100k' / 'raw', root / 'ml-100k', root]
    for cand in candidates:
        if cand.is_dir() and not missing_files(cand, files):
            return cand
    best = next((c for c in candidates if c.is_dir() and any(c.glob('u*.base'))), candidates[0])
    raise FileNotFoundError(
        f"MovieLens-100K raw files not found under '{root}': missing "
        f"{missing_files(best, files)} in '{best}' (expected <root>/raw/ or <root>/ml-100k/raw/ "
        'holding the files of ml-100k.zip from https://grouplens.org/datasets/movielens/100k/; '
        'nothing is downloaded)')


def load_movielens100k(root: PathLike, min_rating: int = 4, split: str = 'u1', seed: int = 0,
                       test_ratio: float = 0.2,
                       cache_dir: Optional[PathLike] = None) -> HeteroData:
    r"""Loads `MovieLens-100K <https://grouplens.org/datasets/movielens/100k/>`_ (943 users,
    1,682 movies, 100,000 ratings from 1 to 5) with PyG's
    :class:`~torch_geometric.datasets.MovieLens100K` as an *implicit-feedback* graph: a rating
    of at least :obj:`min_rating` (default 4, the usual threshold for "liked") is an
    interaction, lower ratings are dropped.

    The raw files PyG reads (:obj:`u.item`, :obj:`u.user`, :obj:`u1.base`, :obj:`u1.test`) are
    copied to a cache folder first (:obj:`cache_dir`, else :obj:`$TGU_CACHE`, else
    :obj:`~/.cache/torch_geometric_unlearn`), so :obj:`root` is only read and nothing is
    downloaded.

    Args:
        root (str or Path): Folder holding the raw files in :obj:`root/raw/` (PyG's layout),
            :obj:`root/ml-100k/raw/`, :obj:`root/ml-100k/` or :obj:`root/` itself.
        min_rating (int, optional): Smallest rating kept as an interaction. (default: :obj:`4`)
        split (str, optional): :obj:`"u1"`: the canonical GroupLens split :obj:`u1.base` /
            :obj:`u1.test` (80%/20% of the ratings, the one PyG uses); :obj:`"random"`: the
            ratings of both files pooled and split per user with
            :func:`per_user_split` (seeded; each user keeps at least one training interaction).
            (default: :obj:`"u1"`)
        seed (int, optional): Seed of the :obj:`"random"` split. (default: :obj:`0`)
        test_ratio (float, optional): Held-out share of the :obj:`"random"` split.
            (default: :obj:`0.2`)
        cache_dir (str or Path, optional): Cache folder. (default: :obj:`None`)

    Returns:
        :class:`~torch_geometric.data.HeteroData` with the bipartite convention of
        :mod:`~torch_geometric_unlearn.datasets.lightgcn` (movies are :obj:`'item'` nodes), plus
        PyG's node features: :obj:`data['user'].x` (age, gender, occupation) and
        :obj:`data['item'].x` (genres). Every user and movie is a node, with or without
        interactions.
    """
    if split not in MOVIELENS_SPLITS:
        raise ValueError(f"unknown MovieLens split '{split}' (available: {MOVIELENS_SPLITS})")
    try:
        import pandas  # noqa: F401  (PyG's MovieLens100K processing needs it)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("MovieLens-100K needs 'pandas': pip install pandas") from e
    from torch_geometric.datasets import MovieLens100K

    files = _movielens_raw_files()
    raw_dir = _find_raw_dir(Path(root).expanduser(), files)
    base = cache_root(cache_dir) / 'movielens100k' / source_key('ml-100k', raw_dir)
    with cache_lock(base):
        stage_files(raw_dir, base / 'raw', files, stale=[base / 'processed'])
        src = MovieLens100K(str(base))[0]

    store = src['user', 'rates', 'movie']
    num_users, num_items = int(src['user'].num_nodes), int(src['movie'].num_nodes)
    train = store.edge_index[:, store.rating >= min_rating]
    test = store.edge_label_index[:, store.edge_label >= min_rating]
    if split == 'random':
        train, test = per_user_split(torch.cat([train, test], dim=1), num_users, test_ratio,
                                     seed)
    data = build_bipartite(train, test, num_users, num_items)
    data['user'].x = src['user'].x
    data['item'].x = src['movie'].x
    return data
