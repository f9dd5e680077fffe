"""Fuzzing checkpoint loading: mutated files, hostile metadata and tensors, and ``--resume``.

The contract: :func:`mlplab.checkpoint.load_checkpoint` followed by ``Checkpoint.restore`` into
the run's own objects either works or raises :class:`CheckpointError` with one line naming the
file; never another exception. ``mlplab train --resume`` on such a file exits 0 or 2 with one
line, never a traceback. ``MLPLAB_FUZZ_SCALE`` multiplies the number of examples.
"""

import json
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab
from fuzzing import mutations
from mlplab.checkpoint import CheckpointError, checkpoint_path, load_checkpoint
from mlplab.cli import main
from mlplab.commands import build as B
from mlplab.commands import rundir
from mlplab.data import ArrayDataset, DataLoader

SCALE = int(os.environ.get("MLPLAB_FUZZ_SCALE", "1"))
TINY = ArrayDataset(np.zeros((8, 784), np.float32), np.zeros(8, np.int64))


def _settings(n: int) -> settings:
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        derandomize=SCALE == 1,  # CI: the same examples every run
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real one-epoch run (Adam, step schedule) and its checkpoint's parts."""
    out = tmp_path_factory.mktemp("fuzz") / "run"
    args = ["train", "--width", "4", "--epochs", "1", "--batch-size", "1000", "--quiet",
            "--lr-schedule", "step", "--step-size", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    path = checkpoint_path(out)
    tensors, metadata = mlplab.load(path, with_metadata=True)
    return _Run(dir=out, bytes=path.read_bytes(), tensors=tensors, metadata=metadata,
                config=load_checkpoint(path).config)  # fmt: skip


class _Run(dict):
    """The fixture's parts, with a short repr (hypothesis prints it with a failing example)."""

    def __init__(self, **parts):
        super().__init__(parts)

    def __repr__(self) -> str:
        return f"<run in {self['dir']}>"


def _objects(config):
    model = B.build_model(config)
    optimizer = B.build_optimizer(config, model)
    loader = DataLoader(TINY, batch_size=4, shuffle=True, seed=0)  # restores only its position
    return model, optimizer, loader, B.build_scheduler(config, optimizer)


def _load_and_restore(path, config):
    """load_checkpoint + restore, or the error, checked against the contract."""
    try:
        saved = load_checkpoint(path)
        saved.restore(*_objects(config))
        return saved
    except CheckpointError as err:
        message = str(err)
        assert "\n" not in message and str(path) in message, message
        return err


RENAMES = ["optimizer/", "optimizer/x/m", "optimizer/0", "model/", "optimizer/-1/m",
           "optimizer/99/exp_avg", "other"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@st.composite
def hostile(draw, run: dict) -> tuple[dict, dict]:
    """The run's checkpoint with one to three parts replaced by arbitrary values."""
    tensors, metadata = dict(run["tensors"]), dict(run["metadata"])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["meta", "meta-part", "meta-text", "drop", "tensor", "name",
                                     "config", "flag"]))  # fmt: skip
        key = draw(st.sampled_from(sorted(metadata)))
        if kind == "meta":
            metadata[key] = json.dumps(draw(json_values))
        elif kind == "meta-part":  # one field inside a JSON value
            try:
                value = json.loads(metadata[key])
            except (ValueError, RecursionError):  # "format", or text an earlier round made
                continue
            if isinstance(value, dict) and value:
                value[draw(st.sampled_from(sorted(value)))] = draw(json_values)
            metadata[key] = json.dumps(value)
        elif kind in ("config", "flag") and "config" in metadata:
            try:
                config = json.loads(metadata["config"])
                part = config["flags"] if kind == "flag" else config
                part[draw(st.sampled_from(sorted(part)) | st.text(max_size=5))] = draw(json_values)
            except (ValueError, RecursionError, TypeError, KeyError):  # no longer JSON objects
                continue
            metadata["config"] = json.dumps(config)
        elif kind == "meta-text":
            metadata[key] = draw(st.text(max_size=10) | st.just("[" * 5000))
        elif kind == "drop":
            metadata.pop(key)
        elif kind == "tensor" and tensors:
            name = draw(st.sampled_from(sorted(tensors)))
            shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
            dtype = draw(st.sampled_from(["float32", "float64", "int64", "uint8", "bool"]))
            tensors[name] = np.zeros(shape, dtype)
        elif tensors:
            name = draw(st.sampled_from(sorted(tensors)))
            new = draw(st.sampled_from(RENAMES))
            tensors[new + draw(st.text(max_size=3))] = tensors.pop(name)
    return tensors, metadata


def test_the_valid_checkpoint_loads_and_restores(run, tmp_path):
    path = tmp_path / "c.safetensors"
    path.write_bytes(run["bytes"])
    saved = _load_and_restore(path, run["config"])
    assert not isinstance(saved, Exception) and saved.epoch == 1


@_settings(120)
@given(data=st.data())
def test_mutated_files_load_or_raise_checkpoint_error(run, tmp_path, data):
    path = tmp_path / "c.safetensors"
    mutated = data.draw(mutations(run["bytes"]))
    path.write_bytes(mutated)
    result = _load_and_restore(path, run["config"])
    if len(mutated) < len(run["bytes"]) and run["bytes"].startswith(mutated):
        assert isinstance(result, CheckpointError)


@_settings(150)
@given(data=st.data())
def test_hostile_metadata_and_tensors_load_or_raise_checkpoint_error(
    run, tmp_path, monkeypatch, data
):
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # durability is not the point; speed is
    path = tmp_path / "c.safetensors"
    tensors, metadata = data.draw(hostile(run))
    mlplab.save(tensors, path, metadata=metadata)
    _load_and_restore(path, run["config"])


@_settings(25)
@given(data=st.data())
def test_resume_from_a_hostile_checkpoint_exits_0_or_2_in_one_line(
    run, tmp_path, data, monkeypatch, capsys
):
    monkeypatch.setattr(rundir, "plot_curves", lambda *a, **k: None)  # figures: not the point
    out = tmp_path / "run"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(run["dir"], out)
    tensors, metadata = data.draw(hostile(run))
    mlplab.save(tensors, checkpoint_path(out), metadata=metadata)
    capsys.readouterr()
    code = main(["train", "--out", str(out), "--resume", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("mlplab train: error: "), err


NO_SECONDS = {"epochs": [{"epoch": 1, "steps": 4}], "steps": [], "stride": 1, "max_steps": 9}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("flags", [1]),
        ("config", []),
        ("epoch", -1),
        ("epoch", 1e400),
        ("history", NO_SECONDS),
        ("history", NO_SECONDS | {"epochs": {"": None}}),
        ("flags", {"width": [None]}),
    ],  # fmt: skip
)
def test_resume_from_found_cases_exits_2(run, tmp_path, capsys, field, value):
    """Cases fuzzing found (each was a traceback): flags or config not an object, a bad epoch,
    a history row without its seconds (scripts/fuzz.py found that one)."""
    out = tmp_path / "run"
    shutil.copytree(run["dir"], out)
    metadata = dict(run["metadata"])
    if field == "flags":
        flags = (
            value if isinstance(value, list) else json.loads(metadata["config"])["flags"] | value
        )
        metadata["config"] = json.dumps(json.loads(metadata["config"]) | {"flags": flags})
    else:
        metadata[field] = json.dumps(value)
    mlplab.save(run["tensors"], checkpoint_path(out), metadata=metadata)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlplab train: error: "), err
