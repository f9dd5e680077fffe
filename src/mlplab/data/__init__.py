"""Data: the IDX reader, MNIST / Fashion-MNIST / embedded mnist-5k, datasets and the DataLoader.

Examples:
    >>> from mlplab.data import load_dataset, DataLoader
    >>> loader = DataLoader(load_dataset("mnist-5k"), batch_size=128, shuffle=True, seed=0)
    >>> x, y = next(iter(loader))
    >>> x.shape, x.dtype, y.shape, y.dtype
    ((128, 784), dtype('float32'), (128,), dtype('int64'))
"""

from .datasets import DATASETS, NORMALIZATION, load_dataset
from .download import DownloadError, data_home, fetch
from .idx import read_idx, write_idx
from .loader import ArrayDataset, DataLoader, Dataset

__all__ = [
    "read_idx",
    "write_idx",
    "load_dataset",
    "Dataset",
    "ArrayDataset",
    "DataLoader",
    "DATASETS",
    "NORMALIZATION",
    "DownloadError",
    "data_home",
    "fetch",
]
