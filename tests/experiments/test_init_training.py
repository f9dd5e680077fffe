"""The training half of the init study: shared optimizer, gradient clipping, the unclipped check,
the norms after training — on tiny networks so that it runs in seconds."""

import math

import numpy as np
import pytest

from mlplab import optim
from mlplab.experiments.init_study import GradientClip, InitConfig, run_init_study
from mlplab.tensor import Tensor


def _with_grads(seed: int, scale: float) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    params = [
        Tensor(rng.normal(size=s).astype(np.float64), requires_grad=True) for s in [(3, 4), (4,)]
    ]
    for p in params:
        p.grad = Tensor(scale * rng.normal(size=p.shape))
    return params


@pytest.mark.parametrize("scale", [1e-3, 1e4])
def test_gradient_clip_steps_with_the_gradient_scaled_to_the_global_norm(scale):
    params = _with_grads(0, scale)
    w0 = [p.data.copy() for p in params]
    g = [p.grad.data.copy() for p in params]
    total = math.sqrt(sum(float(np.sum(x**2)) for x in g))
    opt = GradientClip(optim.SGD(params, lr=0.1), params, max_norm=2.0)
    opt.step()
    assert opt.norms == [pytest.approx(total)]
    coef = min(1.0, 2.0 / (total + 1e-6))
    for p, a, b in zip(params, w0, g, strict=True):
        np.testing.assert_allclose(p.data, a - 0.1 * coef * b, rtol=1e-12)
    assert opt.param_groups[0]["lr"] == 0.1


def test_gradient_clip_without_a_limit_only_records_the_norm():
    params = _with_grads(1, 1e5)
    g = [p.grad.data.copy() for p in params]
    opt = GradientClip(optim.SGD(params, lr=1e-9), params, max_norm=None)
    w0 = [p.data.copy() for p in params]
    opt.step()
    for p, a, b in zip(params, w0, g, strict=True):
        np.testing.assert_allclose(p.data, a - 1e-9 * b, rtol=1e-12)
    assert opt.norms[0] > 1e5


TINY = dict(depth=8, width=16, epochs=2, train_examples=400, probe_batch=32, batch_size=50)


@pytest.fixture(scope="module")
def exploding(tmp_path_factory):
    """2/n against 40/n (c = 20 per layer): the unclipped first steps of 40/n blow up."""
    cfg = InitConfig(variances=["2/n", "40/n"], unclipped_steps=5, **TINY)
    return run_init_study(tmp_path_factory.mktemp("init"), cfg, figures=False, progress=False)


def test_unclipped_steps_show_the_explosion_that_clipping_avoids(exploding):
    two, big = exploding["runs"]
    assert two["unclipped"]["diverged_at_step"] is None and len(two["unclipped"]["steps"]) == 5
    at = big["unclipped"]["diverged_at_step"]
    assert at is not None and at <= 5
    assert [s for s, _ in big["unclipped"]["steps"]] == list(range(1, at))
    assert all(math.isfinite(v) for _, v in big["unclipped"]["steps"])
    raw = big["unclipped"]["gradient_norm_before_clipping"][0]
    assert raw > 1e3 * two["unclipped"]["gradient_norm_before_clipping"][0]
    # the clipped run of the same network trains on: every step finite, its loss goes down
    assert not big["train"]["diverged"]
    losses = [v for _, v in big["train"]["steps"]]
    assert len(losses) == 2 * 8 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-4:]) < 0.5 * losses[0]
    assert big["train"]["fraction_of_steps_clipped"] == 1.0
    # the clipped and the unclipped run start from the same network and the same first batch
    assert big["train"]["steps"][0][1] == pytest.approx(big["unclipped"]["steps"][0][1], rel=1e-6)


def test_norms_after_training_and_weight_change_are_measured(exploding):
    for r in exploding["runs"]:
        after = r["after_training"]
        assert len(after["activation_norm"]) == len(after["gradient_norm"]) == 8
        assert after["activation_norm"] != r["activation_norm"]
        assert all(0 < c < math.inf for c in r["weight_change"])
        assert len(r["train"]["gradient_norm_before_clipping"]) == len(r["train"]["steps"])
    cfg = exploding["config"]
    assert cfg["clip_grad_norm"] == 1.0 and cfg["schedule"] == "cosine"


def test_without_clipping_the_exploding_run_diverges_and_is_recorded(tmp_path):
    cfg = InitConfig(variances=["40/n"], clip_grad_norm=None, **TINY)
    res = run_init_study(tmp_path, cfg, figures=True, progress=False)
    (run,) = res["runs"]
    assert run["train"]["diverged"] and run["after_training"] is None
    assert run["unclipped"] is None  # the main run is the unclipped one
    assert run["train"]["diverged_at_step"] == len(run["train"]["steps"]) + 1
    assert (tmp_path / "training.png").stat().st_size > 10_000
