"""The one piece of global state: whether operations record a graph.

Ops read :data:`state.enabled` on every call; ``no_grad`` switches it off for a block (or a
function, as a decorator), ``enable_grad`` back on. The switch is process-wide, not per thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


state = _State()


def is_grad_enabled() -> bool:
    """Return True when new operations record the graph needed for backward.

    Examples:
        >>> is_grad_enabled()
        True
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return state.enabled


class set_grad_enabled:
    """Switch graph recording on or off for a ``with`` block or a decorated function.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0, 2.0], requires_grad=True)
        >>> with mlplab.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.previous = state.enabled
        # Like torch.set_grad_enabled, the plain call takes effect at once.
        state.enabled = self.mode

    def __enter__(self) -> None:
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.enabled = self.previous

    def __call__(self, func: F) -> F:
        mode = self.mode
        state.enabled = self.previous

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _GradMode(set_grad_enabled):
    """A switch that takes effect on entering its block (not when it is made)."""

    mode: bool

    def __new__(cls, func: Any = None) -> Any:
        if func is not None:  # a bare decorator: @no_grad
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func: Any = None) -> None:
        self.previous = state.enabled

    def __enter__(self) -> None:
        self.previous = state.enabled
        state.enabled = self.mode

    def __call__(self, func: F) -> F:
        switch = type(self)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with switch():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Run a block or a function without recording a graph (inference, optimizer steps).

    Works as ``with no_grad():``, as ``@no_grad()`` and, like PyTorch, as a bare ``@no_grad``.

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0], requires_grad=True)
        >>> with no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    mode = False


class enable_grad(_GradMode):
    """Record a graph inside a ``no_grad`` block (``with``, ``@enable_grad()`` or bare).

    Examples:
        >>> import mlplab
        >>> x = mlplab.tensor([1.0], requires_grad=True)
        >>> with no_grad(), enable_grad():
        ...     y = x * 2
        >>> y.requires_grad
        True
    """

    mode = True
