"""Datasets and the DataLoader: minibatches for minibatch SGD.

Minibatch SGD (the lecture) replaces the full gradient by the mean over a batch B of |B| samples,
``θ ← θ − (α/|B|) Σ_{i∈B} ∇ℓ(h_θ(xᵢ), yᵢ)``. The :class:`DataLoader` produces those batches: one
epoch visits every sample exactly once, in a fresh random order each epoch when ``shuffle=True``.

A batch of an :class:`ArrayDataset` is cut by one fancy-indexing operation on the whole arrays
(``x[idx]``), never by a Python loop over samples; without shuffling a batch is a slice, a view
that copies nothing. The order is drawn from a ``numpy.random.Generator`` seeded once, whose state
advances by one permutation per epoch; :meth:`DataLoader.state_dict` records that state and the
epoch counter as plain JSON-able values, so training resumed at an epoch boundary sees exactly
the batches an uninterrupted run would.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import random
from ..tensor import Tensor

__all__ = ["Dataset", "ArrayDataset", "DataLoader"]


class Dataset:
    """A sized collection of ``(x, y)`` samples: subclasses define ``__len__`` and ``__getitem__``.

    Examples:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return float(i), i * i
        >>> Squares()[3]
        (3.0, 9)
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class ArrayDataset(Dataset):
    """A dataset held as two arrays whose first axis indexes the samples.

    Args:
        x: inputs, shape (N, ...), e.g. (N, 784) float32 images.
        y: targets, shape (N, ...), e.g. (N,) int64 labels.

    Raises:
        ValueError: if either array is 0-dimensional or their lengths differ.

    Examples:
        >>> import numpy as np
        >>> ds = ArrayDataset(np.zeros((3, 2), np.float32), np.array([0, 1, 2]))
        >>> len(ds), ds[1]
        (3, (array([0., 0.], dtype=float32), np.int64(1)))
    """

    def __init__(self, x: Any, y: Any) -> None:
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(
                f"ArrayDataset: x and y need a sample axis, got shapes {x.shape} and {y.shape}"
            )
        if len(x) != len(y):
            raise ValueError(
                f"ArrayDataset: x and y must have the same length, got {len(x)} samples "
                f"(shape {x.shape}) and {len(y)} targets (shape {y.shape})"
            )
        self.x = x
        self.y = y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: Any) -> tuple[Any, Any]:
        return self.x[index], self.y[index]

    def __repr__(self) -> str:
        return f"ArrayDataset(x: {self.x.shape} {self.x.dtype}, y: {self.y.shape} {self.y.dtype})"


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be a bool, got {value!r}")
    return bool(value)


class DataLoader:
    """Iterate over a dataset in minibatches of ``(x, y)`` Tensors.

    Args:
        dataset: an :class:`ArrayDataset` (fast path: one fancy index per batch) or any
            :class:`Dataset` (samples are stacked with ``np.stack``).
        batch_size: samples per batch, >= 1.
        shuffle: visit the samples in a new random order each epoch.
        drop_last: drop the last batch if it has fewer than ``batch_size`` samples.
        seed: seed of the ``numpy.random.Generator`` that draws the orders; None spawns it
            from the library's default generator (:func:`mlplab.random.generator`, so
            reproducible after ``mlplab.manual_seed``; the state is still saved by
            :meth:`state_dict`).

    Each ``iter(loader)`` is one epoch. ``len(loader)`` is the number of batches per epoch:
    ``ceil(N / batch_size)``, or ``floor(N / batch_size)`` with ``drop_last``.

    Raises:
        ValueError: if ``batch_size < 1``, or the dataset is empty.
        TypeError: if ``batch_size`` is not an int, ``shuffle``/``drop_last`` not bools, or
            ``dataset`` has no ``__len__``/``__getitem__``.

    Examples:
        >>> import numpy as np
        >>> ds = ArrayDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
        >>> loader = DataLoader(ds, batch_size=2, shuffle=True, seed=0)
        >>> len(loader)
        3
        >>> sorted(int(i) for _, y in loader for i in y.numpy())
        [0, 1, 2, 3, 4]
        >>> [y.shape for _, y in DataLoader(ds, batch_size=2, drop_last=True)]
        [(2,), (2,)]
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader: dataset must define __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(
            batch_size, (int, np.integer)
        ):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: dataset is empty (0 samples)")
        if seed is not None and (
            isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))
        ):
            raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r}")
        if seed is not None and seed < 0:
            raise ValueError(f"DataLoader: seed must be >= 0, got {seed}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = _check_flag("shuffle", shuffle)
        self.drop_last = _check_flag("drop_last", drop_last)
        self.seed = None if seed is None else int(seed)
        self.epoch = 0
        # A spawned child leaves the default generator's stream untouched (model init after it
        # draws the same weights with or without this loader).
        self._rng = (
            random.generator().spawn(1)[0] if seed is None else np.random.default_rng(self.seed)
        )

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray | None:
        """The sample order of the next epoch (None: the natural order)."""
        if not self.shuffle:
            return None
        return self._rng.permutation(len(self.dataset))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        # Draw the order now, not lazily, so the epoch counter and the generator state always
        # move together: a state_dict taken during epoch k resumes at epoch k + 1.
        order = self._order()
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[Tensor, Tensor]]:
        n, b = len(self.dataset), self.batch_size
        for start in range(0, len(self) * b, b):
            stop = min(start + b, n)
            yield self._take(slice(start, stop) if order is None else order[start:stop])

    def _take(self, index: slice | np.ndarray) -> tuple[Tensor, Tensor]:
        """One batch: a slice (a view) or one fancy index of the arrays; else stack samples."""
        ds = self.dataset
        if isinstance(ds, ArrayDataset):
            return Tensor(ds.x[index]), Tensor(ds.y[index])
        samples = [ds[int(i)] for i in np.arange(len(ds))[index]]
        xb = np.stack([np.asarray(s[0]) for s in samples])
        yb = np.stack([np.asarray(s[1]) for s in samples])
        return Tensor(xb), Tensor(yb)

    def state_dict(self) -> dict[str, Any]:
        """Return the loader's position: the epoch counter and the generator's state.

        Every value is a plain int, str or dict of them (``json.dumps`` works on it).

        Examples:
            >>> import json, numpy as np
            >>> ds = ArrayDataset(np.arange(6.0), np.arange(6))
            >>> a = DataLoader(ds, batch_size=6, shuffle=True, seed=1)
            >>> _ = list(a)
            >>> state = json.loads(json.dumps(a.state_dict()))
            >>> b = DataLoader(ds, batch_size=6, shuffle=True, seed=99)
            >>> b.load_state_dict(state)
            >>> [y.numpy().tolist() for _, y in b] == [y.numpy().tolist() for _, y in a]
            True
        """
        return {
            "epoch": self.epoch,
            "seed": self.seed,
            "bit_generator": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`; the next epoch repeats the saved run's.

        Raises:
            ValueError: if ``state`` lacks a key or names another bit generator.

        Examples:
            >>> import numpy as np
            >>> ds = ArrayDataset(np.arange(4.0), np.arange(4))
            >>> a = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
            >>> state = a.state_dict()
            >>> first = [y.numpy().tolist() for _, y in a]
            >>> a.load_state_dict(state)  # back to before that epoch: the same order again
            >>> [y.numpy().tolist() for _, y in a] == first
            True
            >>> a.load_state_dict({"epoch": 0})
            Traceback (most recent call last):
            ...
            ValueError: DataLoader.load_state_dict: missing keys ['bit_generator']
        """
        missing = {"epoch", "bit_generator"} - set(state)
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        bit_state = state["bit_generator"]
        mine = type(self._rng.bit_generator).__name__
        if not isinstance(bit_state, dict) or bit_state.get("bit_generator") != mine:
            got = bit_state.get("bit_generator") if isinstance(bit_state, dict) else bit_state
            raise ValueError(
                f"DataLoader.load_state_dict: bit_generator state must be a {mine} state dict, "
                f"got {got!r}"
            )
        self._rng.bit_generator.state = copy.deepcopy(bit_state)
        self.epoch = operator.index(state["epoch"])
        self.seed = state.get("seed", self.seed)
