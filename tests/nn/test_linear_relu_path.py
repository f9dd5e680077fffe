"""Linear.forward_relu: the inline checks of the one-node path let through exactly what
_checked lets through, and everything else raises Linear's own errors."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.ops.fused import AffineReLU


def _layer(bias: bool = True) -> nn.Linear:
    return nn.Linear(3, 4, bias=bias, rng=0)


def test_a_2d_batch_is_one_node_equal_to_relu_of_forward() -> None:
    layer = _layer()
    x = mlplab.Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    out = layer.forward_relu(x)
    assert isinstance(out.op, AffineReLU)
    assert np.array_equal(out.data, mlplab.ops.relu(layer.forward(x)).data)


@pytest.mark.parametrize(
    "x",
    [np.ones((5, 3), np.float32), [[1.0, 2.0, 3.0]], np.ones(3, np.float32)],
    ids=["ndarray", "list", "1-d"],
)
def test_other_inputs_take_the_checked_path(x) -> None:
    layer = _layer()
    want = np.maximum(np.asarray(x, np.float32) @ layer.weight.data + layer.bias.data, 0)
    assert np.array_equal(layer.forward_relu(x).data, want)


def test_no_bias_takes_the_two_ops() -> None:
    layer = _layer(bias=False)
    x = mlplab.Tensor(np.ones((2, 3), np.float32))
    assert np.array_equal(layer.forward_relu(x).data, np.maximum(x.data @ layer.weight.data, 0))


def test_wrong_width_and_dtype_raise_linear_errors() -> None:
    layer = _layer()
    with pytest.raises(ValueError, match="Linear: expected input with last dimension 3"):
        layer.forward_relu(mlplab.Tensor(np.ones((2, 5), np.float32)))
    with pytest.raises(TypeError, match="Linear: input dtype float64 differs"):
        layer.forward_relu(mlplab.Tensor(np.ones((2, 3), np.float64)))
