"""Newton's method over the flattened parameter vector: θ ← θ − α (∇²f(θ) + λI)⁻¹ ∇f(θ)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..autodiff import _FREED, grad
from ..grad_mode import enable_grad
from ..ops import concatenate, reshape
from ..tensor import Tensor
from .optimizer import Optimizer, check_range

__all__ = ["Newton", "conjugate_gradient"]


def conjugate_gradient(
    matvec: Callable[[Any], Any], b: Any, *, tol: float = 1e-10, max_iter: int | None = None
) -> Any:
    """Solve A x = b for a symmetric positive-definite A given only x ↦ A x.

    Stops when ‖b − A x‖ ≤ tol·‖b‖ or after ``max_iter`` iterations (default: len(b)).

    Raises:
        RuntimeError: when a search direction p has pᵀAp ≤ 0 (A is not positive definite) or the
            iteration produces non-finite numbers.

    Examples:
        >>> import numpy as np
        >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
        >>> np.round(conjugate_gradient(lambda v: A @ v, np.array([1.0, 2.0])), 6)
        array([0.090909, 0.636364])
    """
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rs = float(r @ r)
    target = tol * np.sqrt(rs)
    for _ in range(len(b) if max_iter is None else max_iter):
        if np.sqrt(rs) <= target:
            break
        ap = matvec(p)
        curvature = float(p @ ap)
        if not np.isfinite(curvature) or curvature <= 0:
            raise RuntimeError(
                f"Newton: the damped Hessian is not positive definite along a conjugate-gradient "
                f"direction (pᵀ(H + λI)p = {curvature:.3g}); increase damping or use "
                f'method="full"'
            )
        a = rs / curvature
        x += a * p
        r -= a * ap
        rs, rs_old = float(r @ r), rs
        p = r + (rs / rs_old) * p
    return x


@contextlib.contextmanager
def _keeping_graphs() -> Iterator[None]:
    """While inside, ``Tensor.backward`` keeps the graph (as with ``retain_graph=True``).

    Scoped to one closure call; it patches the class attribute, so another thread's backward in
    the same moment also keeps its graph (more memory for a moment, the same numbers).
    """
    original = Tensor.backward

    def backward_keeping_graph(
        self: Tensor, grad: Any = None, retain_graph: bool = True, create_graph: bool = False
    ) -> None:
        original(self, grad, retain_graph=True, create_graph=create_graph)

    Tensor.backward = backward_keeping_graph  # type: ignore[method-assign]
    try:
        yield
    finally:
        Tensor.backward = original  # type: ignore[method-assign]


class Newton(Optimizer):
    """Newton's method on the whole flattened parameter vector θ ∈ Rⁿ::

        θ ← θ − α d,   (∇²f(θ) + λI) d = ∇f(θ)

    α = lr = 1 is the full Newton step (a positive-definite quadratic is solved in one step);
    α < 1 the damped step (on a quadratic the error shrinks by exactly (1 − α) per step);
    λ = damping > 0 regularizes an indefinite or singular Hessian (Levenberg). The system is
    solved, never inverted: ``method="full"`` builds the n×n Hessian (one backward pass per row
    through the gradient's graph) and calls ``np.linalg.solve`` — for small models;
    ``method="cg"`` never forms it and runs conjugate gradient on Hessian-vector products
    (∇(∇f·v), one backward each), which needs H + λI positive definite.

    Closure: ``step(closure)`` needs a closure that returns the loss as a Tensor with its
    graph; Newton differentiates it twice itself (``create_graph=True``) and reads no ``.grad``.
    Both closures work: one that only returns the loss (the cheapest, what
    :func:`~mlplab.train.fit` passes: ``closure_kind = "graph"``), and PyTorch's
    (``opt.zero_grad(); loss = crit(model(x), y); loss.backward(); return loss``): while the
    closure runs, ``Tensor.backward`` keeps the graph (``retain_graph=True``), so Newton can go
    through it again; the ``.grad`` it fills is left as it is.

    If the system is singular, indefinite for CG, or gives non-finite numbers, the step raises
    ``RuntimeError`` and leaves the parameters unchanged.

    Args:
        params: Tensors (one group: the method acts on all of them jointly).
        lr: the step size α (> 0).
        damping: λ ≥ 0 added to the Hessian's diagonal.
        method: ``"full"`` or ``"cg"``.
        cg_tol: relative residual at which CG stops.
        cg_max_iter: CG iteration limit (default: n).

    Examples:
        >>> import numpy as np, mlplab
        >>> P = mlplab.Tensor(np.array([[3.0, 1.0], [1.0, 2.0]]))
        >>> x = mlplab.tensor(np.array([1.0, -1.0]), requires_grad=True)
        >>> opt = Newton([x])
        >>> loss = opt.step(lambda: 0.5 * (x @ (P @ x)) - x.sum())
        >>> np.round(x.data, 12)  # the minimizer P⁻¹·1 in one step
        array([0.2, 0.4])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        damping: float = 0.0,
        method: str = "full",
        cg_tol: float = 1e-10,
        cg_max_iter: int | None = None,
    ) -> None:
        defaults = dict(
            lr=lr, damping=damping, method=method, cg_tol=cg_tol, cg_max_iter=cg_max_iter
        )
        super().__init__(params, defaults, flat=False)
        if len(self.param_groups) != 1:
            raise ValueError(
                f"Newton: acts on the whole flattened parameter vector, so it takes one param "
                f"group, got {len(self.param_groups)}"
            )

    closure_kind = "graph"

    def _check_group(self, group: dict[str, Any]) -> None:
        check_range("Newton", "lr", group["lr"], 0.0)
        if group["lr"] == 0:
            raise ValueError("Newton: lr must be > 0, got 0")
        check_range("Newton", "damping", group["damping"], 0.0)
        if group["method"] not in ("full", "cg"):
            raise ValueError(f'Newton: method must be "full" or "cg", got {group["method"]!r}')
        check_range("Newton", "cg_tol", group["cg_tol"], 0.0)
        if group["cg_max_iter"] is not None and int(group["cg_max_iter"]) < 1:
            raise ValueError(f"Newton: cg_max_iter must be >= 1, got {group['cg_max_iter']}")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one Newton step; return the loss the closure computed (before the step).

        Raises:
            RuntimeError: without a closure, when the closure's loss has no graph, or when the
                Newton system cannot be solved (parameters are then left unchanged).

        Examples:
            On f(w) = ½wᵀPw − qᵀw the full step (lr = 1) lands on w* = P⁻¹q at once:

            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> P, q = Tensor(np.array([[3.0, 1.0], [1.0, 2.0]])), Tensor(np.array([1.0, 1.0]))
            >>> w = Tensor(np.zeros(2), requires_grad=True)
            >>> opt = Newton([w], lr=1.0)
            >>> opt.step(lambda: 0.5 * (w @ (P @ w)) - q @ w).item()  # f(w₀), before the step
            0.0
            >>> bool(np.allclose(w.data, np.linalg.solve(P.data, q.data)))
            True
            >>> opt.step(lambda: float((w * w).sum().item()))
            Traceback (most recent call last):
            ...
            RuntimeError: Newton: the closure must return the loss as a Tensor with its graph \
(return loss, not loss.item()), got float without one
        """
        if closure is None:
            raise RuntimeError(
                "Newton: step() needs a closure that returns the loss with its graph, e.g. "
                "opt.step(lambda: loss_fn(model(x), y)) (it may also call loss.backward())"
            )
        group = self.param_groups[0]
        params = group["params"]
        with enable_grad():
            with _keeping_graphs():
                loss = closure()
            if not isinstance(loss, Tensor) or not loss.requires_grad:
                raise RuntimeError(
                    "Newton: the closure must return the loss as a Tensor with its graph "
                    f"(return loss, not loss.item()), got {type(loss).__name__} without one"
                )
            if loss.op is _FREED:
                raise RuntimeError(
                    "Newton: the closure's backward freed the loss's graph, which Newton needs "
                    "to differentiate again; call loss.backward() (the Tensor method, whose "
                    "graph Newton keeps) or do not call backward in the closure"
                )
            grads = grad(loss, params, create_graph=True, allow_unused=True)
            pieces = [
                reshape(g, (-1,)) if g is not None else Tensor._make(np.zeros(p.size, p.dtype))
                for p, g in zip(params, grads, strict=True)
            ]
            g_all = concatenate(pieces)
        g = np.array(g_all.data, copy=True)
        if not np.all(np.isfinite(g)):
            raise RuntimeError("Newton: the gradient is not finite; parameters left unchanged")

        def hessian_times(v: Any) -> Any:
            if not g_all.requires_grad:  # f is affine in θ: H = 0
                return np.zeros_like(v)
            rows = grad(
                g_all,
                params,
                grad_outputs=Tensor._make(v),
                retain_graph=True,
                allow_unused=True,
            )
            return np.concatenate(
                [
                    r.data.reshape(-1) if r is not None else np.zeros(p.size, p.dtype)
                    for p, r in zip(params, rows, strict=True)
                ]
            )

        damping = group["damping"]
        if group["method"] == "full":
            n = g.size
            hess = np.stack([hessian_times(e) for e in np.eye(n, dtype=g.dtype)])
            hess = 0.5 * (hess + hess.T) + damping * np.eye(n, dtype=g.dtype)
            if not np.all(np.isfinite(hess)):
                raise RuntimeError("Newton: the Hessian is not finite; parameters left unchanged")
            try:
                direction = np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                raise RuntimeError(
                    f"Newton: the Hessian + {damping}·I is singular; increase damping "
                    "(parameters left unchanged)"
                ) from None
        else:
            direction = conjugate_gradient(
                lambda v: hessian_times(v) + damping * v,
                g,
                tol=group["cg_tol"],
                max_iter=group["cg_max_iter"],
            )
        if not np.all(np.isfinite(direction)):
            raise RuntimeError(
                "Newton: the Newton direction is not finite (ill-conditioned Hessian); "
                "increase damping (parameters left unchanged)"
            )
        offset = 0
        for p in params:
            piece = direction[offset : offset + p.size].reshape(p.shape)
            p.data -= group["lr"] * piece
            offset += p.size
        return loss
