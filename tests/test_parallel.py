"""mlplab.parallel: cut element-wise work is bit-identical to the single-threaded library."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import threadpoolctl

import mlplab
from mlplab import nn, parallel
from mlplab.optim import SGD, Adam, flat


@pytest.fixture
def small_grain(monkeypatch: pytest.MonkeyPatch):
    """Cut arrays from 128 elements on and the optimizer's flat vector in 256-element pieces,
    so a small network exercises every threaded path; restore the thread count afterwards."""
    monkeypatch.setattr(parallel, "GRAIN", 64)
    monkeypatch.setattr(flat, "CHUNK", 256)
    monkeypatch.setattr(flat, "SMALL", 64)
    before = mlplab.get_num_threads()
    with threadpoolctl.threadpool_limits(1, user_api="blas"):  # restored on exit
        yield
        mlplab.set_num_threads(before)


def pool_only(n: int) -> None:
    """n element-wise threads, BLAS pinned at 1 (its products may round by thread count)."""
    mlplab.set_num_threads(n)
    threadpoolctl.threadpool_limits(1, user_api="blas")


def test_ranges_cover_exactly() -> None:
    for n in (0, 1, 7, 100):
        for k in (1, 2, 3, 8):
            cuts = parallel.ranges(n, k)
            assert len(cuts) == k
            assert [i for a, b in cuts for i in range(a, b)] == list(range(n))


def test_parallel_for_uses_the_pool_and_covers_each_item_once(small_grain) -> None:
    pool_only(3)
    seen = np.zeros(1000, np.int64)
    names: set[str] = set()
    cuts: list[tuple[int, int]] = []

    def work(a: int, b: int) -> None:
        names.add(threading.current_thread().name)
        cuts.append((a, b))
        seen[a:b] += 1
        time.sleep(0.02)  # long enough for the pool's threads to take chunks too

    parallel.parallel_for(work, 1000, grain=100)
    assert (seen == 1).all()
    assert len(cuts) == min(1000 // 100, parallel.CHUNKS_PER_THREAD * 3)  # each ≥ grain
    assert len(names) >= 2 and any(n.startswith("mlplab") for n in names)


def test_parallel_for_does_not_wait_for_a_pool_thread_that_cannot_start(small_grain) -> None:
    """The pool's only thread is held up: the caller takes every chunk itself and returns."""
    pool_only(2)
    gate = threading.Event()
    blocker = parallel._executor().submit(gate.wait)
    seen = np.zeros(1000, np.int64)
    done = threading.Event()

    def call() -> None:
        parallel.parallel_for(lambda a, b: seen.__setitem__(slice(a, b), seen[a:b] + 1), 1000, 10)
        done.set()

    caller = threading.Thread(target=call)
    caller.start()
    try:
        assert done.wait(30), "parallel_for waited for a pool thread that never started"
        assert (seen == 1).all()
    finally:
        gate.set()
        blocker.result(timeout=30)
        caller.join(30)


def test_nested_parallel_for_runs_in_the_caller(small_grain) -> None:
    pool_only(2)
    pairs: list[tuple[str, str]] = []

    def outer(a: int, b: int) -> None:
        me = threading.current_thread().name

        def inner(c: int, d: int) -> None:
            pairs.append((me, threading.current_thread().name))

        parallel.parallel_for(inner, 400)
        time.sleep(0.01)

    parallel.parallel_for(outer, 400)
    # each outer chunk ran its inner loop whole (one call), in its own thread
    assert len(pairs) == min(400 // parallel.GRAIN, parallel.CHUNKS_PER_THREAD * 2)
    assert all(a == b for a, b in pairs)


def test_an_error_in_a_worker_is_raised(small_grain) -> None:
    pool_only(2)

    def work(a: int, b: int) -> None:
        if a > 0:
            raise ValueError(f"bad range {a}")

    with pytest.raises(ValueError, match="bad range"):
        parallel.parallel_for(work, 1000, grain=10)


@pytest.mark.parametrize(
    ("f", "b"), [(np.maximum, 0), (np.multiply, "array"), (np.not_equal, 0.0), (np.sqrt, None)]
)
def test_ufunc_is_bit_identical(small_grain, f, b) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 29)).astype(np.float32)
    if f is np.sqrt:
        a = np.abs(a)
    other = rng.standard_normal(a.shape).astype(np.float32) if b == "array" else b
    want = f(a) if other is None else f(a, other)
    pool_only(3)
    got = parallel.ufunc(f, a, other)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))  # bits, signed zeros too


def _train(threads: int, opt: str, steps: int = 30) -> list[np.ndarray]:
    pool_only(threads)
    rng = np.random.default_rng(1)
    model = nn.MLP(20, 10, width=48, depth=3, rng=0)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9) if opt == "sgd" else None
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    x = mlplab.Tensor(rng.standard_normal((32, 20)).astype(np.float32))
    y = rng.integers(0, 10, 32)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_training_is_bit_identical_with_threads(small_grain, monkeypatch, opt) -> None:
    workers: list[str] = []
    take = parallel._Job._take

    def spy(job, pooled):
        cut = take(job, pooled)
        if cut is not None:
            workers.append(threading.current_thread().name)
            if not pooled:
                time.sleep(0.0002)  # the chunks are tiny: give the pool's threads a moment
        return cut

    monkeypatch.setattr(parallel._Job, "_take", spy)
    one = _train(1, opt)
    assert workers == []  # one thread: nothing is cut
    three = _train(3, opt)
    assert any(name.startswith("mlplab") for name in workers)  # the pool did take part
    for a, b in zip(one, three, strict=True):
        assert np.array_equal(a, b)


def test_set_num_threads_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        mlplab.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an integer, got 2.5"):
        mlplab.set_num_threads(2.5)  # type: ignore[arg-type]


def test_set_num_threads_sets_the_blas_too() -> None:
    before = mlplab.get_num_threads()
    with threadpoolctl.threadpool_limits(None):
        mlplab.set_num_threads(1)
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
        assert mlplab.get_num_threads() == 1
    mlplab.set_num_threads(before)


def test_pick_num_threads_returns_a_candidate_and_restores_the_count() -> None:
    before = mlplab.get_num_threads()
    with threadpoolctl.threadpool_limits(None):
        assert parallel.pick_num_threads(32, 64, candidates=(1, 2)) in (1, 2)
        assert parallel.pick_num_threads(32, 64, candidates=(1,)) == 1
    assert mlplab.get_num_threads() == before


def test_cli_threads_flag_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from mlplab import cli

    before = mlplab.get_num_threads()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    picked: list[tuple[int, int]] = []
    monkeypatch.setattr(parallel, "threads_for_layer", lambda b, w: picked.append((b, w)) or 3)
    with threadpoolctl.threadpool_limits(None):
        cli._set_threads(argparse.Namespace(command="train", threads=2))
        assert mlplab.get_num_threads() == 2 and picked == []  # --threads overrides
        cli._set_threads(argparse.Namespace(command="train", threads=None, batch_size=32))
        assert mlplab.get_num_threads() == 3 and picked == [(32, 256)]  # by the layer's size
        cli._set_threads(argparse.Namespace(command="experiment", threads=None))
        assert mlplab.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        cli._set_threads(argparse.Namespace(command="train", threads=None))
        assert mlplab.get_num_threads() == 1  # the environment's choice: left alone
    mlplab.set_num_threads(before)


def test_threads_for_layer_is_a_fixed_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_default_num_threads", lambda: 4)
    assert parallel.threads_for_layer(128, 100) == 1  # 1.3 M: a second thread waits
    assert parallel.threads_for_layer(128, 1024) == 4  # 134 M
    assert parallel.threads_for_layer(64, 512) == 4  # exactly 2**24
