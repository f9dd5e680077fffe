"""Optimizers, learning-rate schedules and gradient clipping.

The lecture's forms (:class:`GD`, :class:`Momentum` with optional bias correction,
:class:`Nesterov`, :class:`Adam` with optional bias correction, :class:`Newton`) and PyTorch's
(:class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`, :class:`Adagrad`). Each is a pure
update kernel over arrays (``*_update``) plus a thin class with PyTorch's interface.

Examples:
    >>> import numpy as np
    >>> from mlplab import Tensor
    >>> from mlplab.optim import SGD
    >>> w = Tensor(np.array([1.0]))
    >>> opt = SGD([w], lr=0.1)
    >>> w.grad = Tensor(np.array([2.0]))
    >>> opt.step(); w
    tensor([0.8], dtype=float64)
"""

from . import lr_scheduler
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, AdamW, adam_update
from .clip import clip_grad_norm_, clip_grad_value_
from .gd import GD, gd_update
from .lr_one_cycle import OneCycleLR
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    StepLR,
)
from .lr_scheduler_extra import MultiStepLR, ReduceLROnPlateau, SequentialLR
from .momentum import Momentum, Nesterov, momentum_update, nesterov_lookahead_update
from .newton import Newton, conjugate_gradient
from .optimizer import Optimizer
from .rmsprop import RMSprop, rmsprop_update
from .sgd import SGD, sgd_update

__all__ = [
    "Optimizer",
    "GD",
    "Momentum",
    "Nesterov",
    "Adam",
    "AdamW",
    "Newton",
    "SGD",
    "RMSprop",
    "Adagrad",
    "gd_update",
    "momentum_update",
    "nesterov_lookahead_update",
    "adam_update",
    "sgd_update",
    "rmsprop_update",
    "adagrad_update",
    "conjugate_gradient",
    "lr_scheduler",
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "LambdaLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "clip_grad_norm_",
    "clip_grad_value_",
]

# PyTorch's spelling optim.lr_scheduler.MultiStepLR etc. reaches the extra schedules too.
for _name in ("MultiStepLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR"):
    setattr(lr_scheduler, _name, globals()[_name])
del _name
