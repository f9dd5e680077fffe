"""Reverse-mode automatic differentiation: backward, grad, Hessian-vector products, Hessians.

The graph is the set of Tensors reachable from the outputs through ``inputs``. Every node is
made after its inputs (``Tensor.seq`` counts them), so taking the nodes in decreasing ``seq``
reaches each one after every node that uses it: its gradient is then complete, and its
primitive's VJP passes it on to the inputs. No search, no recursion (a 50-layer net or a loop of
10,000 ops is a loop of heap pops).

First-order backward runs under ``no_grad`` and records nothing; the primitives of the training
step (``ops.fused``) do it on arrays (``vjp_arrays``), without a Tensor per gradient.
With ``create_graph=True`` they are recorded like any other computation, so the gradient can be
differentiated again — that is all :func:`hvp` and :func:`hessian` need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from .grad_mode import set_grad_enabled
from .ops import Op, as_tensor, astype, reshape
from .ops import sum as sum_
from .tensor import Tensor

__all__ = ["backward", "grad", "hvp", "hessian"]


class _Freed(Op):
    """Stands in for the op of a node whose graph a backward pass has released."""

    __slots__ = ()

    def vjp(self, g: Tensor, out: Tensor, *inputs: Tensor) -> tuple[Tensor | None, ...]:
        raise RuntimeError(
            "backward: trying to backward through the graph a second time (its intermediate "
            "results were freed by the first backward); pass retain_graph=True to the first "
            "backward or grad call if you need to go through it again"
        )


_FREED = _Freed()


def _seed(output: Tensor, grad_output: Any, where: str) -> Tensor:
    if grad_output is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"{where}: the output has shape {output.shape}; a gradient can be created "
                f"implicitly only for a scalar — pass grad=... (a tensor of shape "
                f"{output.shape}) or reduce the output first, e.g. with .sum()"
            )
        return Tensor._make(np.ones(output.shape, dtype=output.data.dtype))
    seed = as_tensor(grad_output, like=output)
    if seed.shape != output.shape:
        raise RuntimeError(
            f"{where}: the gradient has shape {seed.shape}, the output has shape {output.shape}"
        )
    if seed.data.dtype != output.data.dtype:
        # Gradients take their tensor's dtype: a float64 or integer seed must not leak into a
        # float32 graph.
        seed = astype(seed, output.data.dtype)
    return seed


def _propagate(
    outputs: Sequence[Tensor],
    seeds: Sequence[Tensor],
    create_graph: bool,
    retain_graph: bool,
    wanted: dict[int, Tensor] | None,
) -> dict[int, Tensor]:
    """Run the backward pass; accumulate into leaves' ``.grad`` or collect ``wanted`` ones.

    The nodes are taken in decreasing ``seq`` (creation order, a max-heap of the nodes that
    have a gradient so far): every node that uses a node was made after it, so a node's
    gradient is complete when it is taken. A first-order pass calls a primitive's
    ``vjp_arrays`` where it has one (the calls of its ``vjp`` on arrays, no Tensors), else its
    ``vjp`` under ``no_grad``; a recorded one (``create_graph``) always ``vjp``.
    """
    lean = not create_graph
    # id(tensor) -> its gradient so far: a Tensor, or when lean an array where the VJP that
    # made it has an array form (``vjp_arrays``); each primitive gets the form it works on.
    grads: dict[int, Any] = {}
    heap: list[tuple[int, Tensor]] = []  # (−seq, node) for each node in grads
    leaves: list[Tensor] = []  # the leaves in grads, in the order they are reached
    # Arrays a leaf may not take over as its .grad: the seeds (the caller may hold them) and
    # those already handed to another leaf (Add's VJP gives one g to both inputs).
    taken: dict[int, Any] = {id(s.data): s.data for s in seeds}
    collected: dict[int, Any] = {}
    passed: Any = zip(outputs, [s.data for s in seeds] if lean else seeds, strict=True)
    with set_grad_enabled(create_graph):
        while True:
            for inp, ig in passed:  # the seeds, then each node's VJP results
                if ig is None or not inp.requires_grad:
                    continue
                key = id(inp)
                if key in grads:
                    grads[key] = _sum(grads[key], ig, lean)
                else:  # its first gradient: a node joins the heap, a leaf the leaves
                    grads[key] = ig
                    if inp.op is None:
                        leaves.append(inp)
                    else:
                        heappush(heap, (-inp.seq, inp))
            if not heap:
                break
            node = heappop(heap)[1]
            # Popping lets a node whose gradient has been passed on be freed at once, so the
            # next arrays reuse its memory while it is still in cache.
            g = grads.pop(id(node))
            if wanted is not None and id(node) in wanted:
                collected[id(node)] = g
            op, inputs = node.op, node.inputs
            if not lean:
                input_grads = op.vjp(g, node, *inputs)
            elif (vjp_arrays := op.vjp_arrays) is not None:  # the array form, g an array
                input_grads = vjp_arrays(g.data if isinstance(g, Tensor) else g, node, *inputs)
            else:  # the Tensor form, recording nothing
                input_grads = op.vjp(g if isinstance(g, Tensor) else Tensor._make(g), node, *inputs)
            passed = zip(inputs, input_grads, strict=False)
            if not retain_graph:
                node.op, node.inputs = _FREED, ()
        # every node is done: the leaves' gradients are complete
        if wanted is not None:
            collected.update((id(t), grads[id(t)]) for t in leaves if id(t) in wanted)
        elif lean:
            _accumulate_arrays(leaves, grads, taken)
        else:
            for leaf in leaves:
                _accumulate(leaf, grads[id(leaf)])
    return {key: g if isinstance(g, Tensor) else Tensor._make(g) for key, g in collected.items()}


def _sum(a: Any, b: Any, lean: bool) -> Any:
    """a + b for two gradients of one tensor: Tensors, or in a first-order pass arrays (a
    primitive without ``vjp_arrays`` hands on Tensors: taken as their arrays)."""
    if not lean:
        return a + b
    a = a.data if isinstance(a, Tensor) else a
    b = b.data if isinstance(b, Tensor) else b
    if a.dtype != b.dtype:  # let the Tensor rules promote, as a recorded pass would
        return (Tensor._make(a) + Tensor._make(b)).data
    total = a + b  # Add's forward, as ``a + b`` on Tensors
    return total if type(total) is np.ndarray else np.asarray(total)


def _accumulate(leaf: Tensor, g: Tensor) -> None:
    """leaf.grad += g in a recorded pass: never in place.

    One VJP result is often the ``.grad`` of several leaves at once (``a + b`` hands the same
    tensor to both), and it is a value other nodes of the graph depend on.
    """
    if leaf.grad is None:
        leaf.grad = g if g.requires_grad else _fresh(g.data, leaf)
    else:
        leaf.grad = leaf.grad + g


def _accumulate_arrays(leaves: list[Tensor], grads: dict[int, Any], taken: dict[int, Any]) -> None:
    """leaf.grad += g for first-order gradients: g's array itself the first time when nobody
    else can see it (else a copy), in place afterwards.

    A VJP returns fresh arrays, or passes its upstream gradient through unchanged (add,
    reshape to the same shape, ...); those cases :func:`_propagate` tracks in ``taken``. A view
    (``base`` set) or a read-only array (a broadcast) shares memory with something else.
    """
    for leaf in leaves:
        g = grads[id(leaf)]
        if isinstance(g, Tensor):
            g = g.data
        grad = leaf.grad
        if grad is None:
            if (
                type(g) is np.ndarray
                and g.base is None
                and g.dtype == leaf.data.dtype
                and g.flags.writeable
                and g is not leaf.data
                and id(g) not in taken
            ):
                taken[id(g)] = g
                leaf.grad = Tensor._make(g)
            else:
                leaf.grad = _fresh(g, leaf)
        elif grad.data.flags.writeable and not grad.requires_grad:
            grad.data += g
        else:
            leaf.grad = Tensor._make(grad.data + g)


def _fresh(data: Any, leaf: Tensor) -> Tensor:
    return Tensor._make(np.array(data, dtype=leaf.data.dtype, copy=True))


def backward(
    output: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate d(output)/d(leaf) into the ``.grad`` of every leaf that requires grad.

    Args:
        output: the tensor to differentiate (a scalar, or any shape with ``grad`` given).
        grad: the upstream gradient ∂L/∂output, shaped like ``output``; ones for a scalar.
        retain_graph: keep the graph for another backward (freed by default).
        create_graph: record the backward pass, so the gradients can be differentiated again.

    Raises:
        RuntimeError: for a non-scalar output without ``grad``, a ``grad`` of the wrong shape,
            an output that does not require grad, or a graph already freed.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 2.0], requires_grad=True)
        >>> backward((x * x).sum())
        >>> x.grad
        tensor([2., 4.])
    """
    if not output.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no graph; create the inputs "
            "with requires_grad=True (and not under no_grad) to differentiate"
        )
    seed = _seed(output, grad, "backward")
    _propagate([output], [seed], create_graph, retain_graph or create_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> list[Tensor | None]:
    """Return the gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` alone.

    Computes Σⱼ grad_outputsⱼᵀ ∂outputsⱼ/∂inputᵢ for each input i.

    Args:
        outputs: a tensor or a sequence of tensors.
        inputs: the tensors to differentiate with respect to (leaves or intermediate results).
        grad_outputs: upstream gradients, one per output (None: ones for scalar outputs).
        create_graph: record the computation so the result can be differentiated again.
        retain_graph: keep the graph (defaults to ``create_graph``).
        allow_unused: return None for an input the outputs do not depend on, instead of raising.

    Returns:
        A list with one gradient Tensor (shaped like its input) per input.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor(3.0, requires_grad=True)
        >>> (dx,) = grad(x**3, [x], create_graph=True)
        >>> (dxx,) = grad(dx, [x])
        >>> dx.item(), dxx.item()
        (27.0, 18.0)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not isinstance(grad_outputs, (list, tuple)):
        # One tensor, array or None: the same for every output, as in torch.autograd.grad.
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no graph")
    seeds = [_seed(o, g, "grad") for o, g in zip(outputs, grad_outputs, strict=False)]
    retain = create_graph if retain_graph is None else retain_graph
    wanted = {id(t): t for t in inputs}
    collected = _propagate(outputs, seeds, create_graph, retain, wanted)
    result: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = collected.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return result


def _leaf(x: Any) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(x)
    return Tensor(x.data, requires_grad=True)


def hvp(f: Callable[..., Tensor], x: Any, v: Any) -> Any:
    """Return the Hessian-vector product ∇²f(x) v by differentiating ⟨∇f(x), v⟩.

    Costs about two gradient evaluations; the Hessian itself is never formed. For several
    tensors x = (x₁, …, x_n) and v = (v₁, …, v_n) the result is the list (or tuple) whose i-th
    entry is Σⱼ ∂²f/∂xᵢ∂xⱼ vⱼ: the Hessian of f over all of them, applied to v.

    Args:
        f: a function returning a scalar tensor; of one tensor for a single ``x``, of one
            tensor per entry (``f(*x)``, as ``torch.autograd.functional.hvp``) for a list.
        x: the point (any shape), or a list or tuple of them. In a list, a leaf that already
            requires grad (a model's Parameter) is used as it is, so ``f`` may ignore its
            arguments and compute the loss of the model itself.
        v: the direction, shaped like ``x`` (a list or tuple of the same length for a list).

    Returns:
        A tensor shaped like ``x``, or a list (tuple) of them shaped like the entries of ``x``.

    Raises:
        ValueError: when ``v`` does not have the structure and shapes of ``x``.

    Examples:
        >>> import mlplab
        >>> hvp(lambda x: (x**3).sum(), mlplab.tensor([1.0, 2.0]), mlplab.tensor([1.0, 1.0]))
        tensor([ 6., 12.])
        >>> a, b = mlplab.tensor([1.0]), mlplab.tensor([2.0])
        >>> v = [mlplab.tensor([1.0]), mlplab.tensor([0.0])]
        >>> hvp(lambda a, b: (a * a * b).sum(), [a, b], v)
        [tensor([4.]), tensor([2.])]
    """
    if isinstance(x, (list, tuple)):
        return _hvp_many(f, x, v)
    x = _leaf(x)
    v = as_tensor(v, like=x)
    if v.shape != x.shape:
        raise ValueError(f"hvp: v has shape {v.shape}, x has shape {x.shape}")
    (g,) = grad(f(x), [x], create_graph=True)
    assert g is not None
    if not g.requires_grad:  # f is affine in x: the gradient is a constant, H = 0
        return Tensor._make(np.zeros_like(x.data))
    (hv,) = grad(sum_(g * v), [x], allow_unused=True)
    return hv if hv is not None else Tensor._make(np.zeros_like(x.data))


def _hvp_many(f: Callable[..., Tensor], x: Sequence[Any], v: Any) -> Any:
    if not isinstance(v, (list, tuple)) or len(v) != len(x):
        got = (
            f"{type(v).__name__} of {len(v)}" if isinstance(v, (list, tuple)) else type(v).__name__
        )
        raise ValueError(f"hvp: v must be a list of {len(x)} tensors like x, got a {got}")
    xs = [t if isinstance(t, Tensor) and t.is_leaf and t.requires_grad else _leaf(t) for t in x]
    vs = [as_tensor(vi, like=xi) for vi, xi in zip(v, xs, strict=True)]
    for i, (vi, xi) in enumerate(zip(vs, xs, strict=True)):
        if vi.shape != xi.shape:
            raise ValueError(f"hvp: v[{i}] has shape {vi.shape}, x[{i}] has shape {xi.shape}")
    grads = grad(f(*xs), xs, create_graph=True, allow_unused=True)
    inner = None
    for g, vi in zip(grads, vs, strict=True):
        if g is not None and g.requires_grad:  # a constant gradient has no second derivative
            term = sum_(g * vi)
            inner = term if inner is None else inner + term
    second = [None] * len(xs) if inner is None else grad(inner, xs, allow_unused=True)
    hv = [
        Tensor._make(np.zeros_like(xi.data)) if h is None else h
        for h, xi in zip(second, xs, strict=True)
    ]
    return tuple(hv) if isinstance(x, tuple) else hv


def hessian(f: Callable[[Tensor], Tensor], x: Any) -> Tensor:
    """Return the dense Hessian ∇²f(x), shaped ``x.shape + x.shape``.

    The gradient graph is built once; each row is one backward pass through it with a unit
    seed, so the cost is n gradient evaluations for n = x.size entries (meant for up to a few
    thousand).

    Examples:
        >>> import mlplab, numpy as np
        >>> P = np.array([[2.0, 1.0], [1.0, 3.0]])
        >>> f = lambda t: 0.5 * (t @ (mlplab.Tensor(P) @ t))
        >>> hessian(f, np.zeros(2)).numpy()
        array([[2., 1.],
               [1., 3.]])
    """
    x = _leaf(x)
    n = x.data.size
    (g,) = grad(f(x), [x], create_graph=True)
    assert g is not None
    flat = reshape(g, (n,))
    rows = np.zeros((n, n), dtype=x.data.dtype)
    if flat.requires_grad:
        seed = np.zeros(n, dtype=x.data.dtype)
        for i in range(n):
            seed[i] = 1
            (row,) = grad(
                flat,
                [x],
                grad_outputs=Tensor._make(seed.copy()),
                retain_graph=True,
                allow_unused=True,
            )
            seed[i] = 0
            if row is not None:
                rows[i] = row.data.reshape(n)
    return Tensor._make(rows.reshape(x.shape + x.shape))


def _backward_method(
    self: Tensor, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulate the gradient of this tensor into the ``.grad`` of every leaf that requires
    grad: leaf.grad += gradᵀ ∂self/∂leaf (``grad`` is 1 for a scalar, as in PyTorch).

    Args:
        grad: the upstream gradient ∂L/∂self, shaped like self; required unless self is a
            scalar.
        retain_graph: keep the graph for another backward (it is freed by default).
        create_graph: record the backward pass, so the gradients can be differentiated again
            (Hessian-vector products, Newton's method).

    Raises:
        RuntimeError: for a non-scalar without ``grad``, a ``grad`` of the wrong shape, a tensor
            that does not require grad, or a graph already freed by an earlier backward.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """
    backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)


for _name, _method in {
    "backward": _backward_method,
}.items():
    setattr(Tensor, _name, _method)
