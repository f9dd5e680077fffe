"""Progress that stays readable in logs: a tqdm bar on a terminal, plain lines anywhere else.

A tqdm bar redraws itself with carriage returns; written to a file, a pipe or a captured
notebook cell, every redraw stays, and a log fills with frames. :func:`progress_bar` gives
the bar only when its stream is a terminal; otherwise a :class:`PlainProgress`, which prints
one line every ``every`` seconds and one when it is closed::

    epoch 3/10: 63/63 loss=0.2154 acc=0.9371 (1.2 s)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

__all__ = ["PlainProgress", "progress_bar"]


class PlainProgress:
    """The part of tqdm's interface that mlplab uses, as plain periodic lines.

    A line ``"DESC: n/total k=v ... (seconds s)"`` is printed when at least ``every`` seconds
    have passed since the last one (never for every update), and once more by :meth:`close`
    if anything happened since; nothing uses carriage returns.

    Args:
        iterable: iterated by ``for x in bar`` (each item counts 1), or None to count by
            :meth:`update`.
        total: the expected count (default ``len(iterable)`` where it has one).
        desc: the line's prefix.
        file: where to print (default ``sys.stderr``).
        every: seconds between periodic lines.
        clock: the time source (seconds), for tests.

    Examples:
        >>> import io
        >>> ticks = iter(range(100))
        >>> out = io.StringIO()
        >>> bar = PlainProgress(total=4, desc="epoch 1/1", file=out, every=3,
        ...                     clock=lambda: float(next(ticks)))
        >>> for _ in range(4):
        ...     bar.update(1)
        >>> bar.set_postfix(loss="0.5000")
        >>> bar.close()
        >>> print(out.getvalue(), end="")
        epoch 1/1: 3/4 (3.0 s)
        epoch 1/1: 4/4 loss=0.5000 (5.0 s)
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        total: int | None = None,
        desc: str = "",
        file: TextIO | None = None,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc = iterable, total, desc
        self.file = file if file is not None else sys.stderr
        self.every, self.clock = float(every), clock
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self.start = self.last = clock()
        self._fresh = False  # something changed since the last line
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("PlainProgress: nothing to iterate (it was made without an iterable)")
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; print a line if ``every`` seconds passed since the last one."""
        self.n += n
        self._fresh = True
        now = self.clock()
        if now - self.last >= self.every:
            self._print(now)

    def set_postfix(self, **values: Any) -> None:
        """Set the ``key=value`` pairs of the next lines (as tqdm's ``set_postfix``)."""
        self.postfix = dict(values)
        self._fresh = True

    def close(self) -> None:
        """Print the final line (unless nothing changed since the last one)."""
        if self.closed:
            return
        self.closed = True
        if self._fresh:
            self._print(self.clock())

    def _print(self, now: float) -> None:
        count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        pairs = "".join(f" {k}={v}" for k, v in self.postfix.items())
        prefix = f"{self.desc}: " if self.desc else ""
        print(f"{prefix}{count}{pairs} ({now - self.start:.1f} s)", file=self.file, flush=True)
        self.last, self._fresh = now, False


class _Silent:
    """A disabled bar: counts nothing, prints nothing."""

    def __init__(self, iterable: Iterable[Any] | None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable or ())

    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, **values: Any) -> None: ...
    def close(self) -> None: ...


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    file: TextIO | None = None,
    disable: bool = False,
    every: float = 10.0,
) -> Any:
    """A tqdm bar when ``file`` (default ``sys.stderr``) is a terminal, else a
    :class:`PlainProgress` printing a line every ``every`` seconds and at the end.

    Examples:
        >>> import io
        >>> bar = progress_bar(range(3), desc="demo", file=io.StringIO())
        >>> type(bar).__name__, sum(bar)
        ('PlainProgress', 3)
    """
    if disable:
        return _Silent(iterable)
    stream = file if file is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=False, file=stream,
                    dynamic_ncols=True)  # fmt: skip
    return PlainProgress(iterable, total=total, desc=desc, file=stream, every=every)
