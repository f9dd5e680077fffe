"""The machinery every optimizer shares: flat path, state_dict, .grad untouched, groups, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mlplab
from mlplab import Tensor
from mlplab import optim as O

SHAPES = [(3, 4), (4,), (4, 2)]

# every element-wise optimizer, with options that exercise every branch of its kernel
CATALOG = {
    "GD": lambda ps, **kw: O.GD(ps, lr=0.05, weight_decay=0.01, **kw),
    "Momentum": lambda ps, **kw: O.Momentum(ps, lr=0.05, beta=0.8, **kw),
    "Momentum(bc)": lambda ps, **kw: O.Momentum(ps, lr=0.05, bias_correction=True, **kw),
    "Nesterov": lambda ps, **kw: O.Nesterov(ps, lr=0.05, beta=0.8, **kw),
    "SGD": lambda ps, **kw: O.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, **kw),
    "SGD(momentum)": lambda ps, **kw: O.SGD(ps, lr=0.05, momentum=0.9, **kw),
    "SGD(nesterov,wd,max)": lambda ps, **kw: O.SGD(
        ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True, **kw
    ),
    "Adam": lambda ps, **kw: O.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True, **kw),
    "Adam(lecture)": lambda ps, **kw: O.Adam(ps, lr=0.01, bias_correction=False, **kw),
    "AdamW": lambda ps, **kw: O.AdamW(ps, lr=0.01, weight_decay=0.1, maximize=True, **kw),
    "RMSprop": lambda ps, **kw: O.RMSprop(
        ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, **kw
    ),
    "Adagrad": lambda ps, **kw: O.Adagrad(
        ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1, **kw
    ),
}


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=s)) for s in SHAPES]


def grad_at(params, step):
    """A deterministic, step-dependent, bounded gradient (maximizing must not overflow)."""
    return [np.sin(p.data) * (1 + step / 10) + 0.5 * np.tanh(3 * p.data) for p in params]


def train(opt, params, steps, start=0, skip=None):
    for t in range(start, start + steps):
        for i, (p, g) in enumerate(zip(params, grad_at(params, t), strict=True)):
            p.grad = None if skip is not None and skip(t, i) else Tensor(g)
        opt.step()
    assert all(np.all(np.isfinite(p.data)) for p in params)
    return [p.data.copy() for p in params]


def assert_bitwise(a_list, b_list):
    for a, b in zip(a_list, b_list, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", CATALOG)
def test_flat_path_equals_per_tensor_path_bit_for_bit(name):
    flat_params, loop_params = make_params(), make_params()
    flat_opt = CATALOG[name](flat_params)
    loop_opt = CATALOG[name](loop_params, flat=False)
    # grads missing now and then: those steps fall back to the per-tensor kernel on flat views
    skip = lambda t, i: t == 3 and i == 1  # noqa: E731
    assert_bitwise(
        train(flat_opt, flat_params, 20, skip=skip), train(loop_opt, loop_params, 20, skip=skip)
    )
    fg = flat_opt._flat_groups[0]
    assert all(np.shares_memory(p.data, fg.param) for p in flat_params)
    assert not loop_opt._flat_groups
    assert flat_opt.state[flat_params[1]]["step"] == 19
    assert flat_opt.state[flat_params[0]]["step"] == 20


def test_flat_path_picks_up_replaced_parameter_data():
    a, b = make_params(), make_params()
    opt_a, opt_b = O.Adam(a, lr=0.01), O.Adam(b, lr=0.01, flat=False)
    train(opt_a, a, 3)
    train(opt_b, b, 3)
    for p in (a[0], b[0]):
        p.data = np.full(SHAPES[0], 0.5)  # e.g. weights loaded from a file
    assert_bitwise(train(opt_a, a, 3, start=3), train(opt_b, b, 3, start=3))
    with pytest.raises(ValueError, match=r"shape \(2,\).*expected shape \(3, 4\)"):
        a[0].data = np.zeros(2)
        train(opt_a, a, 1)


def test_zero_grad_without_none_points_grads_into_the_flat_buffer_and_backward_fills_it():
    rng = np.random.default_rng(3)
    x, y = Tensor(rng.normal(size=(8, 3))), rng.integers(0, 2, size=8)
    runs = []
    for flat in (True, False):
        w = mlplab.tensor(rng.normal(size=(3, 2)) if not runs else runs[0][2], requires_grad=True)
        b = mlplab.tensor(np.zeros(2), requires_grad=True)
        opt = O.SGD([w, b], lr=0.1, momentum=0.9, flat=flat)
        start = w.data.copy()
        for _ in range(5):
            opt.zero_grad(set_to_none=False)
            mlplab.cross_entropy(x @ w + b, y).backward()
            opt.step()
        if flat:
            assert w.grad.data.base is opt._flat_groups[0].grad
        runs.append((w.data.copy(), b.data.copy(), start))
    assert_bitwise(runs[0][:2], runs[1][:2])


@pytest.mark.parametrize("name", CATALOG)
@pytest.mark.parametrize("set_to_none", [True, False])
def test_a_step_never_changes_grad(name, set_to_none):
    params = make_params()
    opt = CATALOG[name](params)
    train(opt, params, 2)
    opt.zero_grad(set_to_none=set_to_none)
    for p, g in zip(params, grad_at(params, 2), strict=True):
        if p.grad is None:
            p.grad = Tensor(g)
        else:
            p.grad.data[...] = g
    before = [(p.grad, p.grad.data.copy()) for p in params]
    opt.step()
    for p, (tensor, values) in zip(params, before, strict=True):
        assert p.grad is tensor
        np.testing.assert_array_equal(p.grad.data, values)


def _to_json_and_back(state):
    """Arrays -> lists -> JSON text -> back: what a checkpoint without pickle does."""

    def encode(value):
        if isinstance(value, np.ndarray):
            return {"__array__": value.tolist(), "dtype": str(value.dtype)}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        assert value is None or isinstance(value, (bool, int, float, str)), type(value)
        return value

    def decode(value):
        if isinstance(value, dict) and "__array__" in value:
            return np.array(value["__array__"], dtype=value["dtype"])
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(json.loads(json.dumps(encode(state))))


@pytest.mark.parametrize("name", CATALOG)
@pytest.mark.parametrize("flat", [True, False])
def test_state_dict_round_trip_continues_bit_identically(name, flat):
    straight = make_params()
    opt = CATALOG[name](straight, flat=flat)
    expected = train(opt, straight, 20)

    first = make_params()
    opt1 = CATALOG[name](first, flat=flat)
    train(opt1, first, 10)
    saved_state = _to_json_and_back(opt1.state_dict())
    saved_params = [p.data.copy() for p in first]
    train(opt1, first, 3, start=10)  # the saved copy must not change with later steps

    resumed = [Tensor(a) for a in saved_params]
    opt2 = CATALOG[name](resumed, flat=not flat)  # the layout need not match
    opt2.load_state_dict(saved_state)
    assert_bitwise(train(opt2, resumed, 10, start=10), expected)


def test_load_state_dict_checks_shapes_and_groups():
    opt = O.Adam(make_params(), lr=0.1)
    other = O.Adam(make_params()[:2], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters, the saved one 3"):
        other.load_state_dict(opt.state_dict())
    params = make_params()
    opt = O.Adam(params)
    train(opt, params, 1)
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"'exp_avg' has shape \(5,\), expected \(3, 4\)"):
        O.Adam(make_params()).load_state_dict(state)
    state = opt.state_dict()
    state["param_groups"][0]["betas"] = [0.9, 1.5]
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0.0, 1.0\), got 1.5"):
        O.Adam(make_params()).load_state_dict(state)


def test_param_groups_have_their_own_lr_and_weight_decay():
    w, b = Tensor(np.ones(2)), Tensor(np.ones(3))
    opt = O.GD([{"params": [w], "lr": 0.5, "weight_decay": 1.0}, {"params": b}], lr=0.1)
    w.grad, b.grad = Tensor(np.ones(2)), Tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(w.data, 1 - 0.5 * (1 + 1.0))
    np.testing.assert_allclose(b.data, 1 - 0.1)
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["lr"] == 0.5


def test_a_parameter_without_grad_is_skipped():
    w, b = Tensor(np.ones(2)), Tensor(np.ones(3))
    opt = O.Adam([w, b], lr=0.1, weight_decay=0.5)
    w.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    assert opt.state[b]["step"] == 0 and opt.state[w]["step"] == 1


def test_zero_grad_sets_none_by_default_and_zeros_in_place_otherwise():
    w = Tensor(np.ones(2))
    opt = O.SGD([w], lr=0.1, flat=False)
    w.grad = Tensor(np.ones(2))
    held = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is held and np.all(held.data == 0)
    opt.zero_grad()
    assert w.grad is None


BAD = [
    (O.GD, {"lr": -0.1}, "GD: lr must be >= 0.0, got -0.1"),
    (O.GD, {"lr": 0.1, "weight_decay": -1}, "GD: weight_decay must be >= 0.0, got -1"),
    (O.Momentum, {"lr": 0.1, "beta": 1.0}, r"Momentum: beta must be in \[0.0, 1.0\), got 1.0"),
    (O.Momentum, {"lr": 0.1, "beta": -0.1}, r"Momentum: beta must be in \[0.0, 1.0\), got -0.1"),
    (O.Nesterov, {"lr": 0.1, "beta": 1.5}, r"Nesterov: beta must be in \[0.0, 1.0\), got 1.5"),
    (O.Adam, {"betas": (1.0, 0.999)}, r"Adam: beta1 must be in \[0.0, 1.0\), got 1.0"),
    (O.Adam, {"betas": (0.9, -0.5)}, r"Adam: beta2 must be in \[0.0, 1.0\), got -0.5"),
    (O.Adam, {"eps": -1e-8}, "Adam: eps must be >= 0.0, got -1e-08"),
    (O.Adam, {"lr": float("nan")}, "Adam: lr must be >= 0.0, got nan"),
    (O.AdamW, {"weight_decay": -0.01}, "AdamW: weight_decay must be >= 0.0, got -0.01"),
    (O.SGD, {"lr": -1.0}, "SGD: lr must be >= 0.0, got -1.0"),
    (O.SGD, {"momentum": -0.9}, "SGD: momentum must be >= 0.0, got -0.9"),
    (
        O.SGD,
        {"momentum": 0.9, "dampening": 0.1, "nesterov": True},
        "SGD: nesterov requires momentum > 0 and dampening = 0, got momentum=0.9, dampening=0.1",
    ),
    (O.SGD, {"nesterov": True}, "SGD: nesterov requires momentum > 0"),
    (O.RMSprop, {"alpha": -0.5}, "RMSprop: alpha must be >= 0.0, got -0.5"),
    (O.RMSprop, {"eps": -1.0}, "RMSprop: eps must be >= 0.0, got -1.0"),
    (O.Adagrad, {"lr_decay": -1}, "Adagrad: lr_decay must be >= 0.0, got -1"),
    (
        O.Adagrad,
        {"initial_accumulator_value": -1},
        "Adagrad: initial_accumulator_value must be >= 0.0, got -1",
    ),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD, ids=lambda v: str(v)[:40])
def test_bad_hyperparameters_raise_naming_the_value(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(make_params(), **kwargs)


def test_bad_hyperparameter_in_a_param_group_raises_too():
    w, b = make_params()[:2]
    with pytest.raises(ValueError, match="SGD: lr must be >= 0.0, got -0.5"):
        O.SGD([{"params": [w]}, {"params": [b], "lr": -0.5}], lr=0.1)


def test_bad_parameter_lists():
    w = Tensor(np.ones(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        O.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears in more than one group"):
        O.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="parameters must be Tensors, got ndarray"):
        O.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="floating-point leaf tensors, got one of dtype int64"):
        O.SGD([Tensor(np.arange(3))], lr=0.1)
    with pytest.raises(TypeError, match="an iterable of Tensors, got a Tensor"):
        O.SGD(w, lr=0.1)


@pytest.mark.parametrize("name", ["SGD(momentum)", "SGD(nesterov,wd,max)", "Adam", "RMSprop"])
def test_flat_path_in_several_chunks_equals_per_tensor_path(name, monkeypatch):
    from mlplab.optim import flat

    CHUNK = 1 << 16  # the cut the layout below was drawn for
    monkeypatch.setattr(flat, "CHUNK", CHUNK)
    monkeypatch.setattr(flat, "SMALL", 1 << 15)
    shapes = [(7,), (300, 300), (3, 5), (CHUNK + 1,)]  # chunk edges fall inside tensors
    rng = np.random.default_rng(4)
    init = [rng.normal(size=s) for s in shapes]
    flat_params, loop_params = [Tensor(a.copy()) for a in init], [Tensor(a.copy()) for a in init]
    flat_opt, loop_opt = CATALOG[name](flat_params), CATALOG[name](loop_params, flat=False)
    assert not flat_opt._flat_groups  # built lazily at the first step
    assert_bitwise(train(flat_opt, flat_params, 5), train(loop_opt, loop_params, 5))
    fg = flat_opt._flat_groups[0]
    assert len(fg.chunks(fg.param)) == 5  # (300, 300) and (CHUNK + 1,) in two each, the rest in one


def test_trains_an_nn_mlp_with_the_same_numbers_on_both_paths():
    nn = pytest.importorskip("mlplab.nn")
    rng = np.random.default_rng(5)
    x, y = Tensor(rng.normal(size=(32, 6))), rng.integers(0, 3, size=32)
    finals = []
    for flat in (True, False):
        model = nn.MLP(6, 3, width=16, depth=2, rng=np.random.default_rng(0), dtype=np.float64)
        opt = O.Adam(model.parameters(), lr=0.01, flat=flat)
        losses = []
        for _ in range(30):
            opt.zero_grad(set_to_none=False)
            loss = mlplab.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.7 * losses[0]
        finals.append([p.data.copy() for p in model.parameters()])
    assert_bitwise(finals[0], finals[1])
