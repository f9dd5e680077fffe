"""Threads for large element-wise work, and one knob for them and for the BLAS.

NumPy's ufuncs release the GIL while they loop over large arrays, so k threads that each run the
same ufunc on contiguous chunks of the arrays run at the same time. An element-wise
operation computes every output element from the inputs at the same index alone, so

    f(a)[s:e] = f(a[s:e])   for every cut s < e,

and a cut computation is *bit-identical* to one call on the whole arrays, whatever the number of
threads. Reductions (sums, norms, matrix products) are not cut here: a different cut would add
in a different order. Matrix products are the BLAS's own business; :func:`set_num_threads` sets
its thread count together with this pool's.

A hand-off to another thread costs some 10–30 µs, about what one float32 ufunc pass takes on
64 K elements, so work is cut only where every thread gets at least :data:`GRAIN` elements; below
that everything runs in the calling thread as before. With a multi-threaded BLAS the other
cores are rarely free: OpenBLAS's workers spin-wait about 0.1 s after every product, so a pool
thread must take a core from one of them. On 2 cores (AMD EPYC, OpenBLAS 0.3.31, all in one
process, alternating) cutting from 64 K elements per thread made the 784-1024-1024-10 step
6–14% slower, from 128 K it was even, and on the 4096-wide net it gained up to 7%. The chunks
are taken one at a time by whichever thread is free (:func:`parallel_for`), so a pool thread
that cannot get a core right away delays nothing: the caller takes its chunks.

Examples:
    >>> import numpy as np
    >>> import mlplab
    >>> mlplab.set_num_threads(2)
    >>> a = np.linspace(-1.0, 1.0, 300_000)
    >>> bool((ufunc(np.maximum, a, 0.0) == np.maximum(a, 0.0)).all())
    True
    >>> mlplab.set_num_threads(1)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "GRAIN", "CHUNKS_PER_THREAD", "get_num_threads", "set_num_threads", "threads_for_layer",
    "pick_num_threads", "worth_cutting", "parallel_for", "ufunc", "ranges",
]  # fmt: skip

#: fewest elements per thread worth a hand-off (below it a cut costs more than it saves)
GRAIN = 1 << 17

_num_threads: int | None = None
_pool: Any = None
_local = threading.local()


def _default_num_threads() -> int:
    """The cores this process may run on, or ``OMP_NUM_THREADS`` when set (as PyTorch does)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Return the number of threads mlplab's element-wise work may use.

    Examples:
        >>> import mlplab
        >>> mlplab.get_num_threads() >= 1
        True
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for large element-wise work and for the BLAS (through threadpoolctl).

    One knob for both, as ``torch.set_num_threads``: ``n = 1`` is exactly the single-threaded
    library; any ``n`` gives bit-identical element-wise results.

    Args:
        n: the thread count, at least 1.

    Raises:
        TypeError: if ``n`` is not an integer.
        ValueError: if ``n`` < 1.

    Examples:
        >>> import mlplab
        >>> mlplab.set_num_threads(1)
        >>> mlplab.get_num_threads()
        1
    """
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    n = int(n)
    if _pool is not None and n != _num_threads:
        _pool.shutdown(wait=True)
        _pool = None
    _num_threads = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the BLAS then keeps its own count
        return
    threadpool_limits(limits=n, user_api="blas")


def worth_cutting(size: int) -> bool:
    """Tell whether element-wise work on ``size`` elements is cut across threads.

    Examples:
        >>> set_num_threads(1)
        >>> worth_cutting(10**8)
        False
    """
    return size >= 2 * GRAIN and (_num_threads or get_num_threads()) > 1


#: a layer's batch·width² from which all cores pay (128×100×100 does not, 128×1024×1024 does)
ALL_CORES_FROM = 1 << 24


def threads_for_layer(batch: int, width: int) -> int:
    """Return the thread count for training a net of this size: 1, or all cores from
    batch·width² ≥ :data:`ALL_CORES_FROM` on.

    A fixed rule, not a timing: OpenBLAS rounds a product differently with a different thread
    count, so a run must get the same count every time (a resumed run stays bit-identical to an
    uninterrupted one). The bound comes from :func:`pick_num_threads` on 2 cores.

    Examples:
        >>> threads_for_layer(64, 256)
        1
    """
    return _default_num_threads() if batch * width * width >= ALL_CORES_FROM else 1


def pick_num_threads(batch: int, width: int, candidates: tuple[int, ...] | None = None) -> int:
    """Measure which thread count runs a layer of this size fastest, and return it.

    Times, at each candidate count, the work of one hidden layer's training step on a
    (batch, width) activation: the three products ``Z W``, ``Zᵀ G`` and ``G Wᵀ`` and a relu
    pass, best of three (some 50 ms at most). More threads must win by 10% to be chosen:
    on small matrices a second BLAS thread mostly waits. The thread count is left as it was.

    Args:
        batch: the minibatch size m.
        width: the hidden width n (the layer is n → n).
        candidates: the counts to try; default 1 and :func:`get_num_threads`'s default.

    Returns:
        The chosen thread count.

    Examples:
        >>> pick_num_threads(8, 16, candidates=(1,))
        1
    """
    import time

    before = get_num_threads()
    if candidates is None:
        candidates = tuple(sorted({1, _default_num_threads()}))
    # Beyond 128 × 512 the products are large enough for any BLAS to share out; measuring
    # at full size would cost seconds.
    batch, width = min(batch, 128), min(width, 512)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, width), dtype=np.float32)
    w = rng.standard_normal((width, width), dtype=np.float32)
    best, best_time = 1, float("inf")
    try:
        for n in sorted(candidates):
            set_num_threads(n)
            times = []
            for _ in range(4):
                start = time.perf_counter()
                h = ufunc(np.maximum, z @ w, 0)
                _ = z.T @ h
                _ = h @ w.T
                times.append(time.perf_counter() - start)
            t = min(times[1:])
            if t < 0.9 * best_time:
                best, best_time = n, t
    finally:
        set_num_threads(before)
    return best


def _executor() -> Any:
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="mlplab")
    return _pool


def ranges(n: int, k: int) -> list[tuple[int, int]]:
    """Cut ``range(n)`` into ``k`` contiguous ranges whose lengths differ by at most one.

    Examples:
        >>> ranges(10, 3)
        [(0, 4), (4, 7), (7, 10)]
    """
    q, r = divmod(n, k)
    bounds = [i * q + min(i, r) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


#: chunks per thread of a :func:`parallel_for`: claimed one by one, so a thread that starts late
#: (its core busy, e.g. with a BLAS thread spin-waiting after a product) takes fewer
CHUNKS_PER_THREAD = 4


def parallel_for(fn: Callable[[int, int], Any], n: int, grain: int | None = None) -> None:
    """Run ``fn(start, stop)`` over ``range(n)`` cut into contiguous chunks, on several threads.

    Only where at least two threads get ``grain`` items each; then ``range(n)`` is cut into
    up to :data:`CHUNKS_PER_THREAD` chunks per thread, each of at least ``grain`` items, and
    the calling thread and the pool's take them one at a time until none is left (dynamic
    scheduling). The caller never waits for a
    pool thread to *start*, only for the chunks one has taken to finish: when the pool cannot
    get a core (OpenBLAS's worker spins some 0.1 s on it after every product, or another
    process holds it), the caller does the work itself, at about the single-threaded cost.
    Called from inside a chunk (nested), everything runs in the caller.

    Args:
        fn: the work on items ``start..stop-1``; it must touch only those items' memory.
        n: the number of items.
        grain: the fewest items worth a thread (:data:`GRAIN` if None).

    Raises:
        Exception: the first exception any chunk raised, after every chunk taken has finished.

    Examples:
        >>> out = [0] * 6
        >>> def square(a, b):
        ...     out[a:b] = [i * i for i in range(a, b)]
        >>> parallel_for(square, 6, grain=2); out
        [0, 1, 4, 9, 16, 25]
    """
    most = n // max(GRAIN if grain is None else grain, 1)  # chunks of at least grain items
    k = min(get_num_threads(), most)
    if k <= 1 or getattr(_local, "inside", False):
        fn(0, n)
        return
    job = _Job(fn, ranges(n, min(most, CHUNKS_PER_THREAD * k)))
    pool = _executor()
    for _ in range(k - 1):
        pool.submit(job.run, True)
    job.run(False)
    job.wait()
    if job.error is not None:
        raise job.error


class _Job:
    """The chunks of one :func:`parallel_for`, taken one at a time by whichever thread is free.

    ``pending`` counts the chunks pool threads have taken and not finished; the caller waits
    for it to reach zero. Taking a chunk and counting it happen under one lock, so the caller
    cannot see zero while a pool thread holds a chunk.
    """

    __slots__ = ("fn", "cuts", "next", "pending", "error", "lock", "idle")

    def __init__(self, fn: Callable[[int, int], Any], cuts: list[tuple[int, int]]) -> None:
        self.fn, self.cuts = fn, cuts
        self.next = self.pending = 0
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)

    def _take(self, pooled: bool) -> tuple[int, int] | None:
        with self.lock:
            if self.next >= len(self.cuts):
                return None
            self.next += 1
            self.pending += pooled
            return self.cuts[self.next - 1]

    def run(self, pooled: bool) -> None:
        """Take and run chunks until none is left (after an error, take them and skip them)."""
        _local.inside = True
        try:
            while (cut := self._take(pooled)) is not None:
                try:
                    if self.error is None:
                        self.fn(*cut)
                except BaseException as error:  # raised in the caller by parallel_for
                    self.error = self.error or error
                finally:
                    if pooled:
                        with self.lock:
                            self.pending -= 1
                            if not self.pending:
                                self.idle.notify_all()
        finally:
            _local.inside = False

    def wait(self) -> None:
        """Return once no pool thread holds a chunk of this job."""
        with self.lock:
            while self.pending:
                self.idle.wait()


def ufunc(f: np.ufunc, a: Any, b: Any = None, out: Any = None) -> Any:
    """Return ``f(a)`` or ``f(a, b)`` (into ``out`` if given), cut across threads when it pays.

    The cut needs C-contiguous NumPy arrays of one shape (``b`` may be a Python scalar); anything
    else, or a single thread, is one plain call. The result is bit-identical either way.

    Examples:
        >>> import numpy as np
        >>> ufunc(np.multiply, np.arange(3.0), 2.0)
        array([0., 2., 4.])
    """
    if not worth_cutting(a.size) or not _cuttable(a, a.shape):
        return f(a) if b is None else f(a, b, out=out)
    scalar = b is None or not isinstance(b, np.ndarray)
    if not scalar and not _cuttable(b, a.shape):
        return f(a, b, out=out)
    fa = a.reshape(-1)
    fb = b if scalar else b.reshape(-1)
    if out is None:
        probe = f(fa[:1]) if b is None else f(fa[:1], fb if scalar else fb[:1])
        out = np.empty(a.shape, probe.dtype)  # the dtype NumPy's own call would give
    elif not _cuttable(out, a.shape):
        return f(a) if b is None else f(a, b, out=out)
    fo = out.reshape(-1)

    def run(s: int, e: int) -> None:
        if b is None:
            f(fa[s:e], out=fo[s:e])
        elif scalar:
            f(fa[s:e], b, out=fo[s:e])
        else:
            f(fa[s:e], fb[s:e], out=fo[s:e])

    parallel_for(run, fa.size)
    return out


def _cuttable(x: Any, shape: tuple[int, ...]) -> bool:
    return isinstance(x, np.ndarray) and x.shape == shape and x.flags.c_contiguous
