"""fit / evaluate / checkpoints as a library: accuracy, closures, the NaN guard, exact resume."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab import optim
from mlplab.checkpoint import CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from mlplab.data import ArrayDataset, DataLoader, load_dataset
from mlplab.nn import MLP
from mlplab.train import Callback, DivergenceError, History, evaluate, fit


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "test")


def blobs(n=120, seed=0):
    """Two well separated Gaussian blobs in 2-D, labels 0/1 (float64)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return ArrayDataset(x, y.astype(np.int64))


def test_small_mlp_learns_mnist_5k(mnist):
    train, test = mnist
    model = MLP(784, 10, width=32, depth=2, rng=0)
    history = fit(
        model,
        optim.Adam(model.parameters(), lr=3e-3),
        DataLoader(train, batch_size=64, shuffle=True, seed=0),
        epochs=2,
        val_loader=DataLoader(test, batch_size=500),
    )
    loss, accuracy = evaluate(model, DataLoader(test, batch_size=500))
    assert accuracy >= 0.88
    assert history.epochs[-1]["val_accuracy"] == accuracy
    assert history.epochs[-1]["val_loss"] == pytest.approx(loss)
    assert history.epochs[1]["train_loss"] < history.epochs[0]["train_loss"]
    assert [row["steps"] for row in history.epochs] == [63, 126]
    assert len(history.steps) == 126


def test_evaluate_runs_in_eval_mode_without_graph_and_restores_mode():
    seen = []
    model = MLP(2, 2, width=4, depth=2, rng=0, dtype=np.float64)
    model.register_forward_hook(lambda m, inputs, out: seen.append((m.training, out.requires_grad)))
    evaluate(model, DataLoader(blobs(), batch_size=50))
    assert seen and all(mode == (False, False) for mode in seen)
    assert model.training


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.Nesterov(p, lr=0.1, beta=0.9),
        lambda p: optim.Newton(p, lr=0.5, damping=0.1),
        lambda p: optim.Momentum(p, lr=0.1, beta=0.9, bias_correction=True),
        lambda p: optim.GD(p, lr=0.5),
    ],
    ids=["nesterov", "newton", "momentum", "gd"],
)
def test_every_kind_of_optimizer_trains(make):
    data = blobs()
    model = MLP(2, 2, width=3, depth=2, rng=1, dtype=np.float64)
    loader = DataLoader(data, batch_size=40, shuffle=True, seed=0)
    before, _ = evaluate(model, loader)
    history = fit(model, make(model.parameters()), loader, epochs=5)
    after, accuracy = evaluate(model, loader)
    assert after < before
    assert accuracy >= 0.95
    assert len(history.epochs) == 5


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_loss_stops_with_the_step_and_a_hint():
    x = np.ones((8, 2))
    x[5] = np.inf  # the second batch of 4
    model = MLP(2, 2, width=3, depth=2, rng=0, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(DivergenceError, match=r"at step 2 \(epoch 1\).*smaller learning rate"):
        fit(model, opt, DataLoader(ArrayDataset(x, np.zeros(8, np.int64)), batch_size=4), 1)
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_callbacks_see_every_step_and_can_stop():
    events = []

    class Recorder(Callback):
        def on_step_end(self, state):
            events.append(("step", state.step))

        def on_epoch_end(self, state):
            events.append(("epoch", state.epoch))
            state.stop = state.epoch == 2

    model = MLP(2, 2, width=3, depth=2, rng=0, dtype=np.float64)
    loader = DataLoader(blobs(n=8), batch_size=4)
    history = fit(model, optim.Adam(model.parameters()), loader, 10, callbacks=[Recorder()])
    assert events == [("step", 1), ("step", 2), ("epoch", 1), ("step", 3), ("step", 4),
                      ("epoch", 2)]  # fmt: skip
    assert len(history.epochs) == 2


def test_bad_arguments():
    model = MLP(2, 2, width=3, depth=2, rng=0, dtype=np.float64)
    loader = DataLoader(blobs(n=8), batch_size=4)
    opt = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="epochs must be an int >= 0, got -1"):
        fit(model, opt, loader, -1)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        fit(model, opt, loader, 1, resume=True)


def _run(folder, epochs, resume=False, make=None):
    """A run whose every random choice comes from fixed seeds."""
    model = MLP(2, 2, width=8, depth=3, rng=3, dtype=np.float64)
    make = make or (lambda p: optim.Adam(p, lr=0.01))
    opt = make(model.parameters())
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    loader = DataLoader(blobs(n=100, seed=4), batch_size=16, shuffle=True, seed=7)
    val = DataLoader(blobs(40, 9), batch_size=40)
    history = fit(model, opt, loader, epochs, val_loader=val, checkpoint_dir=folder,
                  resume=resume, scheduler=sched, config={"k": 1})  # fmt: skip
    return model, opt, history


def _without_time(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.epochs]


@pytest.mark.parametrize(
    "make",
    [None, lambda p: optim.Nesterov(p, lr=0.05), lambda p: optim.SGD(p, lr=0.05, momentum=0.9)],
    ids=["adam", "nesterov", "sgd"],
)
def test_resume_is_bit_identical(tmp_path, make):
    full_model, full_opt, full = _run(tmp_path / "full", 5, make=make)
    _run(tmp_path / "cut", 2, make=make)
    model, opt, history = _run(tmp_path / "cut", 5, resume=True, make=make)
    for (name, a), b in zip(full_model.state_dict().items(), model.state_dict().values(),
                            strict=True):  # fmt: skip
        assert np.array_equal(a, b), name
    assert _without_time(history) == _without_time(full)
    assert history.steps == full.steps
    lr = full_opt.defaults["lr"]
    assert [row["lr"] for row in history.epochs] == [lr, lr, lr / 2, lr / 2, lr / 4]
    saved = load_checkpoint(checkpoint_path(tmp_path / "cut"))
    assert (saved.epoch, saved.step, saved.config) == (5, 35, {"k": 1})


def test_checkpoint_refuses_damage_and_other_architectures(tmp_path):
    model = MLP(2, 2, width=8, depth=2, rng=0)
    opt = optim.Adam(model.parameters())
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model=model, optimizer=opt, history=History(), config={"a": 1})
    other = MLP(2, 2, width=9, depth=2, rng=0)
    with pytest.raises(CheckpointError, match="does not fit the model.*shape mismatch"):
        load_checkpoint(path).load_model(other)
    with pytest.raises(CheckpointError, match="holds Adam state, the run uses SGD"):
        load_checkpoint(path).restore(model, optim.SGD(model.parameters(), lr=0.1))
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04junk" * 10)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.safetensors")
