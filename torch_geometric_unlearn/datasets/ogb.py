r"""OGB node-property-prediction datasets (:obj:`ogbn-arxiv`, :obj:`ogbn-products`) from local
files, through :class:`ogb.nodeproppred.PygNodePropPredDataset`, with its quirks handled:

* torch >= 2.6 loads with :obj:`weights_only=True` by default, which rejects the PyG classes
  in OGB's processed file: they are registered with :func:`torch.serialization.add_safe_globals`;
* OGB asks on stdin whether to "update" a dataset folder without :obj:`RELEASE_v<version>.txt`,
  and downloads when raw files are missing: the raw files are checked here first (a clear
  :class:`FileNotFoundError` otherwise) and the dataset is staged into a cache folder holding
  the release marker, so neither a prompt nor a download can happen.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from torch_geometric_unlearn.datasets._utils import PathLike, cache_root, source_key

#: The OGB node datasets :func:`load_ogb_node` supports.
OGB_NODE_DATASETS = ('ogbn-arxiv', 'ogbn-products')
_INSTALL_HINT = ("OGB datasets need the 'ogb' package: "
                 'pip install torch-geometric-unlearn[ogb]  (or: pip install ogb)')


def _import_ogb():
    try:
        from ogb.nodeproppred import PygNodePropPredDataset
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    return PygNodePropPredDataset


def register_safe_globals() -> None:
    r"""Allows :obj:`torch.load(weights_only=True)` (the default of torch >= 2.6) to read the
    PyG :class:`Data` objects that OGB saves."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads without the allow-list anyway
        return
    from torch_geometric.data.data import Data as _Data
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import (
        BaseStorage,
        EdgeStorage,
        GlobalStorage,
        NodeStorage,
    )
    add([_Data, DataEdgeAttr, DataTensorAttr, BaseStorage, EdgeStorage, GlobalStorage,
         NodeStorage])


def _meta_info(name: str) -> Any:
    import pandas as pd
    import ogb.nodeproppred as onp
    master = pd.read_csv(os.path.join(os.path.dirname(onp.__file__), 'master.csv'), index_col=0,
                         keep_default_na=False)
    return master[name]


def ogb_required_files(meta: Any) -> List[str]:
    r"""Paths (relative to the dataset folder) of the files OGB reads for a homogeneous,
    CSV-stored node dataset described by :obj:`meta` (a column of OGB's :obj:`master.csv`)."""
    raw = ['edge', 'num-node-list', 'num-edge-list', 'node-label']
    if meta['has_node_attr'] == 'True':
        raw.append('node-feat')
    if meta['has_edge_attr'] == 'True':
        raw.append('edge-feat')
    for extra in ('additional node files', 'additional edge files'):
        if meta[extra] != 'None':
            raw += meta[extra].split(',')
    split = [f"split/{meta['split']}/{s}.csv.gz" for s in ('train', 'valid', 'test')]
    return [f'raw/{r}.csv.gz' for r in raw] + split


def _find_dataset_dir(root: Path, dir_name: str) -> Path:
    for cand in (root / dir_name, root / f'{dir_name}_pyg', root):
        if (cand / 'raw').is_dir():
            return cand
    return root / dir_name


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst, target_is_directory=src.is_dir())
    except (OSError, NotImplementedError):  # e.g. Windows without symlink rights
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


def load_ogb_node(name: str, root: PathLike, cache_dir: Optional[PathLike] = None) -> Data:
    r"""Loads an OGB node-classification dataset from its OGB folder layout, never downloading
    and never prompting.

    :obj:`root` holds the folder OGB itself creates (:obj:`ogbn_arxiv/` or
    :obj:`ogbn_products/`, with :obj:`raw/*.csv.gz` and :obj:`split/<split>/*.csv.gz`), or is
    that folder. The raw and split folders are symbolically linked (copied where links are not
    possible) into :obj:`<cache>/ogb/<name>-<hash>/` with OGB's release marker, and OGB writes
    its :obj:`processed/` data there, so :obj:`root` is only read (the first load processes
    the CSV files: seconds for arxiv, minutes for products).

    Args:
        name (str): :obj:`"ogbn-arxiv"` or :obj:`"ogbn-products"`.
        root (str or Path): Folder holding the dataset folder (see above).
        cache_dir (str or Path, optional): Cache folder (default :obj:`$TGU_CACHE` or
            :obj:`~/.cache/torch_geometric_unlearn`). (default: :obj:`None`)

    Returns:
        :class:`~torch_geometric.data.Data` with :obj:`x`, 1-D :obj:`y`, undirected
        :obj:`edge_index` (arxiv's citations in both directions; products is stored
        symmetric by OGB) and :obj:`train_mask`, :obj:`val_mask`, :obj:`test_mask` from
        :meth:`get_idx_split`.

    Raises:
        ImportError: Without the :obj:`ogb` package (with an install hint).
        FileNotFoundError: If files are missing (the message lists them).
        ValueError: For an unsupported name.
    """
    name = str(name).lower()
    if name not in OGB_NODE_DATASETS:
        raise ValueError(f"unsupported OGB node dataset '{name}' (available: "
                         f'{list(OGB_NODE_DATASETS)})')
    PygNodePropPredDataset = _import_ogb()
    meta = _meta_info(name)
    if meta['binary'] == 'True' or meta['is hetero'] == 'True':  # pragma: no cover
        raise ValueError(f"'{name}' is not a homogeneous CSV-stored OGB dataset")
    dir_name = name.replace('-', '_')
    src = _find_dataset_dir(Path(root).expanduser(), dir_name)
    missing = [f for f in ogb_required_files(meta) if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"OGB dataset '{name}' is incomplete in '{src}': missing {missing}. Nothing is "
            f"downloaded: place the extracted '{meta['url']}' there (folder '{dir_name}').")

    # A private folder: links to raw/ and split/, OGB's release marker, processed/ of our own.
    src = src.resolve()
    base = cache_root(cache_dir) / 'ogb' / source_key(name, src)
    dst = base / dir_name
    dst.mkdir(parents=True, exist_ok=True)
    stamp = json.dumps({f: [(src / f).stat().st_size, (src / f).stat().st_mtime_ns]
                        for f in ogb_required_files(meta)}, sort_keys=True)
    stamp_file = dst / 'SOURCE.json'
    fresh = stamp_file.is_file() and stamp_file.read_text() == stamp
    for sub in ('raw', 'split'):
        target = dst / sub
        linked = target.is_symlink() and Path(os.readlink(target)) == src / sub
        if not fresh or not (linked or (target.is_dir() and not target.is_symlink())):
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():  # a stale copy (where links are not possible)
                shutil.rmtree(target)
            _link_or_copy(src / sub, target)
    if not fresh:  # the sources changed since the cached processed/ was written
        shutil.rmtree(dst / 'processed', ignore_errors=True)
        stamp_file.write_text(stamp)
    (dst / f"RELEASE_v{meta['version']}.txt").touch()  # OGB prompts on stdin without it

    register_safe_globals()
    with contextlib.redirect_stdout(sys.stderr):  # OGB prints progress; keep stdout clean
        dataset = PygNodePropPredDataset(name=name, root=str(base))
        data = dataset[0]
        split: Dict[str, torch.Tensor] = dataset.get_idx_split()

    num_nodes = int(data.num_nodes)
    edge_index = data.edge_index.long()
    if meta['add_inverse_edge'] != 'True':  # directed raw edges (arxiv): symmetrise
        edge_index = to_undirected(edge_index, num_nodes=num_nodes)
    out = Data(x=data.x, y=data.y.view(-1).long(), edge_index=edge_index, num_nodes=num_nodes)
    for key, attr in (('train', 'train_mask'), ('valid', 'val_mask'), ('test', 'test_mask')):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[split[key].long()] = True
        out[attr] = mask
    return out
