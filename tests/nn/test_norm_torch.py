"""BatchNorm1d, LayerNorm, Residual and normalized MLPs against PyTorch (float64 and float32)."""

import numpy as np
import pytest

import mlplab
from mlplab import nn

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _close(ours, theirs, dtype):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), **TOL[dtype])


def _step(ours, theirs, x, u, dtype):
    """One forward + backward of ⟨u, f(x)⟩ in both libraries; compare output and input grad."""
    xm = mlplab.tensor(x, requires_grad=True)
    out = ours(xm)
    (out * mlplab.tensor(u)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    (out_t * torch.tensor(u)).sum().backward()
    _close(out.numpy(), out_t, dtype)
    _close(xm.grad.numpy(), xt.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_matches_torch_over_ten_steps_then_in_eval(dtype, affine, momentum):
    rng = np.random.default_rng(0)
    ours = nn.BatchNorm1d(5, momentum=momentum, affine=affine, dtype=dtype)
    theirs = torch.nn.BatchNorm1d(5, momentum=momentum, affine=affine, dtype=TORCH_DTYPE[dtype])
    if affine:
        w, b = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
        ours.weight.data[...], ours.bias.data[...] = w, b
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
            theirs.bias.copy_(torch.tensor(b))
    for _ in range(10):
        x = (rng.standard_normal((8, 5)) * 3 + 1).astype(dtype)
        u = rng.standard_normal((8, 5)).astype(dtype)
        ours.zero_grad()
        theirs.zero_grad()
        _step(ours, theirs, x, u, dtype)
        if affine:
            _close(ours.weight.grad.numpy(), theirs.weight.grad, dtype)
            _close(ours.bias.grad.numpy(), theirs.bias.grad, dtype)
    _close(ours.running_mean.numpy(), theirs.running_mean, dtype)
    _close(ours.running_var.numpy(), theirs.running_var, dtype)
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 10
    ours.eval()
    theirs.eval()
    x = (rng.standard_normal((3, 5)) * 3 + 1).astype(dtype)
    _step(ours, theirs, x, rng.standard_normal((3, 5)).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(dtype, affine):
    rng = np.random.default_rng(1)
    ours = nn.LayerNorm(6, elementwise_affine=affine, dtype=dtype)
    theirs = torch.nn.LayerNorm(6, elementwise_affine=affine, dtype=TORCH_DTYPE[dtype])
    if affine:
        w, b = rng.standard_normal(6).astype(dtype), rng.standard_normal(6).astype(dtype)
        ours.weight.data[...], ours.bias.data[...] = w, b
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(w))
            theirs.bias.copy_(torch.tensor(b))
    x = (rng.standard_normal((4, 6)) * 2 - 1).astype(dtype)
    _step(ours, theirs, x, rng.standard_normal((4, 6)).astype(dtype), dtype)
    if affine:
        _close(ours.weight.grad.numpy(), theirs.weight.grad, dtype)
        _close(ours.bias.grad.numpy(), theirs.bias.grad, dtype)


class _TorchResidual(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_residual_around_linear_relu_matches_torch(dtype):
    rng = np.random.default_rng(2)
    linear = nn.Linear(4, 4, rng=0, dtype=dtype)
    ours = nn.Residual(nn.Sequential(linear, nn.ReLU()))
    torch_linear = torch.nn.Linear(4, 4, dtype=TORCH_DTYPE[dtype])
    with torch.no_grad():  # mlplab stores W as (in, out): transpose into torch's (out, in)
        torch_linear.weight.copy_(torch.tensor(linear.weight.numpy().T))
        torch_linear.bias.copy_(torch.tensor(linear.bias.numpy()))
    theirs = _TorchResidual(torch.nn.Sequential(torch_linear, torch.nn.ReLU()))
    x = rng.standard_normal((5, 4)).astype(dtype)
    _step(ours, theirs, x, rng.standard_normal((5, 4)).astype(dtype), dtype)
    _close(linear.weight.grad.numpy(), torch_linear.weight.grad.T, dtype)
    _close(linear.bias.grad.numpy(), torch_linear.bias.grad, dtype)
