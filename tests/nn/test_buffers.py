"""Module buffers: registered, saved, loaded (refused by name), converted, never trained."""

import numpy as np
import pytest

import mlplab
from mlplab import nn, optim


def _net():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU())


def test_buffers_are_in_state_dict_and_named_buffers_but_not_parameters():
    net = _net()
    assert [n for n, _ in net.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked",
    ]  # fmt: skip
    assert list(net.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias",
        "1.running_mean", "1.running_var", "1.num_batches_tracked",
    ]  # fmt: skip
    buffers = {id(b) for b in net.buffers()}
    assert not buffers & {id(p) for p in net.parameters()}
    assert all(not b.requires_grad for b in net.buffers())


def test_optimizer_steps_leave_buffers_to_the_forward_pass():
    net = _net()
    opt = optim.SGD(net.parameters(), lr=0.1)
    x = mlplab.tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    net(x).sum().backward()
    before = {k: v.copy() for k, v in net.state_dict().items() if "running" in k}
    opt.step()
    after = net.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


def test_state_dict_round_trip_restores_buffers_in_place():
    trained = _net()
    trained(mlplab.tensor(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)))
    fresh = _net()
    mean_object = fresh[1].running_mean
    fresh.load_state_dict(trained.state_dict())
    assert fresh[1].running_mean is mean_object
    for key, value in trained.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)
    assert int(fresh[1].num_batches_tracked.item()) == 1


def test_save_and_load_files_carry_buffers(tmp_path):
    trained = _net()
    trained(mlplab.tensor(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)))
    mlplab.save(trained.state_dict(), tmp_path / "net.safetensors")
    fresh = _net()
    fresh.load_state_dict(mlplab.load(tmp_path / "net.safetensors"))
    for key, value in trained.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)


def test_missing_or_misshapen_buffer_is_refused_by_name_and_nothing_is_written():
    net = _net()
    state = net.state_dict()
    del state["1.running_var"]
    with pytest.raises(RuntimeError, match=r"missing keys \['1.running_var'\]"):
        net.load_state_dict(state)
    state = net.state_dict()
    state["1.running_mean"] = np.ones(5, np.float32)
    state["0.weight"] = state["0.weight"] + 1
    with pytest.raises(RuntimeError, match="shape mismatch for '1.running_mean'"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net[0].weight.numpy(), _net()[0].weight.numpy())
    state = net.state_dict()
    state["1.num_batches_tracked"] = np.array(1.5)
    with pytest.raises(RuntimeError, match="'1.num_batches_tracked' must be an integer"):
        net.load_state_dict(state)


def test_to_converts_float_buffers_and_keeps_the_counter_an_integer():
    net = _net().to(np.float64)
    assert net[1].running_mean.dtype == np.float64 and net[1].running_var.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("stat", np.zeros(2))
    m.stat = np.ones(2)  # assigning replaces the buffer
    np.testing.assert_array_equal(m.stat.numpy(), np.ones(2))
    m.register_buffer("scratch", np.zeros(1), persistent=False)
    assert list(m.state_dict()) == ["stat"] and len(list(m.buffers())) == 2
    with pytest.raises(KeyError, match="already exists"):
        nn.Linear(2, 2, rng=0).register_buffer("weight", np.zeros(2))
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError, match="is a buffer, got a Parameter"):
        m.register_buffer("other", nn.Parameter(np.zeros(2)))
    m.stat = nn.Parameter(np.zeros(2))  # as in PyTorch: the name becomes a parameter
    assert [n for n, _ in m.named_parameters()] == ["stat"]
    del m.stat
    assert [n for n, _ in m.named_buffers()] == ["scratch"]
