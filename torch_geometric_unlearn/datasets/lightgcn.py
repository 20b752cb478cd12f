r"""User-item interaction graphs in the LightGCN text format, and the bipartite conventions.

Every bipartite dataset of the package (:func:`load_lightgcn`,
:func:`~torch_geometric_unlearn.datasets.load_movielens100k`,
:func:`~torch_geometric_unlearn.datasets.powerlaw_bipartite`) is a
:class:`~torch_geometric.data.HeteroData` with

* node types :obj:`'user'` and :obj:`'item'`, each with :obj:`num_nodes`;
* edge type :obj:`('user', 'rates', 'item')`: :obj:`edge_index` :obj:`[2, E]` holds the
  *training* interactions (row 0 user ids, row 1 item ids, sorted by user then item, no
  duplicates) and :obj:`edge_label_index` :obj:`[2, T]` the *test* interactions (same layout,
  disjoint from the training ones);
* reverse edge type :obj:`('item', 'rev_rates', 'user')` whose :obj:`edge_index` is the flipped
  training :obj:`edge_index`.

:func:`to_homogeneous_bipartite` gives PyG's homogeneous LightGCN view of the same graph
(users :obj:`0..U-1`, items :obj:`U..U+I-1`).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from torch_geometric_unlearn.datasets._utils import PathLike

#: The forward and reverse interaction edge types of every bipartite dataset.
RATES: Tuple[str, str, str] = ('user', 'rates', 'item')
REV_RATES: Tuple[str, str, str] = ('item', 'rev_rates', 'user')

# Byte lookup tables of the parser: digits, and everything allowed (digits and whitespace).
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord('0'):ord('9') + 1] = True
_ALLOWED = _DIGIT.copy()
_ALLOWED[[ord(' '), ord('\t'), ord('\n'), ord('\r')]] = True


# Conventions ##################################################################

def _unique_pairs(pairs: Tensor, num_items: int) -> Tensor:
    r"""Sorted (user, item) pairs without duplicates, through 64-bit keys."""
    pairs = pairs.long()
    keys = _sorted_unique(pairs[0] * num_items + pairs[1])
    return torch.stack([keys // num_items, keys % num_items])


def _sorted_unique(keys: Tensor) -> Tensor:
    # Interaction files are usually sorted already: an O(E) check skips the sort.
    if keys.numel() > 1 and bool((keys[1:] > keys[:-1]).all()):
        return keys
    return torch.unique(keys)


def _isin_sorted(keys: Tensor, sorted_keys: Tensor) -> Tensor:
    r""":obj:`torch.isin(keys, sorted_keys)` by binary search (much faster on CPU)."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(keys, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, keys).clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == keys


def build_bipartite(train: Tensor, test: Tensor, num_users: int, num_items: int) -> HeteroData:
    r"""Builds the bipartite :class:`~torch_geometric.data.HeteroData` of the package convention
    (see the module docstring) from (user, item) pairs.

    Pairs are sorted and deduplicated; test pairs that are also training pairs are dropped (a
    known positive cannot be a held-out one).

    Args:
        train (torch.Tensor): Training pairs :obj:`[2, E]` (row 0 users, row 1 items).
        test (torch.Tensor): Test pairs :obj:`[2, T]`.
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
    """
    num_users, num_items = int(num_users), int(num_items)
    for what, pairs in (('training', train), ('test', test)):
        if pairs.dim() != 2 or pairs.size(0) != 2:
            raise ValueError(f'{what} pairs must have shape [2, E], got {tuple(pairs.shape)}')
        if pairs.numel() and (int(pairs[0].min()) < 0 or int(pairs[0].max()) >= num_users
                              or int(pairs[1].min()) < 0 or int(pairs[1].max()) >= num_items):
            raise ValueError(f'{what} pairs out of range for {num_users} users and '
                             f'{num_items} items')
    train = _unique_pairs(train, num_items)
    test = _unique_pairs(test, num_items)
    if test.numel() and train.numel():
        test = test[:, ~_isin_sorted(test[0] * num_items + test[1],
                                     train[0] * num_items + train[1])]
    data = HeteroData()
    data['user'].num_nodes = num_users
    data['item'].num_nodes = num_items
    data[RATES].edge_index = train
    data[RATES].edge_label_index = test
    data[REV_RATES].edge_index = train.flip(0)
    return data


def bipartite_to_homogeneous(pairs: Tensor, num_users: int) -> Tensor:
    r"""Maps (user, item) pairs :obj:`[2, M]` to homogeneous node ids (items shifted by
    :obj:`num_users`)."""
    return torch.stack([pairs[0], pairs[1] + int(num_users)])


def homogeneous_to_bipartite(pairs: Tensor, num_users: int,
                             num_items: Optional[int] = None) -> Tensor:
    r"""The inverse of :func:`bipartite_to_homogeneous`: maps homogeneous pairs :obj:`[2, M]`
    (users :obj:`0..U-1`, items :obj:`U..U+I-1`, in either orientation) back to
    (user id, item id) pairs :obj:`[2, M]`.

    Args:
        pairs (torch.Tensor): Homogeneous node-id pairs :obj:`[2, M]`.
        num_users (int): Number of users :math:`U`.
        num_items (int, optional): Number of items, to check the ids. (default: :obj:`None`)

    Raises:
        ValueError: If a pair does not join exactly one user and one item.
    """
    if pairs.dim() != 2 or pairs.size(0) != 2:
        raise ValueError(f'pairs must have shape [2, M], got {tuple(pairs.shape)}')
    U = int(num_users)
    flip = pairs[0] >= U
    user = torch.where(flip, pairs[1], pairs[0])
    item = torch.where(flip, pairs[0], pairs[1]) - U
    bad = (user < 0) | (user >= U) | (item < 0)
    if num_items is not None:
        bad |= item >= int(num_items)
    if bool(bad.any()):
        raise ValueError(f'{int(bad.sum())} pair(s) do not join a user (< {U}) and an item '
                         f'(>= {U}), e.g. {pairs[:, bad][:, 0].tolist()}')
    return torch.stack([user, item])


def to_homogeneous_bipartite(data: HeteroData) -> Data:
    r"""PyG's homogeneous LightGCN view of a bipartite :class:`HeteroData` (see the module
    docstring).

    Returns:
        :class:`~torch_geometric.data.Data` with :obj:`num_nodes = U + I` (users :obj:`0..U-1`,
        items :obj:`U..U+I-1`), undirected :obj:`edge_index` (every training interaction in
        both directions, sorted), :obj:`num_users`, :obj:`num_items` and, when the input has
        test interactions, :obj:`edge_label_index` :obj:`[2, T]` as (user, item) pairs in
        homogeneous ids. Map pairs back with :func:`homogeneous_to_bipartite`.
    """
    if not isinstance(data, HeteroData) or RATES not in data.edge_types:
        raise ValueError(f'expected a HeteroData with edge type {RATES}')
    U, I = int(data['user'].num_nodes), int(data['item'].num_nodes)
    store = data[RATES]
    ei = bipartite_to_homogeneous(store.edge_index.long(), U)
    N = U + I
    keys = torch.cat([ei[0] * N + ei[1], ei[1] * N + ei[0]])
    keys = torch.sort(keys).values  # sorted like PyG's to_undirected; no duplicates by design
    out = Data(edge_index=torch.stack([keys // N, keys % N]), num_nodes=N)
    out.num_users, out.num_items = U, I
    if 'edge_label_index' in store:
        out.edge_label_index = bipartite_to_homogeneous(store.edge_label_index.long(), U)
    return out


def per_user_split(pairs: Tensor, num_users: int, test_ratio: float = 0.2,
                   seed: int = 0) -> Tuple[Tensor, Tensor]:
    r"""Seeded per-user random split of (user, item) pairs: each user with :math:`d`
    interactions puts :math:`\lfloor \text{test\_ratio} \cdot d \rfloor` of them, drawn at
    random, into the test set, so every user keeps at least one training interaction.

    Args:
        pairs (torch.Tensor): (user, item) pairs :obj:`[2, E]`.
        num_users (int): Number of users.
        test_ratio (float, optional): Share of each user's interactions held out.
            (default: :obj:`0.2`)
        seed (int, optional): Random seed. (default: :obj:`0`)

    Returns:
        (train, test) pairs.
    """
    if not 0.0 <= test_ratio < 1.0:
        raise ValueError(f'test_ratio must be in [0, 1), got {test_ratio}')
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(pairs.size(1), generator=gen)
    order = perm[torch.sort(pairs[0, perm], stable=True).indices]  # by user, random within
    user = pairs[0, order]
    deg = torch.bincount(user, minlength=int(num_users))
    start = torch.cumsum(deg, 0) - deg
    rank = torch.arange(order.numel()) - start[user]
    is_test = rank < torch.floor(deg[user].double() * test_ratio + 1e-9).long()
    return pairs[:, order[~is_test]], pairs[:, order[is_test]]


# LightGCN text format #########################################################

def read_lightgcn_file(path: PathLike) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Parses one LightGCN interaction file (one line per user: :obj:`user item item ...`,
    0-based integer ids, blank lines ignored) with vectorised NumPy, no per-line Python loop.

    Returns:
        (users, items, line_users): the interaction pairs as two :obj:`int64` arrays and the
        user id of every non-blank line (users listed without items count as users).
    """
    path = Path(path)
    buf = np.fromfile(path, dtype=np.uint8)
    is_digit = _DIGIT[buf]
    bad = ~_ALLOWED[buf]
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        line = int((buf[:pos] == ord('\n')).sum()) + 1
        raise ValueError(f"'{path}' line {line}: unexpected character {chr(buf[pos])!r} "
                         '(the LightGCN format holds non-negative integer ids only)')
    values = np.array(buf.tobytes().split(), dtype=np.int64)
    # Line number of every token: a token starts at a digit not preceded by a digit.
    starts = is_digit.copy()
    starts[1:] &= ~is_digit[:-1]
    tok_line = np.searchsorted(np.flatnonzero(buf == ord('\n')), np.flatnonzero(starts))
    first = np.ones(tok_line.size, dtype=bool)  # first token of a line = the user id
    first[1:] = tok_line[1:] != tok_line[:-1]
    line_users = values[first]
    per_line = np.diff(np.append(np.flatnonzero(first), values.size)) - 1
    users = np.repeat(line_users, per_line)
    items = values[~first]
    return users, items, line_users


@functools.lru_cache(maxsize=4)
def _read_cached(path: str, size: int, mtime_ns: int) -> Tuple[np.ndarray, ...]:
    # Benchmarks load the same files for several seeds or subsets: parse them once.
    out = read_lightgcn_file(path)
    for arr in out:
        arr.setflags(write=False)
    return out


def _read(path: Path) -> Tuple[np.ndarray, ...]:
    st = path.stat()
    return _read_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


def _lightgcn_files(root: Path) -> Tuple[Path, Path]:
    files = [root / 'train.txt', root / 'test.txt']
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"LightGCN-format folder '{root}' lacks {missing} (expected "
                                'train.txt and test.txt, one line per user: '
                                '"user item item ...")')
    return files[0], files[1]


def k_core(pairs: Tensor, num_users: int, num_items: int,
           min_interactions: int) -> Tensor:
    r"""The iterative :math:`k`-core of a user-item interaction set: repeatedly drops every
    interaction whose user or item has fewer than :obj:`min_interactions` interactions left,
    until every remaining user and item has at least :obj:`min_interactions` (the standard
    :math:`k`-core filter of recommendation benchmarks, e.g. the 10-core of the Gowalla split
    of `"LightGCN" <https://arxiv.org/abs/2002.02126>`_). Each round is one vectorised
    degree count; the result is unique and does not depend on the order of the pairs.

    Args:
        pairs (torch.Tensor): (user, item) pairs :obj:`[2, E]`.
        num_users (int): Number of users (ids in :obj:`0..num_users-1`).
        num_items (int): Number of items (ids in :obj:`0..num_items-1`).
        min_interactions (int): The :math:`k` of the core (:obj:`>= 1`).

    Returns:
        Boolean mask :obj:`[E]` of the pairs in the :math:`k`-core (all :obj:`False` when the
        core is empty).
    """
    k = int(min_interactions)
    if k < 1:
        raise ValueError(f'min_interactions must be a positive integer, got {min_interactions}')
    keep = torch.ones(pairs.size(1), dtype=torch.bool, device=pairs.device)
    while True:
        user_deg = torch.bincount(pairs[0, keep], minlength=int(num_users))
        item_deg = torch.bincount(pairs[1, keep], minlength=int(num_items))
        new = keep & (user_deg[pairs[0]] >= k) & (item_deg[pairs[1]] >= k)
        if bool((new == keep).all()):
            return keep
        keep = new


def subset_stats(data: HeteroData) -> str:
    r"""One line of statistics of a bipartite graph: users, items, training and test
    interactions, training interactions per user and per item, and density
    :math:`|E_\text{train}| / (U \cdot I)`."""
    U, I = int(data['user'].num_nodes), int(data['item'].num_nodes)
    E = int(data[RATES].edge_index.size(1))
    T = int(data[RATES].edge_label_index.size(1))
    density = E / max(U * I, 1)
    return (f'{U:,} users, {I:,} items, {E:,} training / {T:,} test interactions, '
            f'{E / max(U, 1):.1f} per user, {E / max(I, 1):.1f} per item, '
            f'density {density:.2e}')


def load_lightgcn(root: PathLike, max_users: Optional[int] = None, seed: int = 0,
                  subset: str = 'random',
                  min_interactions: Optional[int] = None) -> HeteroData:
    r"""Loads a user-item graph stored in the LightGCN text format (e.g. the Gowalla, Yelp2018
    and Amazon-Book benchmark splits of `"LightGCN" <https://arxiv.org/abs/2002.02126>`_):
    :obj:`root/train.txt` and :obj:`root/test.txt`, one line per user,
    :obj:`user item1 item2 ...`, 0-based ids. The folder is only read.

    The numbers of users and items are the largest ids in either file plus one. Duplicated
    pairs are dropped, and so are test pairs that also appear in :obj:`train.txt`. Parsing is
    vectorised (about a second for the 1M interactions of Gowalla) and the parsed files of the
    last two folders stay in memory (keyed by path, size and modification time), so loading
    other subsets of the same folder is fast.

    With :obj:`max_users`, a deterministic subset is returned: :obj:`max_users` users (the
    seeded random choice for :obj:`subset="random"`, users :obj:`0..max_users-1` for
    :obj:`subset="first"`), the items they interact with in :obj:`train.txt`, their training
    interactions and their test interactions with those items (test pairs with other items are
    dropped). Users and items are re-indexed contiguously in increasing order of their original
    ids, which are kept in :obj:`data['user'].n_id` and :obj:`data['item'].n_id`.

    A user subset alone is much sparser than the full data (a random 10% of the users keeps
    most items, each with a tenth of its interactions). :obj:`min_interactions` :math:`= k`
    restores the density: after the user subset (if any) is drawn, the training interactions
    are reduced to their iterative :math:`k`-core (:func:`k_core`), so every kept user and
    every kept item has at least :math:`k` training interactions; users and items left
    without any are dropped, and the test interactions are restricted to the kept users and
    items. For example, on the LightGCN Gowalla split (29,858 users, 40,981 items, 810,128
    training interactions: 27.1 per user, 19.8 per item), :obj:`max_users=10000,
    min_interactions=10` (seed 0) keeps 2,600 users and 2,972 items with 65,551 training and
    15,257 test interactions (25.2 per user, 22.1 per item). :func:`subset_stats` prints such a
    summary.

    Args:
        root (str or Path): Folder holding :obj:`train.txt` and :obj:`test.txt`.
        max_users (int, optional): Size of the user subset; :obj:`None` loads all users.
            (default: :obj:`None`)
        seed (int, optional): Seed of the random user subset. (default: :obj:`0`)
        subset (str, optional): :obj:`"random"` or :obj:`"first"`. (default: :obj:`"random"`)
        min_interactions (int, optional): The :math:`k` of the training :math:`k`-core
            (:obj:`>= 1`); :obj:`None` applies no core filter. (default: :obj:`None`)

    Returns:
        :class:`~torch_geometric.data.HeteroData` following the module's convention.

    Raises:
        ValueError: For a non-positive :obj:`max_users` or :obj:`min_interactions`, an unknown
            :obj:`subset`, or an empty :math:`k`-core.
    """
    if max_users is not None and int(max_users) <= 0:
        raise ValueError(f'max_users must be positive, got {max_users}')
    if subset not in ('random', 'first'):
        raise ValueError(f"subset must be 'random' or 'first', got '{subset}'")
    if min_interactions is not None and int(min_interactions) < 1:
        raise ValueError(f'min_interactions must be a positive integer, got '
                         f'{min_interactions}')
    root = Path(root).expanduser()
    train_file, test_file = _lightgcn_files(root)
    tr_u, tr_i, tr_lines = _read(train_file)
    te_u, te_i, te_lines = _read(test_file)
    num_users = int(max(a.max(initial=-1) for a in (tr_lines, te_lines))) + 1
    num_items = int(max(a.max(initial=-1) for a in (tr_i, te_i))) + 1
    train = torch.from_numpy(np.stack([tr_u, tr_i]))
    test = torch.from_numpy(np.stack([te_u, te_i]))

    all_users = max_users is None or int(max_users) >= num_users
    if all_users and min_interactions is None:
        return build_bipartite(train, test, num_users, num_items)
    if all_users:
        users = torch.arange(num_users)
    elif subset == 'first':
        users = torch.arange(int(max_users))
    else:
        gen = torch.Generator().manual_seed(int(seed))
        users = torch.randperm(num_users, generator=gen)[:int(max_users)].sort().values
    user_map = torch.full((num_users, ), -1, dtype=torch.long)
    user_map[users] = torch.arange(users.numel())
    train = train[:, user_map[train[0]] >= 0]
    if min_interactions is not None:
        # Duplicated pairs must not count twice towards the core.
        train = _unique_pairs(train, num_items)
        train = train[:, k_core(train, num_users, num_items, int(min_interactions))]
        if train.size(1) == 0:
            raise ValueError(f"the {int(min_interactions)}-core of the training interactions "
                             f"of '{root}' (max_users={max_users}) is empty; lower "
                             'min_interactions or raise max_users')
        users = torch.unique(train[0])
        user_map.fill_(-1)
        user_map[users] = torch.arange(users.numel())
    items = torch.unique(train[1])
    item_map = torch.full((num_items, ), -1, dtype=torch.long)
    item_map[items] = torch.arange(items.numel())
    test = test[:, (user_map[test[0]] >= 0) & (item_map[test[1]] >= 0)]
    train = torch.stack([user_map[train[0]], item_map[train[1]]])
    test = torch.stack([user_map[test[0]], item_map[test[1]]])
    data = build_bipartite(train, test, users.numel(), items.numel())
    data['user'].n_id = users
    data['item'].n_id = items
    return data
