"""A spec's value lists: ranges (``log``, ``linear``, ``range``) and random draws.

A grid entry is a list of values, one value, or a range table::

    {log = [a, b], num = k}       a·(b/a)^(i/(k−1)), i = 0 … k−1  (a, b > 0)
    {linear = [a, b], num = k}    a + (b − a)·i/(k−1)
    {range = [a, b]}              a, a+1, … b−1 (half-open, like Python's range; a step may follow)

A ``[random]`` entry is ``{loguniform = [a, b]}`` (log x uniform on [log a, log b]),
``{uniform = [a, b]}`` or ``{choice = [...]}``. Bounds that are both integers give integers
(rounded, duplicates removed); floats are rounded to 12 significant digits, so ``1e-3`` is
``0.001`` and not ``0.0010000000000000002``. Every value is then parsed as ``mlplab train``
parses its flag (:func:`mlplab.sweep.options.parse_value`).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from .options import SpecError, parse_value

__all__ = ["expand_range", "grid_values", "parse_distribution", "draw", "parse_grid_text"]

DISTRIBUTIONS = ("loguniform", "uniform", "choice")


def _round(x: float) -> float:
    return float(f"{x:.12g}")


def _number(value: Any, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"spec: {where} = {value!r}: expected a finite number")
    return value


def _bounds(table: dict[str, Any], name: str, where: str) -> tuple[Any, Any]:
    pair = table[name]
    if not isinstance(pair, list) or len(pair) != 2:
        raise SpecError(f"spec: {where}.{name} = {pair!r}: expected two bounds [a, b]")
    a, b = (_number(v, f"{where}.{name}") for v in pair)
    if name in ("log", "loguniform") and not (a > 0 and b > 0):
        raise SpecError(f"spec: {where}.{name} = {pair!r}: log bounds must be > 0")
    return a, b


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expand_range(table: dict[str, Any], where: str) -> tuple[list[Any], bool]:
    """Expand a range table into its values; also say whether it is a ``log`` range.

    Raises:
        SpecError: for an unknown key, ``num`` < 1, a log bound <= 0, or an empty range.

    Examples:
        >>> expand_range({"log": [1e-3, 1.0], "num": 4}, "grid.lr")
        ([0.001, 0.01, 0.1, 1.0], True)
        >>> expand_range({"range": [0, 3]}, "seed"), expand_range({"log": [16, 128], "num": 4}, "b")
        (([0, 1, 2], False), ([16, 32, 64, 128], True))
    """
    kinds = [k for k in ("log", "linear", "range") if k in table]
    allowed = {"range"} if kinds == ["range"] else {"log", "linear", "num"}
    extra = sorted(set(table) - allowed)
    if len(kinds) != 1 or extra:
        bad = extra[0] if extra else "/".join(kinds) or "{}"
        raise SpecError(
            f"spec: {where}: bad range key {bad!r}; write {{log = [a, b], num = k}}, "
            "{linear = [a, b], num = k} or {range = [a, b]}"
        )
    if kinds == ["range"]:
        args = table["range"]
        if not (isinstance(args, list) and 2 <= len(args) <= 3 and all(map(_is_int, args))):
            raise SpecError(f"spec: {where}.range = {args!r}: expected integers [start, stop]")
        if len(args) == 3 and args[2] == 0:
            raise SpecError(f"spec: {where}.range = {args!r}: step must not be 0")
        values = list(range(*args))
        if not values:
            raise SpecError(f"spec: {where}.range = {args!r}: the range is empty")
        return values, False
    kind = kinds[0]
    num: Any = table.get("num")
    if not _is_int(num) or num < 1:
        raise SpecError(f"spec: {where}.num = {num!r}: expected an integer >= 1")
    a, b = _bounds(table, kind, where)
    xs = np.geomspace(a, b, num) if kind == "log" else np.linspace(a, b, num)
    if _is_int(a) and _is_int(b):
        return list(dict.fromkeys(int(round(x)) for x in xs)), kind == "log"
    return [_round(float(x)) for x in xs], kind == "log"


def grid_values(dest: str, value: Any, where: str) -> tuple[list[Any], bool]:
    """Return the parsed values of one grid entry (a list, one value, or a range table).

    ``where`` is the entry's place, ``grid.lr`` or ``grid[2].lr``.

    Raises:
        SpecError: for an empty list, a bad range, or a value ``train`` would refuse.

    Examples:
        >>> grid_values("batch_size", [32, "64"], "grid.batch_size")
        ([32, 64], False)
    """
    is_log = False
    if isinstance(value, dict):
        raw, is_log = expand_range(value, where)
    elif isinstance(value, list):
        raw = value
    else:
        raw = [value]
    if not raw:
        raise SpecError(f"spec: {where} = []: the grid lists no values")
    return [parse_value(dest, v, where.rsplit(".", 1)[0]) for v in raw], is_log


def parse_distribution(dest: str, dist: Any, where: str) -> tuple[dict[str, Any], bool]:
    """Validate one ``[random]`` entry; return it (choices parsed) and whether it is log-scaled.

    Examples:
        >>> parse_distribution("lr", {"loguniform": [1e-4, 1e-1]}, "random.lr")
        ({'loguniform': [0.0001, 0.1]}, True)
    """
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise SpecError(
            f"spec: {where} = {dist!r}: expected {{loguniform = [a, b]}}, "
            "{uniform = [a, b]} or {choice = [...]}"
        )
    ((kind, arg),) = dist.items()
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise SpecError(f"spec: {where}.choice = {arg!r}: expected a non-empty list")
        return {"choice": [parse_value(dest, v, "random") for v in arg]}, False
    a, b = _bounds(dist, kind, where)
    if a > b:
        raise SpecError(f"spec: {where}.{kind} = {arg!r}: expected a <= b")
    return {kind: [a, b]}, kind == "loguniform"


def draw(dists: dict[str, dict[str, Any]], samples: int, seed: int) -> list[dict[str, Any]]:
    """Draw ``samples`` points, each option from its own stream of ``SeedSequence(seed)``.

    Option k's stream is ``SeedSequence(seed, spawn_key=(crc32(k),))``, so adding an option or
    more samples leaves the earlier draws as they were, and a spec always gives the same trials.

    Examples:
        >>> pts = draw({"lr": {"loguniform": [1e-4, 1e-1]}}, 3, seed=0)
        >>> pts == draw({"lr": {"loguniform": [1e-4, 1e-1]}}, 3, seed=0), len(pts)
        (True, 3)
        >>> draw({"lr": {"loguniform": [1e-4, 1e-1]}}, 5, 0)[:3] == pts
        True
    """
    columns = {}
    for dest, dist in dists.items():
        stream = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(dest.encode()),))
        u = np.random.default_rng(stream).random(samples)
        ((kind, arg),) = dist.items()
        if kind == "choice":
            values = [arg[int(x * len(arg))] for x in u]
        else:
            a, b = arg
            if kind == "loguniform":
                xs = np.exp(math.log(a) + (math.log(b) - math.log(a)) * u)
            else:
                xs = a + (b - a) * u
            ints = _is_int(a) and _is_int(b)
            values = [int(round(x)) if ints else _round(float(x)) for x in xs]
        columns[dest] = [parse_value(dest, v, "random") for v in values]
    return [{k: col[i] for k, col in columns.items()} for i in range(samples)]


def _cli_number(text: str, where: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise SpecError(f"spec: {where}: {text!r} is not a number") from None


def parse_grid_text(text: str) -> tuple[str, Any]:
    """Split a ``--grid KEY=...`` text into the key and its TOML-like grid entry.

    ``V1,V2,...`` (``;`` between values that hold commas themselves), ``log:a:b:k``,
    ``linear:a:b:k`` or ``range:a:b(:step)``.

    Examples:
        >>> parse_grid_text("lr=log:1e-4:1:5"), parse_grid_text("betas=0.9,0.99;0.8,0.9")
        (('lr', {'log': [0.0001, 1], 'num': 5}), ('betas', ['0.9,0.99', '0.8,0.9']))
    """
    key, sep, rhs = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--grid {text!r}: expected KEY=V1,V2,... or KEY=log:a:b:k")
    where, (kind, _, rest) = f"--grid {key}", rhs.partition(":")
    parts = rest.split(":")
    if kind in ("log", "linear"):
        if len(parts) != 3:
            raise SpecError(f"{where}={rhs}: expected {kind}:a:b:k")
        num = _cli_number(parts[2], f"{where} num")
        return key, {kind: [_cli_number(p, where) for p in parts[:2]], "num": num}
    if kind == "range":
        return key, {"range": [_cli_number(p, where) for p in parts]}
    values = [v.strip() for v in rhs.split(";" if ";" in rhs else ",")]
    return key, [v for v in values if v]
