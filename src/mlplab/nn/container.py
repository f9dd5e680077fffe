"""Containers: ModuleList (an indexed list of sub-modules) and Sequential (a chain of them).

Both register their items under the names ``"0"``, ``"1"``, ..., so parameter names read
``layers.0.weight`` as in PyTorch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, overload

from .activation import ReLU
from .linear import Linear
from .module import Module

__all__ = ["ModuleList", "Sequential"]


def _bare(module: Any, kind: type[Module]) -> bool:
    """Tell whether ``module`` is exactly a ``kind`` (not a subclass) with no forward hooks."""
    return type(module) is kind and not module._forward_hooks and not module._forward_pre_hooks


def _check_module(owner: str, value: Any, index: object) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: item {index} must be a Module, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of sub-modules, registered so that their parameters are found.

    Args:
        modules: the initial modules.

    Examples:
        >>> from mlplab.nn import Linear, ModuleList
        >>> layers = ModuleList([Linear(4, 3, rng=0), Linear(3, 2, rng=1)])
        >>> len(layers), [name for name, _ in layers.named_parameters()]
        (2, ['0.weight', '0.bias', '1.weight', '1.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list[Module]:
        return list(self._modules.values())  # type: ignore[arg-type]

    @classmethod
    def _from_items(cls, items: list[Module]) -> ModuleList:
        return cls(items)

    def _renumber(self, items: list[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(items):
            self._modules[str(i)] = module

    def _index(self, index: int) -> int:
        n = len(self)
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__}: indices must be integers or slices")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} out of range for length {n}")
        return index % n

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...
    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return self._from_items(self._items()[index])
        return self._items()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[self._index(index)]
        self._modules[key] = _check_module(type(self).__name__, module, index)

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; return self."""
        self._modules[str(len(self))] = _check_module(type(self).__name__, module, len(self))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add modules at the end; return self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before ``index``."""
        items = self._items()
        items.insert(index, _check_module(type(self).__name__, module, index))
        self._renumber(items)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{type(self).__name__} has no forward: iterate over it, or use Sequential to chain"
        )


class Sequential(ModuleList):
    """Chain modules: the output of each is the input of the next.

    Args:
        *modules: the modules in order, or a single ``OrderedDict`` of ``name -> module``.

    Examples:
        >>> import numpy as np, mlplab
        >>> from mlplab.nn import Linear, ReLU, Sequential
        >>> net = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1))
        >>> net(mlplab.tensor(np.ones((5, 4), np.float32))).shape
        (5, 2)
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self._modules[str(name)] = _check_module("Sequential", module, repr(name))
        else:
            self.extend(modules)  # type: ignore[arg-type]

    @classmethod
    def _from_items(cls, items: list[Module]) -> ModuleList:
        return cls(*items)

    def forward(self, x: Any) -> Any:
        """Return the last module's output; a Linear followed by a ReLU (neither with hooks)
        runs as one node (``Linear.forward_relu``), bit-identical to the two."""
        modules = self._items()
        i, n = 0, len(modules)
        while i < n:
            module = modules[i]
            if i + 1 < n and _bare(module, Linear) and _bare(modules[i + 1], ReLU):
                x = module.forward_relu(x)  # type: ignore[attr-defined]
                i += 2
                continue
            x = module(x)
            i += 1
        return x
