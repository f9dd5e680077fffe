"""``.to(...)`` with PyTorch's arguments on Module and Tensor: the CPU is accepted, dtypes are
converted, every other device is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.nn import MLP, Linear


def _model() -> MLP:
    return MLP(3, 2, width=4, depth=2, rng=0)


@pytest.mark.parametrize(
    ("args", "kwargs", "dtype"),
    [
        (("cpu",), {}, np.float32),
        (("cpu:0",), {}, np.float32),
        ((), {"device": "cpu"}, np.float32),
        (("cpu", np.float64), {}, np.float64),
        (("cpu",), {"dtype": "float64"}, np.float64),
        ((np.float64,), {}, np.float64),
        (("float64",), {}, np.float64),
        ((), {"device": "cpu", "dtype": np.float64, "non_blocking": True}, np.float64),
        ((mlplab.tensor(np.zeros(1)),), {}, np.float64),  # to(other): other's dtype
    ],
)
def test_module_to_accepts_pytorch_forms(args, kwargs, dtype):
    model = _model()
    params = list(model.parameters())
    assert model.to(*args, **kwargs) is model
    assert [p.dtype for p in model.parameters()] == [np.dtype(dtype)] * len(params)
    assert all(a is b for a, b in zip(params, model.parameters(), strict=True))


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", "xpu", "meta"])
def test_other_devices_are_a_clear_error(device):
    with pytest.raises(ValueError, match=rf"MLP.to: .*CPU.*got device '{device}'"):
        _model().to(device)
    with pytest.raises(ValueError, match=rf"^to: .*CPU.*got device '{device}'"):
        mlplab.tensor([1.0]).to(device, np.float64)
    with pytest.raises(ValueError, match="Linear.to: .*got device 'cuda'"):
        Linear(2, 2, rng=0).to(device="cuda")


def test_bad_arguments():
    with pytest.raises(TypeError, match="MLP.to: expected a floating-point dtype, got int64"):
        _model().to("cpu", np.int64)
    with pytest.raises(TypeError, match="to: expected a device .* got 'gpu0'"):
        mlplab.tensor([1.0]).to("gpu0")
    with pytest.raises(TypeError, match="to: unexpected keyword argument 'devce'"):
        mlplab.tensor([1.0]).to(devce="cpu")
    with pytest.raises(TypeError, match="to: the dtype is given twice"):
        mlplab.tensor([1.0]).to(np.float32, np.float64)


def test_tensor_to():
    x = mlplab.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.to(np.float32) is x and x.cpu() is x
    assert x.device == "cpu"
    copied = x.to("cpu", copy=True)
    assert copied is not x and not np.shares_memory(copied.data, x.data)
    y = x.to(device="cpu", dtype=np.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()  # the cast is differentiable, the gradient comes back in float32
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_torch_devices_and_dtypes():
    torch = pytest.importorskip("torch")
    model = _model().to(torch.device("cpu"), torch.float64)
    assert model.layers[0].weight.dtype == np.float64
    assert mlplab.tensor([1.0]).to(torch.float64).dtype == np.float64
    with pytest.raises(ValueError, match="got device 'cuda'"):
        model.to(torch.device("cuda"))
