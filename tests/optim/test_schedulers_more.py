"""MultiStepLR, OneCycleLR, ReduceLROnPlateau, SequentialLR: PyTorch's sequences to 1e-12, and
state_dict round-trips (through JSON and mlplab.save) that continue exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mlplab
from mlplab import Tensor, optim

torch = pytest.importorskip("torch")

STEPS = 40


def pair(kind="sgd", groups=1, lr=0.5):
    """An mlplab optimizer and a torch one, with the same groups and hyperparameters."""
    mine_params = [{"params": [Tensor(np.zeros(1))], "lr": lr * (i + 1)} for i in range(groups)]
    theirs_params = [
        {"params": [torch.zeros(1, requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)
    ]
    if kind == "sgd":
        return optim.SGD(mine_params, lr=lr, momentum=0.9), torch.optim.SGD(
            theirs_params, lr=lr, momentum=0.9
        )
    return optim.Adam(mine_params, lr=lr), torch.optim.Adam(theirs_params, lr=lr)


def run(sched, opt, metrics=None, steps=STEPS):
    """lr (and momentum) of every group before each step, and after the last."""
    out = []
    for t in range(steps + 1):
        row = []
        for g in opt.param_groups:
            row.append(float(g["lr"]))
            if "momentum" in g:
                row.append(float(g["momentum"]))
            if "betas" in g:
                row.append(float(g["betas"][0]))
        out.append(row)
        if t < steps:
            opt.step()
            sched.step(metrics[t]) if metrics is not None else sched.step()
    return np.array(out)


def close(mine, theirs):
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_multistep_matches_torch_with_repeated_milestones():
    mo, to = pair(groups=2)
    kw = dict(milestones=[3, 7, 7, 20], gamma=0.3)
    close(run(optim.MultiStepLR(mo, **kw), mo),
          run(torch.optim.lr_scheduler.MultiStepLR(to, **kw), to))  # fmt: skip


@pytest.mark.parametrize(
    "kind,kw",
    [
        ("sgd", dict(max_lr=1.0, total_steps=STEPS)),
        ("sgd", dict(max_lr=[1.0, 2.0], total_steps=STEPS, anneal_strategy="linear")),
        ("adam", dict(max_lr=0.01, epochs=4, steps_per_epoch=10, three_phase=True)),
        ("adam", dict(max_lr=0.01, total_steps=STEPS, pct_start=0.25, div_factor=10.0,
                      final_div_factor=100.0, cycle_momentum=False)),
    ],
)  # fmt: skip
def test_one_cycle_matches_torch(kind, kw):
    mo, to = pair(kind, groups=len(kw["max_lr"]) if isinstance(kw["max_lr"], list) else 1)
    close(run(optim.OneCycleLR(mo, **kw), mo),
          run(torch.optim.lr_scheduler.OneCycleLR(to, **kw), to))  # fmt: skip


PLATEAU = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89, 0.91, 0.92, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49] * 3


@pytest.mark.parametrize(
    "kw",
    [
        dict(patience=1, factor=0.5),
        dict(patience=2, factor=0.5, cooldown=2, min_lr=0.05, threshold_mode="abs",
             threshold=0.02),
        dict(mode="max", patience=0, factor=0.7, threshold=0.01),
    ],
)  # fmt: skip
def test_reduce_on_plateau_matches_torch(kw):
    mo, to = pair(groups=2)
    metrics = PLATEAU[:STEPS]
    close(run(optim.ReduceLROnPlateau(mo, **kw), mo, metrics),
          run(torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw), to, metrics))  # fmt: skip


def sequences(lib, opt):
    s = lib.optim.lr_scheduler if lib is torch else optim
    return [
        ([s.LinearLR(opt, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(opt, T_max=30)],
         [5]),
        ([s.ExponentialLR(opt, gamma=0.9), s.StepLR(opt, step_size=4, gamma=0.5),
          s.MultiStepLR(opt, milestones=[3, 6], gamma=0.5)], [10, 22]),
        ([s.ConstantLR(opt, factor=0.5, total_iters=3) if lib is torch else
          s.LambdaLR(opt, lambda e: 0.5 if e < 3 else 1.0), s.LinearLR(opt, start_factor=0.5)],
         [8]),
    ]  # fmt: skip


@pytest.mark.parametrize("case", [0, 1, 2])
def test_sequential_matches_torch(case):
    mo, to = pair(groups=2)
    mine, m_ms = sequences(mlplab, mo)[case]
    theirs, t_ms = sequences(torch, to)[case]
    close(run(optim.SequentialLR(mo, mine, m_ms), mo),
          run(torch.optim.lr_scheduler.SequentialLR(to, theirs, t_ms), to))  # fmt: skip


def build(name, opt):
    if name == "multistep":
        return optim.MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.5)
    if name == "onecycle":
        return optim.OneCycleLR(opt, max_lr=1.0, total_steps=STEPS)
    if name == "plateau":
        return optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    warm = optim.LinearLR(opt, start_factor=0.2, total_iters=4)
    return optim.SequentialLR(opt, [warm, optim.CosineAnnealingLR(opt, T_max=20)], [4])


@pytest.mark.parametrize("name", ["multistep", "onecycle", "plateau", "sequential"])
@pytest.mark.parametrize("via", ["json", "mlplab.save"])
def test_state_dict_round_trip_continues_exactly(tmp_path, name, via):
    metrics = PLATEAU[:STEPS] if name == "plateau" else None
    mo, _ = pair(groups=2)
    reference = run(build(name, mo), mo, metrics)
    mo, _ = pair(groups=2)
    sched = build(name, mo)
    first = run(sched, mo, metrics[:13] if metrics else None, steps=13)
    state = {"optimizer": mo.state_dict(), "scheduler": sched.state_dict()}
    if via == "json":
        state = json.loads(json.dumps(state))
    else:
        mlplab.save(state, tmp_path / "s.safetensors")
        state = mlplab.load(tmp_path / "s.safetensors")
    mo2, _ = pair(groups=2)
    sched2 = build(name, mo2)
    mo2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])
    rest = run(sched2, mo2, metrics[13:] if metrics else None, steps=STEPS - 13)
    close(np.concatenate([first[:-1], rest]), reference)


def test_bad_arguments_are_one_line_errors():
    mo, _ = pair()
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        optim.OneCycleLR(mo, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start must be a float in"):
        optim.OneCycleLR(mo, max_lr=1.0, total_steps=10, pct_start=1)
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer"):
        optim.OneCycleLR(optim.Adagrad([Tensor(np.zeros(1))]), max_lr=1.0, total_steps=10)
    sched = optim.OneCycleLR(mo, max_lr=1.0, total_steps=2)
    sched.step(), sched.step()
    with pytest.raises(ValueError, match="past total_steps = 2"):
        sched.step()
    with pytest.raises(ValueError, match="factor must be < 1"):
        optim.ReduceLROnPlateau(mo, factor=1.0)
    with pytest.raises(TypeError, match="pass the metric"):
        optim.ReduceLROnPlateau(mo).step()
    with pytest.raises(ValueError, match="need 1 milestones, got 0"):
        optim.SequentialLR(mo, [optim.StepLR(mo, 2), optim.StepLR(mo, 3)], [])
    with pytest.raises(ValueError, match="cannot be sequenced"):
        optim.SequentialLR(mo, [optim.StepLR(mo, 2), optim.ReduceLROnPlateau(mo)], [3])
    assert optim.lr_scheduler.MultiStepLR is optim.MultiStepLR


def test_fit_steps_reduce_on_plateau_with_the_validation_loss():
    from mlplab.data import ArrayDataset, DataLoader
    from mlplab.nn import Linear
    from mlplab.train import fit

    rng = np.random.default_rng(0)
    data = ArrayDataset(rng.normal(size=(40, 2)), (np.arange(40) % 2).astype(np.int64))
    model = Linear(2, 2, rng=0, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.5)
    loader = DataLoader(data, batch_size=40)
    history = fit(model, opt, loader, epochs=3, val_loader=loader, scheduler=sched)
    assert [row["lr"] for row in history.epochs] == [0.1, 0.1, 0.05]  # no 50% gain: halve
    assert sched.best == history.epochs[0]["val_loss"]
