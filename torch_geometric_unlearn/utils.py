"""Small shared utilities: timing, peak-memory measurement, progress bars and a model-mode
context."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Iterable, Iterator, Optional, TypeVar

import torch

T = TypeVar('T')

#: Progress bars on long loops (training epochs, shard retraining): off unless the environment
#: variable ``TGU_PROGRESS`` is ``1``/``true``/``yes`` or :func:`set_progress` turned them on.
_PROGRESS: Optional[bool] = None


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    r"""Puts :obj:`model` in evaluation mode (no dropout, frozen batch statistics) for the
    block and restores its previous training flag afterwards, also on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def set_progress(enabled: Optional[bool]) -> None:
    r"""Turns :mod:`tqdm` progress bars on the package's long loops on or off for this process
    (:obj:`None` goes back to the ``TGU_PROGRESS`` environment variable). ``TGU_PROGRESS=0``
    silences every bar, also bars asked for explicitly with :obj:`progress(..., enabled=True)`.
    """
    global _PROGRESS
    _PROGRESS = enabled


def progress_enabled(enabled: Optional[bool] = None) -> bool:
    r"""Whether a progress bar is shown: ``TGU_PROGRESS=0`` always wins; otherwise
    :obj:`enabled` if given, else :func:`set_progress`'s setting, else ``TGU_PROGRESS``."""
    env = os.environ.get('TGU_PROGRESS', '').strip().lower()
    if env in ('0', 'false', 'no', 'off'):
        return False
    if enabled is not None:
        return bool(enabled)
    if _PROGRESS is not None:
        return _PROGRESS
    return env in ('1', 'true', 'yes', 'on')


def progress(iterable: Iterable[T], desc: Optional[str] = None, total: Optional[int] = None,
             enabled: Optional[bool] = None) -> Iterable[T]:
    r"""Wraps :obj:`iterable` in a :class:`tqdm.tqdm` bar (on stderr, removed when done) when
    :func:`progress_enabled` says so; otherwise returns :obj:`iterable` itself (no overhead).

    Args:
        iterable (Iterable): The loop to report on.
        desc (str, optional): Label of the bar. (default: :obj:`None`)
        total (int, optional): Number of iterations (default: :obj:`len(iterable)` when known).
        enabled (bool, optional): Force on or off (``TGU_PROGRESS=0`` still silences it).
            (default: :obj:`None`, the process-wide setting)
    """
    if not progress_enabled(enabled):
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)


_PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def _rss_bytes() -> int:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: fall back to the lifetime peak
        import resource
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class PeakMemory:
    r"""Context manager measuring peak memory above the level at entry.

    On CUDA it uses the allocator's peak statistics; on CPU it samples the resident set size
    every :obj:`interval` seconds in a background thread (allocations shorter than the interval
    can be missed; the figure is an estimate, good for comparing methods in one run).

    Args:
        device (torch.device or str, optional): Device to measure. (default: :obj:`"cpu"`)
        interval (float, optional): CPU sampling interval in seconds. (default: :obj:`0.002`)
    """

    def __init__(self, device: Optional[torch.device | str] = None, interval: float = 0.002):
        self.device = torch.device(device or 'cpu')
        self.interval = interval
        self.peak_bytes = 0
        self.seconds = 0.0

    def __enter__(self) -> 'PeakMemory':
        self._t0 = time.perf_counter()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        self._base = _rss_bytes()
        self._peak = self._base
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.is_set():
                self._peak = max(self._peak, _rss_bytes())
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device) - self._base)
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes())
            self.peak_bytes = int(max(self._peak - self._base, 0))
        self.seconds = time.perf_counter() - self._t0
