"""Module: registration of parameters and sub-modules, traversal, modes, dtype, hooks, repr."""

import numpy as np
import pytest

import mlplab
from mlplab import nn
from mlplab.nn import Module, Parameter


class Affine(Module):
    def __init__(self, n: int, m: int) -> None:
        super().__init__()
        self.w = Parameter(np.arange(n * m, dtype=np.float64).reshape(n, m))
        self.b = Parameter(np.zeros(m))

    def forward(self, x):
        return x @ self.w + self.b


class Net(Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = Affine(2, 3)
        self.blocks = [Affine(3, 3), Affine(3, 3)]  # a plain list becomes a ModuleList
        self.scale = Parameter(np.ones(1))
        self.not_a_param = np.ones(5)  # a plain array is an ordinary attribute

    def forward(self, x):
        x = self.first(x)
        for block in self.blocks:
            x = block(x)
        return x * self.scale


def test_parameter_is_a_leaf_requiring_grad_and_rejects_integers():
    p = Parameter(np.zeros(3, np.float32))
    assert p.requires_grad and p.is_leaf and isinstance(p, mlplab.Tensor)
    assert not hasattr(p, "__dict__")  # stays as lean as a Tensor
    assert not Parameter(np.zeros(2), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="Parameter: expected floating-point data, got dtype int"):
        Parameter(np.arange(3))


def test_nested_modules_and_lists_are_registered_with_dotted_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "scale",
        "first.w",
        "first.b",
        "blocks.0.w",
        "blocks.0.b",
        "blocks.1.w",
        "blocks.1.b",
    ]
    assert isinstance(net.blocks, nn.ModuleList) and len(net.blocks) == 2
    assert [name for name, _ in net.named_modules()] == [
        "",
        "first",
        "blocks",
        "blocks.0",
        "blocks.1",
    ]
    assert [type(c).__name__ for c in net.children()] == ["Affine", "ModuleList"]
    assert net.num_parameters() == 1 + (6 + 3) + 2 * (9 + 3)
    assert [name for name, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert "not_a_param" not in dict(net.named_parameters())


def test_a_shared_parameter_is_listed_once_but_kept_under_both_names_in_state_dict():
    net = Net()
    net.blocks[1].w = net.blocks[0].w
    assert sum(p is net.blocks[0].w for p in net.parameters()) == 1
    assert {"blocks.0.w", "blocks.1.w"} <= set(net.state_dict())


def test_lists_mixing_modules_and_tensors_are_refused_clearly():
    net = Net()
    with pytest.raises(TypeError, match=r"Net\.mixed: .* item 1 is Parameter"):
        net.mixed = [Affine(1, 1), Parameter(np.ones(1))]
    with pytest.raises(TypeError, match=r"Net\.weights: .* item 0 is Parameter"):
        net.weights = [Parameter(np.ones(1))]
    net.numbers = [1, 2, 3]  # a list of plain values is an ordinary attribute
    assert net.numbers == [1, 2, 3]


def test_reassigning_and_deleting_registered_attributes():
    net = Net()
    with pytest.raises(TypeError, match=r"Net\.scale: is a registered parameter, expected a Para"):
        net.scale = mlplab.tensor([1.0])
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    net.first = Affine(2, 3)
    del net.first
    assert not hasattr(net, "first")
    assert "first.w" not in net.state_dict()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        _ = net.nothing


def test_forgetting_super_init_names_the_fix():
    class Broken(Module):
        def __init__(self) -> None:
            self.w = Parameter(np.ones(1))

    with pytest.raises(RuntimeError, match=r"Broken: cannot assign 'w' before Module.__init__"):
        Broken()


def test_train_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="Net.train: mode must be a bool"):
        net.train("no")


def test_zero_grad_sets_none_or_fresh_zeros():
    net = Net()
    x = mlplab.tensor(np.ones((4, 2)))
    net(x).sum().backward()
    grads = {name: p.grad for name, p in net.named_parameters()}
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads.values())
    kept = net.first.w.grad.numpy().copy()
    net.zero_grad(set_to_none=False)
    for name, p in net.named_parameters():
        assert p.grad is not grads[name] and p.grad.shape == p.shape
        assert not np.any(p.grad.numpy())
    np.testing.assert_array_equal(grads["first.w"].numpy(), kept)  # not zeroed in place
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net(mlplab.tensor(np.ones((1, 2)))).sum().backward()
    assert net.float() is net
    assert [p is q for p, q in zip(params, net.parameters(), strict=True)] == [True] * len(params)
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    net.astype("float32")
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="Net.to: expected a floating-point dtype, got int32"):
        net.to(np.int32)


def test_requires_grad_and_apply():
    net = Net()
    net.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 0
    assert net.num_parameters() > 0
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and visited.count("Affine") == 3


def test_forward_hooks_see_inputs_and_outputs_and_can_be_removed():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
    seen = []
    handles = [
        layer.register_forward_hook(lambda m, i, o: seen.append((m, i[0], o))) for layer in model
    ]
    x = mlplab.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    out = model(x)
    assert [m for m, _, _ in seen] == list(model)
    assert seen[0][1] is x
    for (_, _, out_prev), (_, in_next, _) in zip(seen[:-1], seen[1:], strict=True):
        assert in_next is out_prev  # each layer's input is the previous layer's output
    assert seen[-1][2] is out
    np.testing.assert_allclose(
        seen[0][2].numpy(), x.numpy() @ model[0].weight.numpy() + model[0].bias.numpy()
    )
    for handle in handles:
        handle.remove()
    handles[0].remove()  # removing twice is harmless
    model(x)
    assert len(seen) == 3


def test_hook_return_values_replace_output_and_inputs():
    layer = nn.Identity()
    layer.register_forward_pre_hook(lambda m, inputs: inputs[0] + 1)
    with layer.register_forward_hook(lambda m, inputs, out: out * 10):
        assert layer(1) == 20
    assert layer(1) == 2
    with pytest.raises(TypeError, match="register_forward_hook: expected a callable"):
        layer.register_forward_hook(3)


def test_module_without_forward_and_module_list_call():
    with pytest.raises(NotImplementedError, match="Module.forward is not implemented"):
        Module()(1)
    with pytest.raises(TypeError, match="ModuleList has no forward"):
        nn.ModuleList()(1)


def test_module_list_and_sequential_behave_like_lists():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    layers = nn.ModuleList([a, b])
    layers.append(c)
    assert list(layers) == [a, b, c] and layers[-1] is c
    assert list(layers[1:]) == [b, c] and isinstance(layers[1:], nn.ModuleList)
    layers.insert(0, nn.Identity())
    del layers[0]
    assert list(layers) == [a, b, c]
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    layers[1] = nn.GELU()
    assert isinstance(layers[1], nn.GELU)
    with pytest.raises(IndexError, match="ModuleList: index 3 out of range for length 3"):
        layers[3]
    with pytest.raises(TypeError, match="ModuleList: item 3 must be a Module, got int"):
        layers.append(5)
    seq = nn.Sequential(nn.Identity(), nn.ReLU())
    assert isinstance(seq[:1], nn.Sequential)
    assert seq(mlplab.tensor([-1.0, 1.0])).numpy().tolist() == [0.0, 1.0]


def test_repr_is_like_torch_and_compresses_repeated_layers():
    model = nn.MLP(784, 10, width=100, depth=50, rng=0)
    text = repr(model)
    assert text.splitlines()[:5] == [
        "MLP(",
        "  (layers): ModuleList(",
        "    (0): Linear(in_features=784, out_features=100, bias=True)",
        "    (1-48): 48 x Linear(in_features=100, out_features=100, bias=True)",
        "    (49): Linear(in_features=100, out_features=10, bias=True)",
    ]
    assert "(activation): ReLU()" in text
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Linear(3, 2, bias=False, rng=0)) == (
        "Linear(in_features=3, out_features=2, bias=False)"
    )
