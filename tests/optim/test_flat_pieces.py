"""The flat path reads large tensors' gradients where they are: same numbers, .grad untouched."""

from __future__ import annotations

import types

import numpy as np
import pytest

from mlplab import Tensor
from mlplab import optim as O
from mlplab.optim import flat as flat_module
from mlplab.optim.optimizer import Optimizer

# The cut this file's layouts were drawn for (a 300×300 tensor across a piece edge), whatever
# the library's tuned sizes are.
CHUNK, SMALL = 1 << 16, 1 << 15


@pytest.fixture(autouse=True)
def _cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat_module, "CHUNK", CHUNK)
    monkeypatch.setattr(flat_module, "SMALL", SMALL)


@pytest.mark.parametrize("make", [O.Adam, lambda ps, **kw: O.SGD(ps, momentum=0.9, **kw)])
def test_large_gradients_are_read_in_place_contiguous_or_not(make) -> None:
    shapes = [(SMALL,), (3,), (CHUNK + 7,), (300, 300), (SMALL - 1,)]
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s) for s in shapes]
    flat = [Tensor(a.copy()) for a in init]
    loop = [Tensor(a.copy()) for a in init]
    opt_flat, opt_loop = make(flat, lr=0.1), make(loop, lr=0.1, flat=False)
    for step in range(3):
        grads = [rng.normal(size=s) for s in shapes]
        grads[3] = np.ascontiguousarray(grads[3].T).T  # a non-contiguous gradient is copied
        for ps in (flat, loop):
            for p, g in zip(ps, grads, strict=True):
                p.grad = Tensor(g.copy() if step % 2 else g)
        held = [p.grad.data.copy() for p in flat]
        opt_flat.step()
        opt_loop.step()
        for p, g in zip(flat, held, strict=True):
            np.testing.assert_array_equal(p.grad.data, g)
    for a, b in zip(flat, loop, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    fg = opt_flat._flat_groups[0]
    assert [b - a for a, b, _ in fg.pieces] == [SMALL, CHUNK, 7, CHUNK, 90000 - CHUNK, SMALL + 2]


@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_sgd_adding_gradients_where_they_lie_equals_the_gathered_path(grad_dtype) -> None:
    """Plain momentum adds each gradient into its part of the buffer; a float64 gradient of a
    float32 parameter is rounded first there too (the gathered path), never added in float64."""
    shapes = [(SMALL + 5,), (40, 30), (60, 50), (7,)]  # large, tiny, small, tiny
    rng = np.random.default_rng(1)
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    fused = [Tensor(a.copy()) for a in init]
    gathered = [Tensor(a.copy()) for a in init]
    opt_fused = O.SGD(fused, lr=0.1, momentum=0.9)
    opt_gathered = O.SGD(gathered, lr=0.1, momentum=0.9)
    opt_gathered._step_flat = types.MethodType(Optimizer._step_flat, opt_gathered)
    for _ in range(4):
        grads = [rng.normal(size=s).astype(grad_dtype) for s in shapes]
        for ps in (fused, gathered):
            for p, g in zip(ps, grads, strict=True):
                p.grad = Tensor(g)
        opt_fused.step()
        opt_gathered.step()
    for a, b in zip(fused, gathered, strict=True):
        assert a.data.dtype == np.float32
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("tiny", [1 << 4, 1 << 11, 1 << 20])  # below, between and above SMALL
def test_layout_places_every_tensor_once_whatever_the_sizes(monkeypatch, tiny) -> None:
    monkeypatch.setattr(flat_module, "TINY", tiny)
    sizes = [SMALL + 1, 5, 3000, 20, SMALL - 1, 1]
    fg = flat_module.FlatGroup([Tensor(np.zeros(k)) for k in sizes], {"m": 0.0})
    assert fg.param.size == sum(sizes)
    spans = sorted(fg.spans)
    assert spans[0][0] == 0 and spans[-1][1] == sum(sizes)
    assert all(b == c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))
    assert [b - a for a, b in fg.spans] == sizes
