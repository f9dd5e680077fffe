"""Sweep specs: a TOML file (or ``--grid``/``--set`` options) → trials, each an ``mlplab train``.

A spec has up to three sections; every key is an ``mlplab train`` option (``lr``, ``batch_size``,
``optimizer``, ``seed``, ...)::

    [fixed]                     # the same in every trial
    optimizer = "sgd"
    epochs = 3

    [grid]                      # the product of its lists (the last key varies fastest)
    lr = {log = [1e-4, 1.0], num = 9}     # 1e-4 ... 1, log-spaced; linear = [a, b] too
    seed = {range = [0, 3]}               # 0, 1, 2: half-open, like Python's range

    [random]                    # samples drawn from numpy SeedSequence(seed), per key
    samples = 20
    seed = 0
    weight_decay = {loguniform = [1e-6, 1e-2]}    # also uniform = [a, b], choice = [...]

``[[grid]]`` (a list of tables) is the union of sub-grids, scikit-learn's ParameterGrid: each
sub-grid is a product, so ``momentum`` can be swept for ``momentum`` only. With both ``[grid]``
and ``[random]``, every grid point is combined with every sample. Range bounds that are both
integers (``{log = [16, 512], num = 6}``) give integers. The trials are the resolved
configurations ``make_config(flags)`` in a deterministic order, duplicates (same key) removed;
a trial's key is the hash of its canonical JSON (:func:`trial_key`).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .options import SpecError, canonical_name, flags_of, parse_value, resolve_config
from .values import draw, grid_values, parse_distribution, parse_grid_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Spec",
    "Trial",
    "SpecError",
    "trial_key",
    "load_spec",
    "load_study",
    "spec_from_options",
]

_SECTIONS = ("fixed", "grid", "random")
#: More trials than this is a typo (a num = 1e6), not a sweep.
MAX_TRIALS = 100_000


def trial_key(config: dict[str, Any]) -> str:
    """Return the trial's key: the first 16 hex digits of SHA-256 of its canonical JSON.

    Examples:
        >>> trial_key({"lr": 0.1, "seed": 0}) == trial_key({"seed": 0, "lr": 0.1})
        True
        >>> len(trial_key({}))
        16
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Trial:
    """One trial: the full resolved ``mlplab train`` configuration and its key.

    Examples:
        >>> t = Spec({"lr": 0.1}).trials()[0]
        >>> t.config["optimizer_args"]["lr"], t.key == trial_key(t.config)
        (0.1, True)
    """

    key: str
    config: dict[str, Any]

    def label(self, keys: list[str]) -> str:
        """The trial's values of ``keys`` as ``k=v`` words (unset keys left out).

        Examples:
            >>> t = Spec({"epochs": 1}, [{"lr": [0.1]}]).trials()[0]
            >>> t.label(["lr", "epochs", "momentum"])
            'lr=0.1 epochs=1'
        """
        flags = self.config["flags"]
        return " ".join(f"{k}={_text(flags[k])}" for k in keys if k in flags)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _options(table: Any, where: str, taken: dict[str, str]) -> dict[str, Any]:
    """``table``'s keys as config keys (each at most once across sections)."""
    if not isinstance(table, dict):
        raise SpecError(f"spec: [{where}] must be a table of options, got {table!r}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        dest = canonical_name(key, where)
        if dest in out or dest in taken:
            other = where if dest in out else taken[dest]
            raise SpecError(f"spec: {where}.{key}: {dest} is already given in [{other}]")
        out[dest] = value
    return out


class Spec:
    """A validated sweep: fixed options, sub-grids, random samples → :class:`Trial` list.

    Args:
        fixed: option → value for every trial (TOML-typed or command-line text).
        grids: the sub-grids, each option → list of values or a range table.
        random: ``{"samples": N, "seed": S, option: {distribution: ...}}`` or None.
        description: free text about the sweep (kept with the spec, shown in the report).

    Raises:
        SpecError: for anything that is not a valid sweep (one line naming the key), raised
            here, before any trial runs.

    Examples:
        >>> s = Spec({"optimizer": "sgd"}, [{"lr": [0.1, 0.01]}, {"lr": [0.1], "epochs": [1]}])
        >>> [t.label(s.swept_keys()) for t in s.trials()]
        ['lr=0.1', 'lr=0.01', 'lr=0.1 epochs=1']
    """

    def __init__(
        self,
        fixed: dict[str, Any] | None = None,
        grids: list[dict[str, Any]] | None = None,
        random: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.description = description
        self.fixed = {
            k: parse_value(k, v, "fixed") for k, v in _options(fixed or {}, "fixed", {}).items()
        }
        taken = dict.fromkeys(self.fixed, "fixed")
        self.grids: list[dict[str, list[Any]]] = []
        self._log: set[str] = set()
        for i, grid in enumerate(grids or []):
            where = "grid" if grids is not None and len(grids) == 1 else f"grid[{i}]"
            table = _options(grid, where, taken)
            if not table:
                raise SpecError(
                    f"spec: [{where}] lists no options (leave it out to run [fixed] alone)"
                )
            values = {}
            for dest, value in table.items():
                values[dest], is_log = grid_values(dest, value, f"{where}.{dest}")
                if is_log:
                    self._log.add(dest)
            self.grids.append(values)
        self.random = self._parse_random(random, taken | {k: "grid" for g in self.grids for k in g})
        self._trials = self._expand()

    def _parse_random(
        self, random: dict[str, Any] | None, taken: dict[str, str]
    ) -> dict[str, Any] | None:
        if random is None:
            return None
        if not isinstance(random, dict):
            raise SpecError(f"spec: [random] must be a table, got {random!r}")
        table = dict(random)
        samples, seed = table.pop("samples", None), table.pop("seed", 0)
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise SpecError(f"spec: random.samples = {samples!r}: expected an integer >= 1")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise SpecError(f"spec: random.seed = {seed!r}: expected an integer >= 0")
        dists = {}
        for dest, dist in _options(table, "random", taken).items():
            dists[dest], is_log = parse_distribution(dest, dist, f"random.{dest}")
            if is_log:
                self._log.add(dest)
        if not dists:
            raise SpecError("spec: [random] draws no options (add e.g. lr = {loguniform = [a, b]})")
        return {"samples": samples, "seed": seed, **dists}

    def _samples(self) -> list[dict[str, Any]]:
        if self.random is None:
            return [{}]
        table = dict(self.random)
        samples, seed = table.pop("samples"), table.pop("seed")
        return draw(table, samples, seed)

    def _expand(self) -> list[Trial]:
        sizes = [math.prod(len(v) for v in g.values()) for g in self.grids] or [1]
        total = sum(sizes) * (self.random["samples"] if self.random else 1)
        if total > MAX_TRIALS:
            raise SpecError(
                f"spec: {total:,} trials is more than {MAX_TRIALS:,}; check the num of each range"
            )
        points = [
            dict(zip(g, combo, strict=True))
            for g in self.grids or [{}]
            for combo in itertools.product(*g.values())
        ]
        trials: dict[str, Trial] = {}
        samples = self._samples()
        for point in points:
            for sample in samples:
                flags = flags_of(self.fixed | point | sample)
                label = " ".join(f"{k}={_text(v)}" for k, v in flags.items()) or "(defaults)"
                config = resolve_config(flags, label)
                key = trial_key(config)
                trials.setdefault(key, Trial(key, config))
        return list(trials.values())

    def trials(self) -> list[Trial]:
        """The trials, in the spec's order, each key once.

        Examples:
            >>> s = Spec(None, [{"lr": [0.1, 0.01]}, {"lr": [0.1]}])
            >>> [t.label(["lr"]) for t in s.trials()]  # the second grid's lr=0.1 is a duplicate
            ['lr=0.1', 'lr=0.01']
        """
        return list(self._trials)

    def swept_keys(self) -> list[str]:
        """The options given in ``[grid]``/``[[grid]]``/``[random]``, in order of appearance.

        Examples:
            >>> s = Spec({"optimizer": "sgd"}, [{"lr": [0.1]}, {"lr": [0.01], "momentum": [0.9]}],
            ...          {"samples": 2, "weight_decay": {"loguniform": [1e-6, 1e-2]}})
            >>> s.swept_keys()
            ['lr', 'momentum', 'weight_decay']
        """
        keys = [k for g in self.grids for k in g]
        keys += [k for k in self.random or {} if k not in ("samples", "seed")]
        return list(dict.fromkeys(keys))

    def log_keys(self) -> set[str]:
        """The options given as ``log`` ranges or ``loguniform`` draws (plotted on log axes).

        Examples:
            >>> s = Spec(None, [{"lr": {"log": [1e-3, 0.1], "num": 3}, "seed": [0, 1]}])
            >>> s.log_keys(), [t.label(["lr"]) for t in s.trials()][::2]
            ({'lr'}, ['lr=0.001', 'lr=0.01', 'lr=0.1'])
        """
        return set(self._log)

    def to_json(self) -> dict[str, Any]:
        """The canonical spec, as stored in the sweep's database.

        Examples:
            >>> Spec({"epochs": 1, "depth": 3}, [{"lr": [0.1]}]).to_json()
            {'fixed': {'depth': 3, 'epochs': 1}, 'grid': [{'lr': [0.1]}], 'random': None, \
'swept': ['lr'], 'log': [], 'description': None}
        """
        return {
            "fixed": dict(sorted(self.fixed.items())),
            "grid": self.grids,
            "random": self.random,
            "swept": self.swept_keys(),
            "log": sorted(self._log),
            "description": self.description,
        }


def _from_toml(raw: dict[str, Any], source: str) -> Spec:
    for name in raw:
        if name not in (*_SECTIONS, "description"):
            close = difflib.get_close_matches(name, _SECTIONS, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            raise SpecError(
                f"spec {source}: unknown section [{name}]{hint}; expected [fixed], [grid], "
                "[[grid]], [random]"
            )
    grid = raw.get("grid")
    if isinstance(grid, list) and not grid:
        raise SpecError(f"spec {source}: [[grid]] lists no sub-grids")
    grids = [grid] if isinstance(grid, dict) else grid
    if grids is not None and not all(isinstance(g, dict) for g in grids):
        raise SpecError(
            f"spec {source}: grid must be a table [grid] or tables [[grid]], got {grid!r}"
        )
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError(f"spec {source}: description must be a string, got {description!r}")
    return Spec(raw.get("fixed"), grids, raw.get("random"), description)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a TOML sweep spec (see the module docstring for the format).

    Raises:
        SpecError: for a missing or unreadable file, bad TOML, or an invalid spec.

    Examples:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "s.toml")
        ...     _ = open(p, "w").write("[grid]\\nlr = [0.1, 0.01]\\nseed = {range = [0, 2]}\\n")
        ...     len(load_spec(p).trials())
        4
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"spec {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"spec {path}: cannot read it ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"spec {path}: not valid TOML: {err}") from None
    return _from_toml(raw, str(path))


def load_study(name: str) -> Spec:
    """Load a built-in study shipped in ``mlplab/sweep/studies/`` (``optimizers``, ``init``).

    Examples:
        >>> len(load_study("init").trials())
        48
    """
    path = resources.files("mlplab.sweep") / "studies" / f"{name}.toml"
    if not path.is_file():
        raise SpecError(f"no built-in study {name!r}")
    return _from_toml(tomllib.loads(path.read_text(encoding="utf-8")), f"{name}.toml")


def spec_from_options(grid: list[str], set_: list[str]) -> Spec:
    """Build a spec from ``--grid KEY=...`` and ``--set KEY=VALUE`` texts.

    ``--grid`` takes ``V1,V2,...`` (``;`` between values that hold commas themselves, such as
    ``betas=0.9,0.999;0.8,0.99``), ``log:a:b:k``, ``linear:a:b:k`` or ``range:a:b(:step)``.
    All ``--grid`` options form one product grid.

    Examples:
        >>> s = spec_from_options(["lr=log:1e-3:1e-1:3", "seed=range:0:2"], ["optimizer=sgd"])
        >>> [t.label(["lr", "seed"]) for t in s.trials()][:3], sorted(s.log_keys())
        (['lr=0.001 seed=0', 'lr=0.001 seed=1', 'lr=0.01 seed=0'], ['lr'])
    """
    fixed: dict[str, Any] = {}
    for text in set_:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {text!r}: expected KEY=VALUE")
        if key.strip() in fixed:
            raise SpecError(f"--set {key}: given twice")
        fixed[key.strip()] = value.strip()
    table: dict[str, Any] = {}
    for text in grid:
        key, values = parse_grid_text(text)
        if key.strip() in table:
            raise SpecError(f"--grid {key}: given twice (list every value in one --grid)")
        table[key.strip()] = values
    return Spec(fixed, [table] if table else None)
