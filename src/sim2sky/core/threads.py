"""Thread limits for torch and BLAS.

Why this matters here: sim2sky's networks are small, so multi-threaded BLAS on their tiny
matrix products only spins (a 200x100 product took 2.5 ms instead of 60 us when the other core
was busy), and dask supplies the parallelism in cube runs. BLAS limits are process-wide, so a
per-block context would race between worker threads: inside dask tasks use
:func:`pin_threads` (set, never restored); around single-threaded work use
:func:`limit_threads` (restored on exit).
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["limit_threads", "pin_threads", "available_cores", "resolve_jobs"]


@contextlib.contextmanager
def limit_threads(n: int | None = 1, blas: int | str | None = "same"):
    """Limit torch intra-op threads to ``n`` inside the block, and BLAS threads to ``blas``:
    ``"same"`` (``n``), a number, or None (left alone). ``n=None`` leaves both alone.

    Torch loops pass ``blas=1``: numpy's small products between batches (a classifier's
    distances) otherwise wake OpenBLAS's second thread, which keeps spinning on the core torch
    needs. Measured on the 2-core CI machine: the shipped spectra classifier on 40,001 spectra
    took 2.1-3.2 s with 2 BLAS threads and 0.80 s with 1 (the same probabilities).
    """
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        if blas is None:
            yield
        else:
            with (threadpool_limits(limits=n) if blas == "same" else threadpool_limits(int(blas), user_api="blas")):
                yield
    finally:
        torch.set_num_threads(old)


def pin_threads(n: int = 1) -> None:
    """Set torch and BLAS to ``n`` threads for the rest of this process (dask workers)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                      # macOS, Windows
        return os.cpu_count() or 1


def resolve_jobs(n_jobs: int) -> int:
    """``n_jobs`` processes, where 0 or less means every available core."""
    return int(n_jobs) if n_jobs > 0 else available_cores()
