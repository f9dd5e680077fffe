"""Dataset, ArrayDataset and DataLoader: batches, order, reproducibility, resume."""

import json

import numpy as np
import pytest

from mlplab.data import ArrayDataset, DataLoader, Dataset
from mlplab.tensor import Tensor

N = 23


def dataset(n=N):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return ArrayDataset(x, np.arange(n, dtype=np.int64))


def epoch_labels(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_batches_are_tensors_of_the_right_dtype_and_match_their_labels():
    loader = DataLoader(dataset(), batch_size=5, shuffle=True, seed=0)
    for x, y in loader:
        assert isinstance(x, Tensor) and isinstance(y, Tensor)
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy()[:, 0], 3 * y.numpy())  # x stays with its y


@pytest.mark.parametrize("batch_size", [1, 4, 5, 23, 50])
def test_each_sample_exactly_once_per_epoch(batch_size):
    loader = DataLoader(dataset(), batch_size=batch_size, shuffle=True, seed=3)
    for _ in range(3):
        labels = epoch_labels(loader)
        assert sorted(labels.tolist()) == list(range(N))
    sizes = [len(y) for _, y in loader]
    assert len(sizes) == len(loader) == -(-N // batch_size)
    assert sizes[:-1] == [batch_size] * (len(sizes) - 1)  # only the last batch may be partial
    assert sizes[-1] == N - batch_size * (len(sizes) - 1)


def test_order_reproducible_from_seed_and_new_each_epoch():
    a = DataLoader(dataset(), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(dataset(), batch_size=4, shuffle=True, seed=7)
    orders_a = [epoch_labels(a) for _ in range(4)]
    orders_b = [epoch_labels(b) for _ in range(4)]
    for oa, ob in zip(orders_a, orders_b, strict=True):
        np.testing.assert_array_equal(oa, ob)
    assert len({o.tobytes() for o in orders_a}) == 4  # a different order every epoch
    assert not np.array_equal(orders_a[0], np.arange(N))
    other = DataLoader(dataset(), batch_size=4, shuffle=True, seed=8)
    assert not np.array_equal(epoch_labels(other), orders_a[0])
    assert a.epoch == 4


def test_no_shuffle_is_the_natural_order_in_views():
    ds = dataset()
    loader = DataLoader(ds, batch_size=10)
    np.testing.assert_array_equal(epoch_labels(loader), np.arange(N))
    x, _ = next(iter(loader))
    assert np.shares_memory(x.numpy(), ds.x)  # a slice, no copy


@pytest.mark.parametrize(("batch_size", "batches"), [(5, 4), (23, 1), (1, 23), (24, 0)])
def test_drop_last(batch_size, batches):
    loader = DataLoader(dataset(), batch_size=batch_size, shuffle=True, drop_last=True, seed=1)
    sizes = [len(y) for _, y in loader]
    assert len(loader) == len(sizes) == batches
    assert all(s == batch_size for s in sizes)
    labels = [int(i) for _, y in loader for i in y.numpy()]
    assert len(set(labels)) == len(labels) == batches * batch_size  # no sample twice


def test_array_dataset_batches_without_a_per_sample_loop():
    class Counting(ArrayDataset):
        calls = 0

        def __getitem__(self, index):
            Counting.calls += 1
            return super().__getitem__(index)

    ds = dataset()
    loader = DataLoader(Counting(ds.x, ds.y), batch_size=4, shuffle=True, seed=0)
    assert sorted(epoch_labels(loader).tolist()) == list(range(N))
    assert Counting.calls == 0


def test_generic_dataset_falls_back_to_stacking_with_the_same_batches():
    ds = dataset()

    class Plain(Dataset):
        def __len__(self):
            return N

        def __getitem__(self, i):
            return ds.x[i], ds.y[i]

    fast = DataLoader(ds, batch_size=6, shuffle=True, seed=5)
    slow = DataLoader(Plain(), batch_size=6, shuffle=True, seed=5)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


@pytest.mark.parametrize("seed", [11, None])
def test_resume_from_state_dict_restores_the_order(seed):
    uninterrupted = DataLoader(dataset(), batch_size=4, shuffle=True, seed=seed)
    first = DataLoader(dataset(), batch_size=4, shuffle=True, seed=seed)
    if seed is None:  # fresh entropy: start both from the same state
        first.load_state_dict(uninterrupted.state_dict())
    expected = [epoch_labels(uninterrupted) for _ in range(4)]

    got = [epoch_labels(first), epoch_labels(first)]
    saved = json.dumps(first.state_dict())  # plain JSON, no pickle
    resumed = DataLoader(dataset(), batch_size=4, shuffle=True, seed=12345)
    resumed.load_state_dict(json.loads(saved))
    assert resumed.epoch == 2
    got += [epoch_labels(resumed), epoch_labels(resumed)]

    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(e, g)


def test_state_dict_during_an_epoch_resumes_at_the_next_boundary():
    a = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2)
    b = DataLoader(dataset(), batch_size=4, shuffle=True, seed=2)
    epoch_labels(b)
    expected_next = epoch_labels(b)
    it = iter(a)
    next(it)  # stopped mid-epoch 1
    resumed = DataLoader(dataset(), batch_size=4, shuffle=True, seed=0)
    resumed.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(epoch_labels(resumed), expected_next)


def test_array_dataset_validates_lengths():
    with pytest.raises(ValueError, match=r"same length, got 3 samples .* and 2 targets"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="need a sample axis"):
        ArrayDataset(np.float32(1.0), np.zeros(1))
    ds = ArrayDataset(Tensor(np.ones((2, 2), np.float32)), [0, 1])
    assert ds.x.dtype == np.float32 and len(ds) == 2 and "ArrayDataset" in repr(ds)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"batch_size": -3}, ValueError, "batch_size must be >= 1, got -3"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got 2.5"),
        ({"batch_size": True}, TypeError, "batch_size must be an int, got True"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be a bool"),
        ({"drop_last": 1}, TypeError, "drop_last must be a bool"),
        ({"seed": 1.5}, TypeError, "seed must be an int or None, got 1.5"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
    ],
)
def test_loader_validates_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        DataLoader(dataset(), **kwargs)


def test_loader_rejects_bad_datasets_and_states():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(ArrayDataset(np.zeros((0, 2)), np.zeros(0)))
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader([1, 2, 3].__iter__())
    loader = DataLoader(dataset())
    with pytest.raises(ValueError, match="missing keys"):
        loader.load_state_dict({"epoch": 1})
    with pytest.raises(ValueError, match="PCG64"):
        loader.load_state_dict({"epoch": 1, "bit_generator": {"bit_generator": "MT19937"}})
