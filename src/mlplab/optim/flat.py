"""The flat fast path: one contiguous buffer for a group's parameters, gradients and state.

A step of an element-wise optimizer is the same arithmetic on every number, so it can run on one
long vector instead of tensor by tensor (tinygrad's "fused" optimizer, PyTorch's ``foreach``).
:class:`FlatGroup` copies the parameters of one param group into a contiguous buffer and re-points
each ``p.data`` to a view of it, so the model keeps computing with the very same numbers while the
optimizer updates all of them with a handful of vectorized operations. The optimizer state
(moments, momentum buffers) lives in flat buffers of the same layout, and each parameter's state
is a view into them, so the per-tensor path and the flat path read and write the same memory.

The flat vectors are handed to the kernels in pieces of at most :data:`CHUNK` elements: a
kernel makes several passes over its arrays, and on one long vector each pass would stream the
whole parameter set through memory, while a piece of every array stays in the CPU cache across
the passes; but every piece costs a Python call per pass (Adam makes a dozen), so pieces must not
be small: 16 K-element pieces made the 50-layer Adam step's update 30% slower than 64 K ones on a
2-core AMD EPYC (the 100×100 tensors each made a piece of its own). A tensor of at least
:data:`SMALL` elements is split into pieces of its own; the smaller ones sit together at the end
of the buffer and are merged. The arithmetic is the same element by element, whatever the cut.

Gradients arrive as separate arrays from backward. Those of the large tensors are read where
they are (a piece of the flat vector pairs with the same piece of that tensor's gradient), so a
step copies no gradient of any size; only the small tensors' gradients are copied into the flat
gradient buffer (:meth:`FlatGroup.grad_pieces`). After ``zero_grad(set_to_none=False)`` each
``p.grad`` *is* a view of that buffer (:meth:`FlatGroup.point_grads`) and nothing is copied.

If someone replaces ``p.data`` by a new array (loading weights, say), :meth:`FlatGroup.sync_params`
notices (an identity check per tensor) and copies the new values into the buffer before the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["FlatGroup", "can_flatten", "CHUNK", "SMALL"]

#: elements per kernel call on the flat path: the pieces of the arrays of a kernel stay in the
#: L2/L3 cache across its passes, and the per-call overhead (~1-2 µs a ufunc) is paid on 256 KB
CHUNK = 1 << 16

#: tensors with fewer elements share kernel calls (their gradients are gathered into the buffer):
#: a 100×100 layer's 10 K weights cost one copy pass, not a dozen kernel calls of their own
SMALL = 1 << 15


def can_flatten(params: Sequence[Tensor]) -> bool:
    """Tell whether ``params`` can share one flat buffer: NumPy arrays of one floating dtype.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> can_flatten([Tensor(np.zeros(2)), Tensor(np.zeros((2, 3)))])
        True
        >>> can_flatten([Tensor(np.zeros(2)), Tensor(np.zeros(2, dtype=np.float32))])
        False
    """
    if not params:
        return False
    dtype = params[0].data.dtype
    return all(isinstance(p.data, np.ndarray) and p.data.dtype == dtype for p in params) and (
        dtype.kind == "f"
    )


class FlatGroup:
    """Parameters, gradients and optimizer state of one param group as flat buffers.

    Args:
        params: the group's parameters (one floating dtype, see :func:`can_flatten`). Their
            ``.data`` is copied into :attr:`param` and re-pointed to views of it.
        state_fill: name -> initial value of each per-element state buffer to allocate.

    Attributes:
        param: the flat parameter vector, shape ``(n,)``.
        grad: the flat gradient vector, shape ``(n,)``.
        state: name -> flat state vector, shape ``(n,)``.
        work: scratch space ``(2, n)`` for the kernels (never part of the saved state).

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> w, b = Tensor(np.ones((2, 2))), Tensor(np.zeros(2))
        >>> fg = FlatGroup([w, b], {})
        >>> fg.param.shape, np.shares_memory(w.data, fg.param)
        ((6,), True)
    """

    def __init__(self, params: Sequence[Tensor], state_fill: dict[str, float]) -> None:
        self.params = list(params)
        dtype = self.params[0].data.dtype
        self.shapes = [p.data.shape for p in self.params]
        sizes = [p.data.size for p in self.params]
        # Large tensors first, in order, then the small ones together (merged into pieces).
        layout = [i for i, n in enumerate(sizes) if n >= SMALL]
        layout += [i for i, n in enumerate(sizes) if n < SMALL]
        self.spans: list[tuple[int, int]] = [(0, 0)] * len(sizes)
        n = 0
        for i in layout:
            self.spans[i] = (n, n + sizes[i])
            n += sizes[i]
        self.is_small = [k < SMALL for k in sizes]
        small_start = n - sum(k for k in sizes if k < SMALL)
        #: (start, stop, owner): a kernel call's range; owner is the large tensor it lies in
        self.pieces: list[tuple[int, int, int | None]] = [
            (a, min(a + CHUNK, stop), i)
            for i, (start, stop) in enumerate(self.spans)
            if sizes[i] >= SMALL
            for a in range(start, stop, CHUNK)
        ]
        self.pieces.sort()
        self.pieces += [(a, min(a + CHUNK, n), None) for a in range(small_start, n, CHUNK)]
        self.param = np.empty(n, dtype=dtype)
        self.grad = np.zeros(n, dtype=dtype)
        self.work = np.empty((2, n), dtype=dtype)
        self.state = {name: np.full(n, fill, dtype=dtype) for name, fill in state_fill.items()}
        self.param_views = self.views(self.param)
        self.grad_views = self.views(self.grad)
        for p, view in zip(self.params, self.param_views, strict=True):
            view[...] = p.data
            p.data = view
        # The kernel's pieces of the buffers that stay put, cut once.
        self.param_pieces = self.chunks(self.param)
        self.work_pieces = self.chunks(self.work)
        self.state_pieces = {name: self.chunks(buf) for name, buf in self.state.items()}

    def views(self, flat: Any) -> list[Any]:
        """Split a flat vector into views shaped like the parameters."""
        return [
            flat[a:b].reshape(shape) for (a, b), shape in zip(self.spans, self.shapes, strict=True)
        ]

    def chunks(self, flat: Any) -> list[Any]:
        """Split a flat vector (or the ``(2, n)`` scratch) into the kernel's pieces."""
        return [flat[..., a:b] for a, b, _ in self.pieces]

    def sync_params(self) -> None:
        """Bring back into the buffer any parameter whose ``.data`` was replaced.

        Raises:
            ValueError: if a replaced ``.data`` has a different shape or dtype.
        """
        for p, view in zip(self.params, self.param_views, strict=True):
            if p.data is view:
                continue
            if p.data.shape != view.shape or p.data.dtype != view.dtype:
                raise ValueError(
                    f"optimizer: a parameter's data was replaced by an array of shape "
                    f"{p.data.shape} and dtype {p.data.dtype}, expected shape {view.shape} and "
                    f"dtype {view.dtype}"
                )
            view[...] = p.data
            p.data = view

    def grad_pieces(self) -> list[Any]:
        """Return the gradient in the kernel's pieces, copying only the small tensors' ones.

        A piece of a large tensor is a slice of that tensor's own (contiguous) gradient; a
        gradient that is not contiguous, or not of the buffer's dtype, is copied like the
        small ones.
        """
        flat, views = self.grad, self.grad_views
        direct: list[Any] = [None] * len(self.params)
        for i, (p, view) in enumerate(zip(self.params, views, strict=True)):
            assert p.grad is not None, "grad_pieces needs every gradient"
            g = p.grad.data
            if g is view:
                continue
            if not self.is_small[i] and g.flags.c_contiguous and g.dtype == flat.dtype:
                direct[i] = g.reshape(-1)
            else:
                view[...] = g
        pieces = []
        for a, b, owner in self.pieces:
            g = direct[owner] if owner is not None else None
            if g is None:
                pieces.append(flat[a:b])
            else:
                start = self.spans[owner][0]  # type: ignore[index]
                pieces.append(g[a - start : b - start])
        return pieces

    def point_grads(self) -> None:
        """Zero the flat gradient and make each existing ``p.grad`` a view of it.

        Parameters whose grad is None stay None (a zero gradient would still move them under
        weight decay or momentum).
        """
        self.grad.fill(0)
        for p, view in zip(self.params, self.grad_views, strict=True):
            if p.grad is not None and p.grad.data is not view:
                p.grad = Tensor._make(view)
