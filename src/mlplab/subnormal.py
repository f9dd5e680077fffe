"""Subnormal numbers in gradients and optimizer state: detect them and say so.

A float is *subnormal* when 0 < |x| < ``np.finfo(dtype).tiny`` (1.2e-38 in float32): it has lost
the leading bit of its mantissa, and on x86 CPUs arithmetic that reads or writes one takes a
slow microcode path, many times slower than on normal numbers. In training this happens when
the gradients vanish: a 50-layer ReLU net started with too small weights (PyTorch's default
Linear initialization, or σ² = 1/n) has gradients of 1e-20 in its first layers, and Adam's
second moment v ← β₂v + (1−β₂)g² then holds numbers of 1e-40 — every step runs several times
slower, while the net learns nothing there. The fix is a better initialization (Kaiming for
ReLU, σ² = 2/n), not a faster CPU.

:func:`warn_if_subnormal` counts them in an optimizer's state and the gradients; ``fit`` calls it
after every epoch and warns once (one line, ``SubnormalWarning``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["SubnormalWarning", "subnormal_fraction", "subnormal_report", "warn_if_subnormal"]

#: the fraction of an array's elements that counts as "a sizable part" for the warning
THRESHOLD = 0.01


class SubnormalWarning(RuntimeWarning):
    """Gradients or optimizer state went subnormal (slow arithmetic, vanishing gradients)."""


def subnormal_fraction(arrays: Iterable[Any]) -> float:
    """Return the fraction of the elements of floating ``arrays`` with 0 < |x| < finfo.tiny.

    Examples:
        >>> import numpy as np
        >>> subnormal_fraction([np.array([1.0, 1e-40, 0.0, 2e-39], dtype=np.float32)])
        0.5
    """
    count = total = 0
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind != "f" or a.size == 0:
            continue
        tiny = np.finfo(a.dtype).tiny
        magnitude = np.abs(a)
        count += int(np.count_nonzero((magnitude < tiny) & (magnitude > 0)))
        total += a.size
    return count / total if total else 0.0


def subnormal_report(optimizer: Any) -> dict[str, float]:
    """Return name -> subnormal fraction for the gradients and each optimizer state array.

    Args:
        optimizer: an ``mlplab.optim`` optimizer (its ``param_groups`` and ``state``).

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import Adam
        >>> w = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
        >>> opt = Adam([w]); w.grad = Tensor(np.full(4, 1e-20, dtype=np.float32)); opt.step()
        >>> subnormal_report(opt)["exp_avg_sq"]  # (1 − β₂)·g² = 1e-43: all subnormal
        1.0
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    arrays: dict[str, list[Any]] = {"grad": [p.grad.data for p in params if p.grad is not None]}
    for p in params:
        for name, value in optimizer.state.get(p, {}).items():
            if isinstance(value, np.ndarray):
                arrays.setdefault(name, []).append(value)
    return {name: subnormal_fraction(group) for name, group in arrays.items()}


def warn_if_subnormal(optimizer: Any, where: str = "fit", threshold: float = THRESHOLD) -> bool:
    """Warn (once per call site, one line) when a sizable part of the state is subnormal.

    Args:
        optimizer: an ``mlplab.optim`` optimizer.
        where: the caller's name, at the start of the message.
        threshold: the fraction of an array group from which to warn.

    Returns:
        True when it warned.

    Examples:
        >>> import numpy as np
        >>> from mlplab import Tensor
        >>> from mlplab.optim import SGD
        >>> w = Tensor(np.ones(2), requires_grad=True)
        >>> opt = SGD([w], lr=0.1); w.grad = Tensor(np.ones(2)); opt.step()
        >>> warn_if_subnormal(opt)
        False
    """
    report = subnormal_report(optimizer)
    bad = {name: f for name, f in report.items() if f >= threshold}
    if not bad:
        return False
    parts = ", ".join(f"{f:.0%} of {name}" for name, f in bad.items())
    warnings.warn(
        f"{where}: {parts} subnormal (0 < |x| < {np.finfo(np.float32).tiny:.1e} in float32): the "
        "gradients are vanishing and arithmetic on subnormals runs many times slower; use a "
        "better initialization (Kaiming for ReLU, σ² = 2/n) or normalization",
        SubnormalWarning,
        stacklevel=3,
    )
    return True
