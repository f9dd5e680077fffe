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


def _torch_mlp(model, norm, dtype):
    """The same network in torch, weights copied (transposed), as a list of per-layer parts."""
    td = TORCH_DTYPE[dtype]
    linears, norms = [], []
    for i, layer in enumerate(model.layers):
        lin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=td)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(layer.weight.numpy().T))
            lin.bias.copy_(torch.tensor(layer.bias.numpy()))
        linears.append(lin)
        if norm is not None and i < len(model.layers) - 1:
            n = layer.out_features
            norms.append(torch.nn.BatchNorm1d(n, dtype=td) if norm == "batch" else
                         torch.nn.LayerNorm(n, dtype=td))  # fmt: skip
    return torch.nn.ModuleList(linears), torch.nn.ModuleList(norms)


def _torch_forward(linears, norms, residual, x):
    z = x
    for i, lin in enumerate(linears):
        h = lin(z)
        if i == len(linears) - 1:
            return h
        if len(norms):
            h = norms[i](h)
        h = torch.relu(h)
        z = h + z if residual and h.shape == z.shape else h
    raise AssertionError


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("norm", "residual"), [("batch", False), ("layer", False), ("batch", True), (None, True)]
)
def test_normalized_mlp_matches_torch_after_twenty_adam_steps(dtype, norm, residual):
    model = nn.MLP(6, 3, width=5, depth=4, norm=norm, residual=residual, rng=0, dtype=dtype)
    linears, norms = _torch_mlp(model, norm, dtype)
    if norm == "batch":
        # A Linear bias before BatchNorm has a zero gradient in exact arithmetic (the batch mean
        # removes it): its computed gradient is rounding noise, which Adam (dividing by √v)
        # turns into steps of size ~lr in a direction neither library controls, so it is frozen
        # in both (it is redundant there); without this the eval outputs differ by ~1e-9
        # (float64) and ~0.07 (float32) after 20 steps, in no way a bug of either side.
        for layer, lin in zip(model.layers[:-1], linears[:-1], strict=True):
            layer.bias.requires_grad_(False)
            lin.bias.requires_grad_(False)
    ours_opt = mlplab.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    torch_opt = torch.optim.Adam(
        [p for p in [*linears.parameters(), *norms.parameters()] if p.requires_grad], lr=1e-2
    )
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.standard_normal((8, 6)).astype(dtype)
        y = rng.integers(0, 3, 8)
        ours_opt.zero_grad()
        loss = mlplab.cross_entropy(model(mlplab.tensor(x)), mlplab.tensor(y))
        loss.backward()
        ours_opt.step()
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(
            _torch_forward(linears, norms, residual, torch.tensor(x)), torch.tensor(y)
        )
        torch_loss.backward()
        torch_opt.step()
        np.testing.assert_allclose(loss.item(), torch_loss.item(), **TOL[dtype])
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for layer, lin in zip(model.layers, linears, strict=True):
        np.testing.assert_allclose(layer.weight.numpy(), lin.weight.detach().numpy().T, **tol)
        np.testing.assert_allclose(layer.bias.numpy(), lin.bias.detach().numpy(), **tol)
    if norm == "batch":
        for ours, theirs in zip(model.norms, norms, strict=True):
            np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var, **tol)
    model.eval()
    for part in norms:
        part.eval()
    x = rng.standard_normal((4, 6)).astype(dtype)
    np.testing.assert_allclose(
        model(mlplab.tensor(x)).numpy(),
        _torch_forward(linears, norms, residual, torch.tensor(x)).detach().numpy(),
        **tol,
    )
