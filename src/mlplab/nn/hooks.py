"""Forward hooks: observe (or replace) a module's inputs and output without changing its code.

The lecture's diagnostics hook every Linear layer to record Zᵢ and Zᵢ Wᵢ + bᵢ as they pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["RemovableHandle", "ForwardHook", "ForwardPreHook"]

#: ``hook(module, inputs, output)``, called after ``forward``; a non-None return replaces output.
ForwardHook = Callable[[Any, tuple[Any, ...], Any], Any]
#: ``hook(module, inputs)``, called before ``forward``; a non-None return replaces the inputs.
ForwardPreHook = Callable[[Any, tuple[Any, ...]], Any]


class RemovableHandle:
    """The receipt of a registered hook: ``remove()`` unregisters it (also as a ``with`` block).

    Examples:
        >>> hooks = {}
        >>> handle = RemovableHandle(hooks)
        >>> hooks[handle] = print
        >>> handle.remove(); len(hooks)
        0
    """

    def __init__(self, hooks: dict[Any, Any]) -> None:
        self._hooks = hooks

    def remove(self) -> None:
        """Unregister the hook; removing twice is harmless."""
        self._hooks.pop(self, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
