"""mlplab: a deep-learning library and laboratory for fully connected networks, on NumPy."""

from .tensor import Tensor, tensor

__version__ = "0.1.0"
__all__ = ["Tensor", "tensor"]
