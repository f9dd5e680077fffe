"""mlplab.nn: layers and networks built on the autodiff core, with PyTorch's habits.

``Module`` and ``Parameter`` are the base; ``Linear`` stores its weight (in, out) as in the
lecture; ``MLP`` is the L-layer network Zᵢ₊₁ = σ(Zᵢ Wᵢ + 1 bᵢᵀ); the losses take logits.
"""

from . import functional, init  # PyTorch's nn.functional and nn.init, without an extra import
from .activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Tanh, get_activation
from .container import ModuleList, Sequential
from .dropout import Dropout
from .flatten import Flatten
from .hooks import RemovableHandle
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .mlp import MLP
from .module import Module
from .norm import BatchNorm1d, LayerNorm
from .parameter import Parameter
from .residual import Residual
from .state import IncompatibleKeys

__all__ = [
    "functional", "init",
    "Module", "Parameter", "RemovableHandle", "IncompatibleKeys",
    "ModuleList", "Sequential", "Linear", "Flatten", "MLP",
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Identity", "get_activation",
    "CrossEntropyLoss", "MSELoss", "BatchNorm1d", "LayerNorm", "Dropout", "Residual",
]  # fmt: skip
