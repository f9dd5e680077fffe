"""The flat fast path: one contiguous buffer for a group's parameters, gradients and state.

A step of an element-wise optimizer is the same arithmetic on every number, so it can run on one
long vector instead of tensor by tensor (tinygrad's "fused" optimizer, PyTorch's ``foreach``).
:class:`FlatGroup` copies the parameters of one param group into a contiguous buffer and re-points
each ``p.data`` to a view of it, so the model keeps computing with the very same numbers while the
optimizer updates all of them with a handful of vectorized operations. The optimizer state
(moments, momentum buffers) lives in flat buffers of the same layout, and each parameter's state
is a view into them, so the per-tensor path and the flat path read and write the same memory.

The flat vectors are handed to the kernels in pieces of at most :data:`CHUNK` elements: a
kernel makes several passes over its arrays; a piece of every array that stays in the CPU cache
across the passes saves memory traffic once the group outgrows the last-level cache, but every
piece costs a Python call per pass (Adam makes a dozen). On a 2-core AMD EPYC (512 KB L2, 32 MB
L3), the kernels alone on 564 K float32 (the 50-layer net) took SGD 249 µs and Adam 1158 µs in
256 K pieces, 236 and 1125 in one, 289 and 1249 in 64 K pieces; on 16 M elements Adam took
4.9 ms in 256 K pieces and 7.4 ms in one (SGD 2.1 and 2.5). A tensor of at least :data:`SMALL`
elements is split into pieces of its own; the smaller ones sit together at the end of the buffer
and are merged. The arithmetic is the same element by element, whatever the cut.

Gradients arrive as separate arrays from backward. Those of the large tensors are read where
they are (a piece of the flat vector pairs with the same piece of that tensor's gradient), so a
step copies no gradient of any size; only the small tensors' gradients are copied into the flat
gradient buffer (:meth:`FlatGroup.grad_pieces`), and a kernel that reads the gradient once may
skip even that (SGD with plain momentum adds each gradient into its part of the momentum buffer,
:meth:`~mlplab.optim.SGD._step_flat`; the passes that read no gradient run on
:attr:`FlatGroup.blocks`). After ``zero_grad(set_to_none=False)`` each ``p.grad`` *is* a view of
that buffer (:meth:`FlatGroup.point_grads`) and nothing is copied.

The group also keeps each parameter's state entry (``"step"`` and views of the state buffers),
the very dicts the optimizer shows in ``optimizer.state``, so a step checks and counts the steps
of the group without looking each parameter up.

If someone replaces ``p.data`` by a new array (loading weights, say), :meth:`FlatGroup.sync_params`
notices (an identity check per tensor) and copies the new values into the buffer before the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import parallel
from ..tensor import Tensor

__all__ = ["FlatGroup", "can_flatten", "CHUNK", "SMALL", "TINY"]


#: elements per kernel call on the flat path: one piece per array of a group that fits the
#: last-level cache with its state (measured above), cache-sized pieces beyond
CHUNK = 1 << 18

#: tensors with fewer elements share kernel calls (their gradients are gathered into the buffer):
#: a 100×100 layer's 10 K weights cost one copy pass, not a dozen kernel calls of their own
SMALL = 1 << 15

#: where a gradient is added into a state buffer (:meth:`FlatGroup.add_grads`), tensors with
#: fewer elements are copied side by side and added in one call: a copy costs less than an add
#: call below about 2 K float32 (100-element biases: 0.25 µs a tensor against 0.6)
TINY = 1 << 11


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
        # Large tensors first, in order, then the small ones together (merged into pieces),
        # the tiny ones last.
        tiny = min(TINY, SMALL)  # tiny tensors are small ones, whatever the two sizes are set to
        layout = [i for i, n in enumerate(sizes) if n >= SMALL]
        layout += [i for i, n in enumerate(sizes) if tiny <= n < SMALL]
        layout += [i for i, n in enumerate(sizes) if n < tiny]
        assert sorted(layout) == list(range(len(sizes))), "every tensor placed once"
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
        #: name -> the state buffer's views shaped like the parameters
        self.state_views = {name: self.views(buf) for name, buf in self.state.items()}
        #: each parameter's state as ``optimizer.state`` shows it: its step count and its views
        self.entries = [
            {"step": 0} | {name: views[i] for name, views in self.state_views.items()}
            for i in range(len(self.params))
        ]
        for p, view in zip(self.params, self.param_views, strict=True):
            view[...] = p.data
            p.data = view
        # The kernel's pieces of the buffers that stay put, cut once.
        self.param_pieces = self.chunks(self.param)
        self.work_pieces = self.chunks(self.work)
        self.state_pieces = {name: self.chunks(buf) for name, buf in self.state.items()}
        #: (start, stop): the flat vector in equal blocks of at most CHUNK elements, tensor edges
        #: ignored, for the passes that do not read the gradients
        self.blocks = parallel.ranges(n, max(-(-n // CHUNK), 1))
        self.param_blocks = [self.param[a:b] for a, b in self.blocks]
        self.work_blocks = [self.work[0, a:b] for a, b in self.blocks]  # one row of scratch
        self.state_blocks = {
            name: [buf[a:b] for a, b in self.blocks] for name, buf in self.state.items()
        }
        self._large = [i for i, small in enumerate(self.is_small) if not small]
        self._small = [i for i, small in enumerate(self.is_small) if small]
        self._tiny = [i for i, k in enumerate(sizes) if k < tiny]
        self._not_tiny = [i for i, k in enumerate(sizes) if k >= tiny]
        tiny_start = n - sum(sizes[i] for i in self._tiny)
        #: the tiny tensors' region of the gradient and of each state buffer (see add_grads)
        self.tiny_grad = self.grad[tiny_start:]
        self.tiny_state = {name: buf[tiny_start:] for name, buf in self.state.items()}

    def views(self, flat: Any) -> list[Any]:
        """Split a flat vector into views shaped like the parameters."""
        return [
            flat[a:b].reshape(shape) for (a, b), shape in zip(self.spans, self.shapes, strict=True)
        ]

    def chunks(self, flat: Any) -> list[Any]:
        """Split a flat vector (or the ``(2, n)`` scratch) into the kernel's pieces."""
        return [flat[..., a:b] for a, b, _ in self.pieces]

    def start_step(self, params: Sequence[Tensor]) -> tuple[list[Any], int] | None:
        """Begin a step of the whole group: count it and return the gradients and t.

        Returns None, counting nothing, unless ``params`` are still this group's parameters
        (the same objects, in order), every one has a gradient and all have taken the same
        number of steps; the optimizer then steps tensor by tensor. A replaced ``p.data`` is
        copied into the buffer first (:meth:`sync_params`).
        """
        entries = self.entries
        if len(params) != len(entries):
            return None
        t = entries[0]["step"]
        grads = []
        stale = False
        for p, mine, entry, view in zip(
            params, self.params, entries, self.param_views, strict=True
        ):
            g = p.grad
            if p is not mine or g is None or entry["step"] != t:
                return None
            grads.append(g.data)
            stale = stale or p.data is not view
        t += 1
        for entry in entries:
            entry["step"] = t
        if stale:
            self.sync_params()
        return grads, t

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

    def grad_pieces(self, grads: list[Any]) -> list[Any]:
        """Return the gradients ``grads`` (one per parameter) in the kernel's pieces.

        Only the small tensors' gradients are copied into the flat buffer. A piece of a large
        tensor is a slice of that tensor's own (contiguous) gradient; a gradient that is not
        contiguous, or not of the buffer's dtype, is copied like the small ones.
        """
        flat, views = self.grad, self.grad_views
        direct = {}
        for i in self._large:
            g = grads[i]
            if g is views[i]:
                continue
            if g.flags.c_contiguous and g.dtype == flat.dtype:
                direct[i] = g.reshape(-1)
            else:
                views[i][...] = g
        for i in self._small:
            if grads[i] is not views[i]:
                views[i][...] = grads[i]
        pieces = []
        for a, b, owner in self.pieces:
            g = direct.get(owner)  # type: ignore[arg-type]
            if g is None:
                pieces.append(flat[a:b])
            else:
                start = self.spans[owner][0]  # type: ignore[index]
                pieces.append(g[a - start : b - start])
        return pieces

    def add_grads(self, name: str, grads: list[Any]) -> None:
        """Add each parameter's gradient into its part of the state buffer ``name``: b ← b + g.

        A gradient is added where it lies; those of the tensors under :data:`TINY` elements are
        first copied side by side into the flat gradient buffer and added in one call. The same
        sum element by element (the gradients must have the buffer's dtype).
        """
        parts, views = self.state_views[name], self.grad_views
        for i in self._not_tiny:
            parts[i] += grads[i]
        for i in self._tiny:
            if grads[i] is not views[i]:
                views[i][...] = grads[i]
        if self._tiny:
            tiny = self.tiny_state[name]
            tiny += self.tiny_grad

    def share_out(self, fn: Callable[[int, int], Any], n: int) -> None:
        """Run ``fn(a, b)`` on cuts ``a..b-1`` of ``n`` (the pieces or the blocks) over threads.

        A thread takes part only for 2·GRAIN elements or more (a 79 K-parameter net stays on
        one thread); the numbers do not depend on the cut, the kernels being element-wise.
        """
        grain = -(-2 * parallel.GRAIN * n // max(self.param.size, 1))
        parallel.parallel_for(fn, n, grain=grain)

    def point_grads(self) -> None:
        """Zero the flat gradient and make each existing ``p.grad`` a view of it.

        Parameters whose grad is None stay None (a zero gradient would still move them under
        weight decay or momentum).
        """
        self.grad.fill(0)
        for p, view in zip(self.params, self.grad_views, strict=True):
            if p.grad is not None and p.grad.data is not view:
                p.grad = Tensor._make(view)
