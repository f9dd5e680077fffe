"""The optimizer base: param groups, state, the step loop, ``zero_grad`` and ``state_dict``.

An optimizer here is two things (DESIGN.md §2): a pure update kernel over lists of arrays
(``sgd_update``, ``adam_update``, ...: in place, no graph) and a thin class that finds the arrays
and calls the kernel. The class owns

- ``param_groups``: a list of dicts, as in PyTorch. Each holds ``"params"`` and every
  hyperparameter; a group may override any default (``[{"params": w, "lr": 0.1}, {"params": b}]``).
- ``state``: per parameter, ``"step"`` (how many updates it has received, an int) and the
  kernel's arrays (``"exp_avg"``, ...), allocated for the whole group at its first step.
- the flat fast path (:mod:`mlplab.optim.flat`): when ``flat=True`` and a group's parameters share
  one floating dtype, the group's parameters and state live in contiguous buffers and a step runs
  the kernel once on the flat vectors. When some gradient is missing, or the step counts differ,
  the same kernel runs tensor by tensor on views of the same buffers, so both paths give the same
  numbers (the arithmetic is element-wise and identical).

A step reads ``p.grad`` and never writes it; parameters whose grad is None are skipped.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor
from .flat import FlatGroup, can_flatten

__all__ = ["ClosureKind", "Optimizer", "check_range"]

#: What ``step`` needs from a training loop (see :attr:`Optimizer.closure_kind`).
ClosureKind = Literal["none", "backward", "graph"]


def check_range(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    open_high: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high`` (``< high`` when ``open_high``).

    Examples:
        >>> check_range("Adam", "beta1", 1.0, 0.0, 1.0, open_high=True)
        Traceback (most recent call last):
        ...
        ValueError: Adam: beta1 must be in [0.0, 1.0), got 1.0
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}") from None
    inside = low <= x and (x < high if open_high else x <= high)
    if not inside:
        if high == math.inf:
            raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
        bracket = ")" if open_high else "]"
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}{bracket}, got {value}")


class Optimizer:
    """Base class: param groups, state, the step loop, ``zero_grad`` and ``state_dict``.

    Subclasses set :attr:`state_fill` (or override :meth:`_state_fill`), validate a group in
    :meth:`_check_group` and call their kernel in :meth:`_update`.

    Args:
        params: an iterable of Tensors, or of dicts each with a ``"params"`` entry and any
            hyperparameters that override ``defaults`` for that group.
        defaults: the default hyperparameters.
        flat: use the flat fast path where a group allows it.

    Raises:
        ValueError: on an empty parameter list or a parameter that appears twice.
        TypeError: on a parameter that is not a floating-point leaf Tensor.

    Examples:
        A new rule is a class with its state names and a kernel call (θ ← θ − α·sign(g)):

        >>> import numpy as np
        >>> class SignGD(Optimizer):
        ...     def __init__(self, params, lr):
        ...         super().__init__(params, {"lr": lr})
        ...     def _update(self, group, params, grads, state, steps, work):
        ...         for p, g in zip(params, grads):
        ...             p -= group["lr"] * np.sign(g)
        >>> w = Tensor(np.array([1.0, -1.0]))
        >>> opt = SignGD([w], lr=0.5)
        >>> w.grad = Tensor(np.array([3.0, -0.1]))
        >>> opt.step(); w
        tensor([ 0.5, -0.5], dtype=float64)
    """

    #: state array name -> its initial value (zeros for most moments).
    state_fill: dict[str, float] = {}
    #: What :func:`~mlplab.train.fit` passes to ``step``, declared by each optimizer (a
    #: subclass inherits it): ``"none"``, the plain ``zero_grad(); loss.backward(); step()``;
    #: ``"backward"``, ``step(closure)`` with PyTorch's closure (zero the grads, compute the
    #: loss, call backward, return the loss); ``"graph"``, ``step(closure)`` with a closure that
    #: returns the loss with its graph and need not call backward (Newton differentiates it).
    closure_kind: ClassVar[ClosureKind] = "none"

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any], *, flat: bool = True):
        self.defaults = dict(defaults)
        self.flat = bool(flat)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._flat_groups: dict[int, FlatGroup] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors, got a Tensor")
        items = list(params)
        if not items:
            raise ValueError(f"{self._name}: got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    @contextlib.contextmanager
    def at_theta(self) -> Iterator[None]:
        """Inside the block the parameters hold θ, the method's iterate (the point to score).

        For most optimizers they always do and this does nothing; one whose parameters hold
        another point (the closure-free :class:`~mlplab.optim.Nesterov` keeps φ = θ − αu there)
        moves them to θ and puts the old values back, bit for bit, on leaving.
        :func:`~mlplab.train.evaluate` given the optimizer scores inside it.

        Examples:
            >>> import numpy as np
            >>> from mlplab import Tensor
            >>> from mlplab.optim import SGD
            >>> w = Tensor(np.array([1.0]))
            >>> with SGD([w], lr=0.1).at_theta():
            ...     print(w)
            tensor([1.], dtype=float64)
        """
        yield

    # ---------------------------------------------------------------- groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, filling missing hyperparameters from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, got {param_group!r}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameters must be Tensors, got {type(p).__name__}")
            if not p.is_leaf or p.data.dtype.kind not in "fc":
                raise TypeError(
                    f"{self._name}: parameters must be floating-point leaf tensors, got one of "
                    f"dtype {p.data.dtype} (leaf={p.is_leaf})"
                )
            if id(p) in seen:
                raise ValueError(f"{self._name}: a parameter appears in more than one group")
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses: raise ValueError naming the value)."""
        check_range(self._name, "lr", group["lr"], 0.0)

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        """The state arrays this group needs, with their initial values."""
        return dict(self.state_fill)

    # ---------------------------------------------------------------- state

    def _ensure_state(self, index: int, group: dict[str, Any]) -> None:
        """Allocate the state of every parameter of the group (flat when possible)."""
        params = group["params"]
        if all(p in self.state for p in params):
            return
        fill = self._state_fill(group)
        if self.flat and can_flatten(params):
            fg = FlatGroup(params, fill)
            self._flat_groups[index] = fg
            self.state.update(zip(params, fg.entries, strict=True))
        else:
            for p in params:
                self.state[p] = {"step": 0} | {
                    name: np.full_like(p.data, value) for name, value in fill.items()
                }

    # ---------------------------------------------------------------- stepping

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return the closure's loss (if given).

        Args:
            closure: optional, PyTorch's convention: zeroes the gradients, computes the loss,
                calls ``backward`` and returns the loss. It runs with graph recording on.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            self._step_group(index, group)
        return loss

    def _step_group(self, index: int, group: dict[str, Any]) -> None:
        params = group["params"]
        fg = self._flat_groups.get(index)
        begun = None if fg is None else fg.start_step(params)
        if begun is None:
            if all(p.grad is None for p in params):
                return
            self._ensure_state(index, group)  # the first step, or parameters added to the group
            if self._flat_groups.get(index) is not fg:
                fg = self._flat_groups[index]
                begun = fg.start_step(params)
        if begun is not None:
            self._step_flat(group, fg, *begun)  # type: ignore[arg-type]
            return
        active = [p for p in params if p.grad is not None]
        if not active:
            return
        for p in active:
            self.state[p]["step"] += 1
        names = list(self._state_fill(group))
        state = {name: [self.state[p][name] for p in active] for name in names}
        self._update(
            group,
            [p.data for p in active],
            [p.grad.data for p in active],  # type: ignore[union-attr]
            state,
            [self.state[p]["step"] for p in active],
            None,
        )

    def _step_flat(self, group: dict[str, Any], fg: FlatGroup, grads: list[Any], t: int) -> None:
        """Update a flat group whose every parameter has its gradient in ``grads`` and step ``t``.

        The kernel runs on the flat vectors' pieces, shared out over mlplab's threads. A subclass
        may override this with a form that gives the same numbers for less memory traffic
        (:class:`~mlplab.optim.SGD` adds each gradient into its momentum buffer where it lies).
        """
        pieces, work, state = fg.param_pieces, fg.work_pieces, fg.state_pieces
        grad_pieces = fg.grad_pieces(grads)

        def update(a: int, b: int) -> None:  # the kernel on pieces a..b-1 (element-wise)
            cut = {name: s[a:b] for name, s in state.items()}
            self._update(group, pieces[a:b], grad_pieces[a:b], cut, [t] * (b - a), work[a:b])

        fg.share_out(update, len(pieces))

    def _update(
        self,
        group: dict[str, Any],
        params: list[Any],
        grads: list[Any],
        state: dict[str, list[Any]],
        steps: list[int],
        work: list[Any] | None,
    ) -> None:
        """Run the kernel on these arrays (steps already counted, 1 at the first update)."""
        raise NotImplementedError(f"{self._name}: _update is not implemented")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        Args:
            set_to_none: set ``p.grad = None`` (the default, as in PyTorch). Otherwise zero the
                existing gradients in place; in a flat group each gradient then becomes a view of
                the flat gradient buffer, so backward accumulating in place writes straight into
                it and the step copies nothing.
        """
        for index, group in enumerate(self.param_groups):
            fg = self._flat_groups.get(index)
            if not set_to_none and fg is not None:
                fg.point_grads()
                continue
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                elif p.grad.data.flags.writeable:
                    p.grad.data[...] = 0
                else:
                    p.grad = Tensor._make(np.zeros_like(p.grad.data))

    # ---------------------------------------------------------------- saving

    def state_dict(self) -> dict[str, Any]:
        """Return the state as plain values: ints, floats, tuples, lists and ndarray copies.

        Layout as in PyTorch: ``{"state": {index: {"step": int, name: array}}, "param_groups":
        [{hyperparameters..., "params": [index, ...]}]}``, parameters numbered in group order.
        Nothing needs pickle: it maps directly to JSON + safetensors.
        """
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for group in self.param_groups:
            indices = []
            for p in group["params"]:
                if p in self.state:
                    state[index] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()
                    }
                indices.append(index)
                index += 1
            groups.append({k: v for k, v in group.items() if k != "params"} | {"params": indices})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` (keys may be ints or, after JSON, strings).

        Arrays are copied into the existing state buffers, so a resumed optimizer continues
        bit-identically.

        Raises:
            ValueError: when the groups, parameter counts or state shapes do not match.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{self._name}.load_state_dict: expected {len(self.param_groups)} param groups, "
                f"got {len(groups)}"
            )
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        index = 0
        for gi, (group, saved) in enumerate(zip(self.param_groups, groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{self._name}.load_state_dict: group {gi} has {len(group['params'])} "
                    f"parameters, the saved one {len(saved['params'])}"
                )
            new = dict(group)
            for key, value in saved.items():
                if key != "params":
                    old = group.get(key)
                    new[key] = tuple(value) if isinstance(old, tuple) else value
            self._check_group(new)
            group.update(new)
            for p, saved_index in zip(group["params"], saved["params"], strict=True):
                entry = saved_state.get(int(saved_index))
                if entry is None:
                    continue
                self._ensure_state(gi, group)
                self._load_entry(p, entry)
            index += len(group["params"])

    def _load_entry(self, p: Tensor, entry: dict[str, Any]) -> None:
        mine = self.state[p]
        for key, value in entry.items():
            if key == "step":
                mine["step"] = int(value)
                continue
            if key not in mine:
                raise ValueError(f"{self._name}.load_state_dict: unknown state entry {key!r}")
            array = np.asarray(value)
            if array.shape != mine[key].shape:
                raise ValueError(
                    f"{self._name}.load_state_dict: state {key!r} has shape {array.shape}, "
                    f"expected {mine[key].shape}"
                )
            mine[key][...] = array
