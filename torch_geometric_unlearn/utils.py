"""Small shared utilities: timing and peak-memory measurement."""
from __future__ import annotations

import os
import threading
import time
from typing import Optional

import torch

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
