"""Module: the base class of every layer and network.

A Module owns Parameters and sub-Modules. Assigning either to an attribute registers it (a plain
list or tuple of Modules becomes a :class:`~mlplab.nn.ModuleList`), so that ``parameters()``,
``state_dict()``, ``train()``/``eval()`` and ``to(dtype)`` reach every weight of a network, with
dotted names such as ``layers.0.weight`` that follow the attribute path.

Forward hooks let an observer see each layer's input and output without changing the model:
the lecture's diagnostics (activation norms per layer) are built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..device import parse_to
from ..tensor import Tensor
from .hooks import ForwardHook, ForwardPreHook, RemovableHandle
from .parameter import Parameter
from .state import IncompatibleKeys, load_arrays

__all__ = ["Module"]


class Module:
    """Base class of layers and networks: subclass it, assign parameters, write ``forward``.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import Module, Parameter
        >>> class Scale(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.alpha = Parameter(np.ones(3))
        >>> class Net(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.blocks = [Scale(), Scale()]
        >>> [name for name, _ in Net().named_parameters()]
        ['blocks.0.alpha', 'blocks.1.alpha']
    """

    training: bool

    def __init__(self) -> None:
        # Bypass __setattr__: these are the registries it writes to.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration

    def __setattr__(self, name: str, value: Any) -> None:
        params: dict[str, Parameter | None] | None = self.__dict__.get("_parameters")
        if params is None:
            raise RuntimeError(
                f"{type(self).__name__}: cannot assign '{name}' before Module.__init__(); "
                f"call super().__init__() first"
            )
        modules: dict[str, Module | None] = self.__dict__["_modules"]
        if isinstance(value, (list, tuple)) and any(isinstance(v, (Module, Tensor)) for v in value):
            value = self._as_module_list(name, value)
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in self.__dict__["_buffers"]:
            self.__dict__["_buffers"][name] = self._as_buffer(name, value)
        elif name in params or name in modules:
            kind = "parameter" if name in params else "sub-module"
            expected = "a Parameter" if name in params else "a Module"
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}.{name}: is a registered {kind}, expected "
                    f"{expected} or None, got {type(value).__name__}"
                )
            (params if name in params else modules)[name] = None  # type: ignore[index]
        else:
            object.__setattr__(self, name, value)

    def _as_module_list(self, name: str, items: list[Any] | tuple[Any, ...]) -> Module:
        """Register a plain list of Modules as a ModuleList; refuse lists that mix in tensors."""
        for i, item in enumerate(items):
            if not isinstance(item, Module):
                raise TypeError(
                    f"{type(self).__name__}.{name}: a list assigned to a module attribute must "
                    f"hold only Modules (it becomes a ModuleList), item {i} is "
                    f"{type(item).__name__}; assign each Parameter to its own attribute"
                )
        from .container import ModuleList

        return ModuleList(items)

    def _forget(self, name: str) -> None:
        self.__dict__.pop(name, None)
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_modules"].pop(name, None)
        self.__dict__["_buffers"].pop(name, None)
        self.__dict__["_non_persistent"].discard(name)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_modules", "_buffers"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._modules or name in self._buffers:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        registered = set(self._parameters) | set(self._modules) | set(self._buffers)
        return sorted(set(super().__dir__()) | registered)

    # ---------------------------------------------------------------- buffers

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a buffer: module state that is not a parameter (BatchNorm's running mean).

        A buffer is a Tensor that never requires grad: optimizers never see it (it is not in
        :meth:`parameters`), but it is in :meth:`named_buffers`, in :meth:`state_dict` (unless
        ``persistent=False``), restored by :meth:`load_state_dict` with the same checks as a
        parameter, and floating buffers are converted by :meth:`to`. Assigning to the attribute
        later replaces the buffer (a Tensor, an array, or None).

        Args:
            name: the attribute name (no dots), not already a parameter, sub-module or attribute.
            tensor: the initial value (an array or a Tensor; copied), or None for "no buffer yet".
            persistent: whether the buffer is part of ``state_dict()``.

        Raises:
            TypeError: if ``name`` is not a string.
            KeyError: if ``name`` is empty, dotted, or already taken.

        Examples:
            >>> import numpy as np
            >>> from mlplab.nn import Module
            >>> m = Module()
            >>> m.register_buffer("count", np.zeros(2))
            >>> [name for name, _ in m.named_buffers()], list(m.parameters())
            (['count'], [])
            >>> sorted(m.state_dict())
            ['count']
        """
        where = f"{type(self).__name__}.register_buffer"
        if not isinstance(name, str):
            raise TypeError(f"{where}: name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{where}: name must be non-empty and without '.', got {name!r}")
        if name not in self._buffers and (
            name in self._parameters or name in self._modules or name in self.__dict__
        ):
            raise KeyError(f"{where}: attribute {name!r} already exists")
        self._buffers[name] = self._as_buffer(name, tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def _as_buffer(self, name: str, value: Any) -> Tensor | None:
        if value is None:
            return None
        if isinstance(value, Parameter):
            raise TypeError(
                f"{type(self).__name__}.{name}: is a buffer, got a Parameter (buffers are "
                f"never trained; assign parameters to a new attribute)"
            )
        array = np.array(value.data if isinstance(value, Tensor) else value, copy=True)
        return Tensor._make(array)

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted_name, buffer)`` for every buffer (persistent or not), in order.

        Examples:
            >>> from mlplab.nn import BatchNorm1d
            >>> [name for name, _ in BatchNorm1d(3).named_buffers()]
            ['running_mean', 'running_var', 'num_batches_tracked']
        """
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for owner_name, module in owners:
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{owner_name}.{name}" if owner_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yield every buffer, in order (see :meth:`named_buffers`).

        Examples:
            >>> from mlplab.nn import LayerNorm, BatchNorm1d, Sequential
            >>> [b.shape for b in Sequential(LayerNorm(2), BatchNorm1d(2)).buffers()]
            [(2,), (2,), ()]
        """
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """Each module's parameters, then its persistent buffers, module by module."""
        for owner_name, module in self.named_modules():
            for name, param in module._parameters.items():
                if param is not None:
                    yield (f"{owner_name}.{name}" if owner_name else name), param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    yield (f"{owner_name}.{name}" if owner_name else name), buffer

    # ---------------------------------------------------------------- traversal

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for each direct sub-module."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """Yield each direct sub-module."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted_name, module)`` for this module and every descendant, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """Yield this module and every descendant, each once (depth first, in order)."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)``; a parameter shared by two modules comes once."""
        seen: set[int] = set()
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for owner_name, module in owners:
            for name, param in module._parameters.items():
                if param is None or (remove_duplicate and id(param) in seen):
                    continue
                seen.add(id(param))
                yield (f"{owner_name}.{name}" if owner_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield every parameter (each once), in registration order.

        Examples:
            >>> from mlplab.nn import Linear
            >>> [p.shape for p in Linear(3, 2, rng=0).parameters()]
            [(3, 2), (2,)]
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Count the scalar weights (optionally only those with ``requires_grad``)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module and then on this one; return self."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # ---------------------------------------------------------------- modes and gradients

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``.training``) on this module and all descendants; return self."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter; return self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        Args:
            set_to_none: set ``.grad`` to None (the default, as in PyTorch); with False each
                existing gradient is replaced by a fresh zero array (never written in place,
                so an array the gradient shares with another tensor is not clobbered).
        """
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad = Tensor._make(np.zeros_like(param.grad.data))

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert every parameter (and its gradient) to a floating dtype in place; return self.

        Takes PyTorch's forms: ``to(dtype)``, ``to("cpu")``, ``to("cpu", dtype)``,
        ``to(device="cpu", dtype=...)``, ``to(tensor)`` (its dtype). The Parameter objects stay
        the same (only their ``.data`` changes), so an optimizer built before the conversion
        still holds them.

        Raises:
            TypeError: if the dtype is not a floating-point dtype.
            ValueError: for a device other than the CPU (``"cuda"``, ``"mps"``, ...).

        Examples:
            >>> from mlplab.nn import Linear
            >>> Linear(2, 1, rng=0).to("cpu", "float64").weight.dtype
            dtype('float64')
        """
        target = parse_to(f"{type(self).__name__}.to", args, kwargs)
        if target is None:
            return self
        if target.kind != "f":
            raise TypeError(
                f"{type(self).__name__}.to: expected a floating-point dtype, got {target}"
            )
        for param in self.parameters():
            param.data = param.data.astype(target, copy=False)
            if param.grad is not None:
                param.grad = Tensor._make(param.grad.data.astype(target, copy=False))
        for buffer in self.buffers():
            if buffer.dtype.kind == "f":  # integer counters stay integers, as in PyTorch
                buffer.data = buffer.data.astype(target, copy=False)
        return self

    astype = to

    def double(self) -> Module:
        """Convert to float64 (for gradient checks); return self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Convert to float32 (the default dtype); return self."""
        return self.to(np.float32)

    # ---------------------------------------------------------------- state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return ``{dotted_name: copy of the array}`` for every parameter and persistent buffer,
        module by module (its parameters, then its buffers), in registration order.

        Examples:
            >>> from mlplab.nn import Linear
            >>> sorted(Linear(3, 2, rng=0).state_dict())
            ['bias', 'weight']
        """
        return {name: np.array(value.data, copy=True) for name, value in self._named_state()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state`` into the parameters and persistent buffers, in place (the
        objects stay the same).

        Nothing is written unless every check passes.

        Args:
            state: ``{dotted_name: array or Tensor}``, as from :meth:`state_dict`.
            strict: refuse missing and unexpected keys (shape mismatches are always refused).

        Returns:
            The missing and unexpected keys (empty lists when ``strict``).

        Raises:
            TypeError: if ``state`` is not a mapping.
            RuntimeError: naming every missing and unexpected key and every shape or dtype
                mismatch, on one line.
        """
        own = dict(self._named_state())
        return load_arrays(f"{type(self).__name__}.load_state_dict", own, state, strict)

    # ---------------------------------------------------------------- calling

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the output; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._forward_pre_hooks and not self._forward_hooks:  # no hooks: forward alone
            return self.forward(*args, **kwargs)
        for pre_hook in list(self._forward_pre_hooks.values()):
            result = pre_hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook: ForwardHook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return
        replaces the output.

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Examples:
            >>> import numpy as np, mlplab
            >>> from mlplab.nn import Linear
            >>> seen = []
            >>> layer = Linear(3, 2, rng=0)
            >>> handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
            >>> _ = layer(mlplab.tensor(np.ones((4, 3), np.float32)))
            >>> handle.remove()
            >>> _ = layer(mlplab.tensor(np.ones((4, 3), np.float32)))
            >>> seen
            [(4, 2)]
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: expected a callable, got {type(hook)}")
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle] = hook
        return handle

    def register_forward_pre_hook(self, hook: ForwardPreHook) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward; a non-None return replaces the
        inputs (a tuple, or a single value)."""
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: expected a callable, got {type(hook)}")
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle] = hook
        return handle

    # ---------------------------------------------------------------- printing

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        lines = [self.extra_repr()] if self.extra_repr() else []
        lines += _child_lines(list(self.named_children()))
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        body = "\n".join("  " + line for line in "\n".join(lines).split("\n"))
        return f"{type(self).__name__}(\n{body}\n)"


def _child_lines(children: list[tuple[str, Module]]) -> list[str]:
    """Format children as ``(name): repr``; runs of identical numbered children as one line,
    ``(1-48): 48 x Linear(...)``, so a 50-layer network prints in a few lines."""
    lines: list[str] = []
    i = 0
    while i < len(children):
        name, child = children[i]
        text = repr(child)
        j = i + 1
        if name.isdigit():
            while j < len(children) and children[j][0].isdigit() and repr(children[j][1]) == text:
                j += 1
        if j - i > 1:
            lines.append(f"({name}-{children[j - 1][0]}): {j - i} x {text}")
        else:
            lines.append(f"({name}): {text}")
        i = j
    return lines
