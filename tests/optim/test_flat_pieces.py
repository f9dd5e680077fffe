"""The flat path reads large tensors' gradients where they are: same numbers, .grad untouched."""

from __future__ import annotations

import numpy as np

from mlplab import Tensor
from mlplab import optim as O
from mlplab.optim.flat import CHUNK, SMALL


def test_large_gradients_are_read_in_place_contiguous_or_not() -> None:
    shapes = [(SMALL,), (3,), (CHUNK + 7,), (300, 300), (SMALL - 1,)]
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s) for s in shapes]
    flat = [Tensor(a.copy()) for a in init]
    loop = [Tensor(a.copy()) for a in init]
    opt_flat, opt_loop = O.Adam(flat, lr=0.1), O.Adam(loop, lr=0.1, flat=False)
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
