"""MNIST, Fashion-MNIST and the embedded 5,000-digit MNIST subset, as ArrayDatasets.

Every data set comes back the same way, ready for an MLP:

- ``x``: float32, shape (N, 784) — each 28x28 image flattened row by row, scaled to [0, 1] by
  /255 and then standardised, ``x = (pixel/255 − mean) / std``, with the data set's usual
  constants (:data:`NORMALIZATION`): MNIST (and mnist-5k, and a folder of IDX files) mean 0.1307,
  std 0.3081; Fashion-MNIST mean 0.2860, std 0.3530 (the training sets' pixel statistics).
- ``y``: int64 labels, shape (N,).

``"mnist-5k"`` needs no network: 5,000 real MNIST digits (500 per class; MNIST by Yann LeCun,
Corinna Cortes and Christopher J.C. Burges; where the subset comes from is in the README) ship
inside mlplab as ``mlplab/data/mnist5k.npz`` (uint8 ``images`` (5000, 28, 28) and ``labels``
(5000,), converted once by ``scripts/make_mnist5k.py``). It is read with ``allow_pickle=False``
after its SHA-256 is checked against :data:`MNIST5K_SHA256`. Its split is fixed and
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
import hashlib
import io
import os
from pathlib import Path

import numpy as np

from .download import MIRRORS, SHA256, DownloadError, data_home, fetch
from .idx import read_idx
from .loader import ArrayDataset

__all__ = ["load_dataset", "DATASETS", "NORMALIZATION", "MNIST5K_SPLIT_SEED", "MNIST5K_SHA256"]

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
#: the embedded digits (written by scripts/make_mnist5k.py) and the file's SHA-256
MNIST5K_PATH = Path(__file__).with_name("mnist5k.npz")
MNIST5K_SHA256 = "01210a8b5472d662d7f27787059d9ce6d280794dfd906b22b6f8efd00193ba25"
_SPLITS = {"train": "train", "test": "t10k"}


def _normalize(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Flatten uint8 images (N, ...) to (N, D) float32 and apply ``(pixel/255 − mean) / std``."""
    x = images.reshape(len(images), -1).astype(np.float32)
    x /= np.float32(255.0)
    x -= np.float32(mean)
    x /= np.float32(std)
    return x


def _read_mnist5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The embedded file's uint8 images (5000, 28, 28) and int64 labels, checksum verified."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"load_dataset: mnist-5k: {path} is missing from the mlplab package; reinstall "
            "mlplab, or run scripts/make_mnist5k.py in a source checkout"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST5K_SHA256:
        raise ValueError(
            f"load_dataset: mnist-5k: {path} has SHA-256 {digest[:16]}..., expected "
            f"{MNIST5K_SHA256[:16]}... (damaged file; reinstall mlplab)"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    if images.shape != (5000, 28, 28) or images.dtype != np.uint8 or labels.shape != (5000,):
        raise ValueError(f"load_dataset: mnist-5k: {path}: unexpected arrays {images.shape}")
    return images, labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _mnist5k() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the embedded 5,000 digits once: split -> (normalised x, labels), both read-only."""
    images, labels = _read_mnist5k(MNIST5K_PATH)
    rng = np.random.default_rng(MNIST5K_SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) != 500:
            raise ValueError(
                f"load_dataset: {MNIST5K_PATH}: expected 500 digits of class {c}, "
                f"got {len(members)}"
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
