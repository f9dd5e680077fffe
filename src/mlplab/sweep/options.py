"""The sweep's view of ``mlplab train``'s options: their names, and values parsed as train does.

Nothing here lists the options by hand: they come from the ``train`` parser
(:func:`mlplab.commands.train.add_parser`), so an option added to ``train`` can be fixed or swept
at once. A value is parsed by that parser (the same types, ranges and choices), and a whole trial
is resolved by :func:`mlplab.commands.train.make_config` and built once on a tiny model, so a bad
value fails here, with the key named, before any trial runs.
"""

from __future__ import annotations

import argparse
import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

from ..commands import UsageError
from ..commands import build as B
from ..commands import train as T

__all__ = ["SpecError", "canonical_name", "parse_value", "flags_of", "resolve_config"]


class SpecError(UsageError):
    """A bad sweep spec, reported as one line naming the key (``mlplab`` exits with code 2)."""


class _Raising(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SpecError(message)


_RUN_ONLY_HINT = "is chosen by the sweep for every trial, not per trial"


@cache
def _train_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.Action], frozenset[str]]:
    """The ``train`` parser, its config options by every name they answer to, its run-only dests."""
    sub = _Raising(prog="mlplab").add_subparsers()
    parser = T.add_parser(sub)
    config_keys = {*T.DEFAULTS, *T.OPTIMIZER_FLAGS, *T.SCHEDULE_FLAGS}
    names: dict[str, argparse.Action] = {}
    run_only: set[str] = set()
    for action in parser._actions:
        if action.dest == "help" or not action.option_strings:
            continue
        if action.dest not in config_keys:
            run_only.add(action.dest)
            continue
        for option in action.option_strings:
            if option.startswith("--no-"):
                continue
            names[option.lstrip("-").replace("-", "_")] = action
    return parser, names, frozenset(run_only)


def canonical_name(key: str, where: str) -> str:
    """Return the config key (the train flag's dest) that a spec key names.

    A key is a ``train`` option without its dashes, with ``-`` or ``_``: ``batch_size``,
    ``batch-size``; an alias such as ``beta`` (for ``--momentum/--beta``) gives its dest.

    Raises:
        SpecError: for a key that is no train option, or one the sweep sets itself (``out``).

    Examples:
        >>> canonical_name("batch-size", "grid"), canonical_name("beta", "fixed")
        ('batch_size', 'momentum')
    """
    _, names, run_only = _train_parser()
    name = str(key).strip().replace("-", "_")
    if name in names:
        return names[name].dest
    if name in run_only:
        raise SpecError(f"spec: {where}.{key}: --{name.replace('_', '-')} {_RUN_ONLY_HINT}")
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SpecError(f"spec: {where}.{key}: not an `mlplab train` option{hint}")


def _is_flag(action: argparse.Action) -> bool:
    """An on-only flag (``--nesterov``); ``--[no-]bias-correction`` is not one."""
    return action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_value(dest: str, value: Any, where: str) -> Any:
    """Parse one value of option ``dest`` exactly as ``mlplab train`` parses its flag.

    ``value`` is TOML-typed (``0.1``, ``64``, ``true``, ``[0.9, 0.999]``) or command-line text
    (``"0.1"``). On/off options take a boolean (or ``true``/``false`` text). Tuples come back
    as lists, so the result is JSON as it is.

    Raises:
        SpecError: naming ``where.dest`` and the value, with the train parser's reason.

    Examples:
        >>> parse_value("lr", "1e-3", "grid"), parse_value("betas", [0.9, 0.99], "fixed")
        (0.001, [0.9, 0.99])
        >>> parse_value("lr", -1, "grid")
        Traceback (most recent call last):
        ...
        mlplab.sweep.options.SpecError: spec: grid.lr = -1: argument --lr: must be >= 0, got -1
    """
    parser, names, _ = _train_parser()
    action = names[dest]
    option = action.option_strings[0]
    if _is_flag(action) or isinstance(action, argparse.BooleanOptionalAction):
        flag = _as_bool(value)
        if flag is None:
            raise SpecError(f"spec: {where}.{dest} = {value!r}: expected true or false")
        return flag
    if isinstance(value, (bool, dict)):
        raise SpecError(f"spec: {where}.{dest} = {value!r}: expected a value for {option}")
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
        argv = [option, *(_text(v) for v in items)]
    else:
        argv = [f"{option}={_text(value)}"]
    try:
        parsed = getattr(parser.parse_args(argv), action.dest)
    except SpecError as err:
        raise SpecError(f"spec: {where}.{dest} = {value!r}: {err}") from None
    return json.loads(json.dumps(parsed))


def flags_of(values: dict[str, Any]) -> dict[str, Any]:
    """The flags ``mlplab train`` would receive: an on-only flag set to false is simply absent.

    Examples:
        >>> flags_of({"lr": 0.1, "nesterov": False, "bias_correction": False})
        {'lr': 0.1, 'bias_correction': False}
    """
    _, names, _ = _train_parser()
    return {
        k: v for k, v in values.items() if v is not None and not (_is_flag(names[k]) and v is False)
    }


def resolve_config(flags: dict[str, Any], label: str) -> dict[str, Any]:
    """Return ``make_config(flags)`` as JSON, after checking the run could be built.

    The data set name is checked, and the model, optimizer and lr schedule are built once on a
    1-input, 2-class model (cached per distinct setting), so a value ``train`` would refuse
    (an unknown activation, β ≥ 1, a flag the optimizer does not take) is refused here.

    Raises:
        SpecError: ``spec: trial {label}: <train's reason>``.

    Examples:
        >>> resolve_config({"optimizer": "sgd", "lr": 0.5}, "lr=0.5")["optimizer_args"]["lr"]
        0.5
        >>> resolve_config({"optimizer": "gd", "betas": [0.9, 0.9]}, "b")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.sweep.options.SpecError: spec: trial b: --betas does not apply to --optimizer gd ...
    """
    try:
        config = json.loads(json.dumps(T.make_config(flags)))
        _check_buildable(json.dumps(config, sort_keys=True))
    except UsageError as err:
        raise SpecError(f"spec: trial {label}: {' '.join(str(err).split())}") from None
    return config  # type: ignore[no-any-return]


_DATA_FREE = ("seed", "epochs", "batch_size", "flags", "data", "root", "download")


@cache
def _check_buildable(config_json: str) -> None:
    config = json.loads(config_json)
    data = str(config["data"])
    from ..data.datasets import DATASETS

    if data not in DATASETS and not Path(data).is_dir():
        raise UsageError(f"--data {data!r} is neither {', '.join(DATASETS)} nor a folder")
    _check_model(json.dumps({k: v for k, v in config.items() if k not in _DATA_FREE}))


@cache
def _check_model(model_json: str) -> None:
    config = json.loads(model_json) | {"seed": 0, "in_features": 1, "out_features": 2}
    model = B.build_model(config)
    B.build_scheduler(config, B.build_optimizer(config, model))
