r"""Shared helpers of the dataset loaders: cache folders, raw-file staging, data locations.

PyG's :class:`~torch_geometric.data.InMemoryDataset` writes a :obj:`processed/` folder next to
:obj:`raw/`. Loaders here therefore never process a dataset where the user keeps it: the raw
files are staged (copied or linked) into a private cache folder keyed by the dataset name and a
hash of the source path, and PyG reads and writes there only.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Union

PathLike = Union[str, os.PathLike]

#: Environment variable overriding the cache folder (default ``~/.cache/torch_geometric_unlearn``).
CACHE_ENV = 'TGU_CACHE'
#: Environment variable overriding the shared data folder (default ``<repo>/../shared/data``).
SHARED_DATA_ENV = 'TGU_SHARED_DATA'

_FINGERPRINT = 'SOURCE.json'


@contextlib.contextmanager
def cache_lock(folder: PathLike) -> Iterator[None]:
    r"""Holds an exclusive inter-process lock on :obj:`folder` (a :obj:`.lock` file in it)
    while raw files are staged and PyG processes them: two processes sharing a cache (parallel
    test workers, several examples at once) would otherwise read a half-written
    :obj:`processed/` file. Without :mod:`fcntl` (Windows) no lock is taken."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / '.lock', 'a+') as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def cache_root(cache_dir: Optional[PathLike] = None) -> Path:
    r"""The cache folder: :obj:`cache_dir`, else :obj:`$TGU_CACHE`, else
    :obj:`~/.cache/torch_geometric_unlearn`."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / '.cache' / 'torch_geometric_unlearn'


def shared_data_dir() -> Path:
    r"""The development data folder: :obj:`$TGU_SHARED_DATA`, else :obj:`../shared/data` next to
    the repository checkout (absent for installed packages)."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / 'shared' / 'data'


def source_key(name: str, source: PathLike) -> str:
    r"""Cache sub-folder name: :obj:`name` plus a short hash of the resolved source path."""
    digest = hashlib.sha1(str(Path(source).resolve()).encode()).hexdigest()[:12]
    return f'{name}-{digest}'


def missing_files(folder: Path, names: Iterable[str]) -> List[str]:
    r"""The entries of :obj:`names` that are not regular files in :obj:`folder`."""
    return [n for n in names if not (folder / n).is_file()]


def _fingerprint(src: Path, names: Sequence[str]) -> Dict[str, List[int]]:
    out = {}
    for n in names:
        st = (src / n).stat()
        out[n] = [st.st_size, st.st_mtime_ns]
    return out


def stage_files(src: Path, dst: Path, names: Sequence[str],
                rename: Optional[Dict[str, str]] = None,
                stale: Sequence[Path] = ()) -> None:
    r"""Copies :obj:`names` from :obj:`src` into the folder :obj:`dst` unless an identical
    copy (same sizes and modification times of the sources) is already there.

    The copy goes to a temporary sibling folder that is renamed into place, so concurrent
    loaders never see a half-copied folder. When the sources changed, the old copy and the
    :obj:`stale` paths (e.g. PyG's :obj:`processed/` folder) are removed first.

    Args:
        src (Path): Folder holding the source files (only read).
        dst (Path): Destination folder.
        names (Sequence[str]): File names to copy.
        rename (Dict[str, str], optional): Destination names of some files. (default: :obj:`None`)
        stale (Sequence[Path], optional): Paths derived from an earlier copy, deleted when the
            sources changed. (default: :obj:`()`)
    """
    rename = rename or {}
    want = _fingerprint(src, names)
    want['__dest__'] = sorted(rename.get(n, n) for n in names)  # type: ignore[assignment]
    stamp = dst / _FINGERPRINT
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == want:
                return
        except (OSError, ValueError):
            pass
    for path in [dst, *stale]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f'.{dst.name}.tmp-{uuid.uuid4().hex[:8]}'
    tmp.mkdir()
    try:
        for n in names:
            shutil.copyfile(src / n, tmp / rename.get(n, n))
        (tmp / _FINGERPRINT).write_text(json.dumps(want))
        try:
            os.replace(tmp, dst)
        except OSError:  # another process won the race: its copy is as good as ours
            if not (dst / _FINGERPRINT).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
