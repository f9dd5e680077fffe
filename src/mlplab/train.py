"""Training: ``fit`` and ``evaluate``, the history of a run, callbacks and the divergence guard.

One training step is minibatch SGD as the lecture writes it, with any optimizer::

    loss = ℓ(h_θ(X_B), y_B) (mean over the batch);  g = ∇_θ loss;  θ ← optimizer(θ, g)

Each optimizer declares what its ``step`` needs in ``closure_kind`` (a subclass inherits it):
``"backward"`` (the lecture's Nesterov, gradient at θ − αu) gets PyTorch's closure (zero the
gradients, compute the loss, call ``backward``, return the loss); ``"graph"`` (Newton, which
differentiates the loss twice itself) a closure that returns the loss with its graph without
calling ``backward``; ``"none"`` (every other) the plain ``zero_grad(); loss.backward(); step()``.
Validation scores θ inside ``optimizer.at_theta()`` (the closure-free Nesterov keeps φ = θ − αu in
the parameters).

``fit`` saves a checkpoint after every epoch when given a ``checkpoint_dir`` (see
:mod:`mlplab.checkpoint`), and with ``resume=True`` continues from it: the weights, the optimizer
state, the data order, the schedule and the history are all restored, so the run ends with
exactly the numbers an uninterrupted run would have produced.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .autodiff import backward
from .grad_mode import no_grad
from .subnormal import warn_if_subnormal
from .tensor import Tensor

__all__ = ["History", "TrainState", "Callback", "DivergenceError", "evaluate", "fit"]

_CLOSURE_KINDS = ("none", "backward", "graph")


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite: training stopped at that step."""


@dataclass
class History:
    """Loss and accuracy per epoch, and the training loss per step, thinned to ``max_steps``.

    ``epochs`` holds one dict per epoch: ``epoch``, ``train_loss``, ``train_accuracy`` (running
    means over the epoch's minibatches), ``val_loss``, ``val_accuracy`` (when validated), ``lr``
    (used during the epoch), ``steps`` (optimizer steps so far) and ``seconds`` (wall time since
    the run began). ``steps`` holds ``[step, loss]`` pairs for
    steps that are multiples of ``stride``; when it outgrows ``max_steps`` every other pair is
    dropped and the stride doubles, so a long run keeps an evenly spaced curve.

    Examples:
        >>> h = History(max_steps=4)
        >>> for s in range(10):
        ...     h.record_step(s, float(s))
        >>> h.steps, h.stride
        ([[0, 0.0], [4, 4.0], [8, 8.0]], 4)
        >>> History.from_dict(h.to_dict()) == h
        True
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: list[list[float]] = field(default_factory=list)
    stride: int = 1
    max_steps: int = 2000

    def record_step(self, step: int, loss: float) -> None:
        """Record the loss of global step ``step`` (0-based) if it falls on the stride.

        Examples:
            >>> h = History(stride=2)
            >>> for step in range(5):
            ...     h.record_step(step, 1.0 / (step + 1))
            >>> h.steps  # steps 0, 2 and 4
            [[0, 1.0], [2, 0.3333333333333333], [4, 0.2]]
        """
        if step % self.stride:
            return
        self.steps.append([step, loss])
        if len(self.steps) > self.max_steps:
            self.steps = self.steps[::2]
            self.stride *= 2

    def to_dict(self) -> dict[str, Any]:
        """Return the history as plain JSON-able values.

        Examples:
            >>> import json
            >>> h = History()
            >>> h.record_step(0, 2.3)
            >>> json.dumps(h.to_dict())
            '{"epochs": [], "steps": [[0, 2.3]], "stride": 1, "max_steps": 2000}'
        """
        return {
            "epochs": self.epochs,
            "steps": self.steps,
            "stride": self.stride,
            "max_steps": self.max_steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history saved by :meth:`to_dict`."""
        return cls(
            epochs=[dict(row) for row in data["epochs"]],
            steps=[[int(s), float(v)] for s, v in data["steps"]],
            stride=int(data["stride"]),
            max_steps=int(data["max_steps"]),
        )


@dataclass
class TrainState:
    """What callbacks see: the objects being trained and where the run stands.

    Set ``stop = True`` from a callback to end training after the current epoch.

    Examples:
        >>> state = TrainState(model=None, optimizer=None, history=History(), epochs=3)
        >>> state.epoch, state.step, state.stop
        (0, 0, False)
    """

    model: Any
    optimizer: Any
    history: History
    epoch: int = 0
    step: int = 0
    epochs: int = 0
    stop: bool = False
    logs: dict[str, float] = field(default_factory=dict)


class Callback:
    """Base class of fit callbacks; override the hooks you need (each receives the TrainState).

    ``on_step_end`` runs after every optimizer step with ``state.logs = {"loss": ...}``;
    ``on_epoch_end`` after the epoch's validation and checkpoint, with the epoch's row in
    ``state.logs``.

    Examples:
        >>> import numpy as np
        >>> from mlplab.data import ArrayDataset, DataLoader
        >>> from mlplab.nn import MLP
        >>> from mlplab.optim import SGD
        >>> class StopAfterOneEpoch(Callback):
        ...     def on_epoch_end(self, state):
        ...         state.stop = True
        >>> data = ArrayDataset(np.zeros((8, 3), np.float32), np.zeros(8, np.int64))
        >>> model = MLP(3, 2, width=4, depth=2, rng=0)
        >>> history = fit(model, SGD(model.parameters(), lr=0.1), DataLoader(data, batch_size=4),
        ...               epochs=5, callbacks=[StopAfterOneEpoch()])
        >>> len(history.epochs)
        1
    """

    def on_train_begin(self, state: TrainState) -> None:
        """Called once before the first epoch (after a resume restored the epoch and step).

        Examples:
            >>> import numpy as np
            >>> from mlplab.data import ArrayDataset, DataLoader
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> data = ArrayDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64))
            >>> model, loader = Linear(3, 2, rng=0), DataLoader(data, batch_size=4)  # 2 steps/epoch
            >>> class C(Callback):
            ...     def on_train_begin(self, state):
            ...         print("from epoch", state.epoch, "of", state.epochs)
            >>> _ = fit(model, SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[C()])
            from epoch 0 of 2
        """

    def on_epoch_begin(self, state: TrainState) -> None:
        """Called at the start of every epoch; ``state.epoch`` is its number (from 1).

        Examples:
            >>> import numpy as np
            >>> from mlplab.data import ArrayDataset, DataLoader
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> data = ArrayDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64))
            >>> model, loader = Linear(3, 2, rng=0), DataLoader(data, batch_size=4)  # 2 steps/epoch
            >>> class C(Callback):
            ...     def on_epoch_begin(self, state):
            ...         print("epoch", state.epoch, "starts after step", state.step)
            >>> _ = fit(model, SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[C()])
            epoch 1 starts after step 0
            epoch 2 starts after step 2
        """

    def on_step_end(self, state: TrainState) -> None:
        """Called after every optimizer step, with ``state.logs = {"loss": ...}``.

        Examples:
            >>> import numpy as np
            >>> from mlplab.data import ArrayDataset, DataLoader
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> data = ArrayDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64))
            >>> model, loader = Linear(3, 2, rng=0), DataLoader(data, batch_size=4)  # 2 steps/epoch
            >>> class LossLog(Callback):
            ...     def __init__(self):
            ...         self.losses = []
            ...     def on_step_end(self, state):
            ...         self.losses.append((state.step, state.logs["loss"]))
            >>> log = LossLog()
            >>> _ = fit(model, SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[log])
            >>> [step for step, _ in log.losses]
            [1, 2, 3, 4]
            >>> all(a > b for (_, a), (_, b) in zip(log.losses, log.losses[1:]))  # one class: easy
            True
        """

    def on_epoch_end(self, state: TrainState) -> None:
        """Called after the epoch's validation and checkpoint, its row in ``state.logs``.

        Examples:
            >>> import numpy as np
            >>> from mlplab.data import ArrayDataset, DataLoader
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> data = ArrayDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64))
            >>> model, loader = Linear(3, 2, rng=0), DataLoader(data, batch_size=4)  # 2 steps/epoch
            >>> class C(Callback):
            ...     def on_epoch_end(self, state):
            ...         print(state.epoch, sorted(state.logs))
            >>> _ = fit(model, SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[C()])
            1 ['epoch', 'lr', 'seconds', 'steps', 'train_accuracy', 'train_loss']
            2 ['epoch', 'lr', 'seconds', 'steps', 'train_accuracy', 'train_loss']
        """

    def on_train_end(self, state: TrainState) -> None:
        """Called once after the last epoch, also when a callback set ``state.stop``.

        Examples:
            >>> import numpy as np
            >>> from mlplab.data import ArrayDataset, DataLoader
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> data = ArrayDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64))
            >>> model, loader = Linear(3, 2, rng=0), DataLoader(data, batch_size=4)  # 2 steps/epoch
            >>> class C(Callback):
            ...     def on_epoch_end(self, state):
            ...         state.stop = True
            ...     def on_train_end(self, state):
            ...         print(len(state.history.epochs), "of", state.epochs, "epochs run")
            >>> _ = fit(model, SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[C()])
            1 of 2 epochs run
        """


def _correct(logits: Tensor, labels: Tensor) -> int:
    return int((logits.data.argmax(axis=-1) == labels.data).sum())


def _default_loss() -> Callable[[Tensor, Tensor], Tensor]:
    from .nn import CrossEntropyLoss

    return CrossEntropyLoss()  # type: ignore[no-any-return]


def evaluate(
    model: Any,
    loader: Iterable[Any],
    loss: Callable[..., Tensor] | None = None,
    optimizer: Any = None,
):
    """Return (mean loss, accuracy) of ``model`` over every batch of ``loader``.

    Runs under ``no_grad`` with ``model.eval()``, and restores the model's mode afterwards. The
    loss is averaged over samples (each batch's mean weighted by its size), the accuracy is the
    fraction of samples whose largest logit is the label.

    Args:
        model: a Module mapping (m, n) inputs to (m, k) logits.
        loader: yields ``(x, y)`` batches (a :class:`~mlplab.data.DataLoader`).
        loss: a loss module taking (logits, labels) with mean reduction; cross-entropy if None.
        optimizer: the model's optimizer, if its parameters may hold another point than θ: the
            model is scored inside ``optimizer.at_theta()`` (the closure-free Nesterov holds
            φ = θ − αu); the parameters are as before afterwards.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import Linear
        >>> from mlplab.data import ArrayDataset, DataLoader
        >>> model = Linear(2, 2, rng=0)
        >>> model.weight.data[...] = [[1, 0], [0, 1]]; model.bias.data[...] = 0
        >>> x = np.array([[2.0, 0], [0, 2], [2, 0]], np.float32)
        >>> data = ArrayDataset(x, np.array([0, 1, 1]))  # the last sample is misclassified
        >>> loss, acc = evaluate(model, DataLoader(data, batch_size=2))
        >>> round(loss, 4), round(acc, 4)  # (2·log(1 + e⁻²) + log(1 + e²)) / 3
        (0.7936, 0.6667)
    """
    loss_fn = loss if loss is not None else _default_loss()
    was_training = getattr(model, "training", True)
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    at_theta = getattr(optimizer, "at_theta", None)
    scope = at_theta() if at_theta is not None else contextlib.nullcontext()
    try:
        with no_grad(), scope:
            for x, y in loader:
                logits = model(x)
                n = len(y.data)
                total_loss += float(loss_fn(logits, y).item()) * n
                correct += _correct(logits, y)
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return total_loss / count, correct / count


def closure_kind(optimizer: Any) -> str:
    """What the optimizer's ``step`` needs: its ``closure_kind`` (``"none"``, ``"backward"`` or
    ``"graph"``; see :class:`~mlplab.optim.Optimizer`); an object without one (a wrapper) gets
    ``"backward"`` if it says ``requires_closure = True``, else ``"none"``.

    Raises:
        ValueError: for a ``closure_kind`` that is none of the three.

    Examples:
        >>> from mlplab import optim, Tensor
        >>> class MyNewton(optim.Newton): ...
        >>> closure_kind(MyNewton([Tensor([1.0])]))
        'graph'
    """
    kind = getattr(optimizer, "closure_kind", None)
    if kind is None:
        kind = "backward" if getattr(optimizer, "requires_closure", False) else "none"
    if kind not in _CLOSURE_KINDS:
        raise ValueError(
            f"fit: {type(optimizer).__name__}.closure_kind must be one of "
            f"{', '.join(_CLOSURE_KINDS)}, got {kind!r}"
        )
    return str(kind)


def needs_closure(optimizer: Any) -> bool:
    """True for optimizers whose ``step`` takes a closure (``closure_kind`` is not "none")."""
    return closure_kind(optimizer) != "none"


def train_step(model: Any, optimizer: Any, loss_fn: Callable[..., Tensor], x: Tensor, y: Tensor):
    """Run one optimizer step on the batch; return (loss value, logits at the current θ)."""
    kind = closure_kind(optimizer)
    if kind == "none":
        optimizer.zero_grad()
        logits = model(x)
        value = loss_fn(logits, y)
        if math.isfinite(value.item()):  # never step on a NaN gradient
            backward(value)
            optimizer.step()
        return float(value.item()), logits
    seen: list[Tensor] = []
    calls_backward = kind == "backward"

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = model(x)
        seen.append(logits)
        value = loss_fn(logits, y)
        if calls_backward:
            backward(value)
        return value

    value = optimizer.step(closure)
    return float(value.item()), seen[0]


def _current_lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


def fit(
    model: Any,
    optimizer: Any,
    train_loader: Any,
    epochs: int,
    loss: Callable[..., Tensor] | None = None,
    val_loader: Any = None,
    callbacks: Sequence[Callback] = (),
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    scheduler: Any = None,
    config: dict[str, Any] | None = None,
    progress: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return the :class:`History`.

    Args:
        model: a Module producing logits.
        optimizer: an ``mlplab.optim`` optimizer over ``model.parameters()``.
        train_loader: yields ``(x, y)`` minibatches; one pass is one epoch.
        epochs: the total number of epochs (a resumed run continues up to it).
        loss: the loss module (mean reduction); ``CrossEntropyLoss()`` if None.
        val_loader: evaluated after every epoch (``val_loss``, ``val_accuracy``).
        callbacks: :class:`Callback` objects, called in order.
        checkpoint_dir: save ``checkpoint.safetensors`` there after every epoch (the folder is
            created if needed).
        resume: continue from the checkpoint in ``checkpoint_dir``.
        scheduler: an lr scheduler stepped once per epoch (``scheduler.step()``; one that
            ``needs_metric``, ReduceLROnPlateau, gets ``step(val_loss)``, the train loss
            without validation).
        config: JSON-able description of the run, stored in each checkpoint.
        progress: show the running loss and accuracy on stderr: a tqdm bar per epoch on a
            terminal, else (a log file, a pipe, captured output) plain lines, one per epoch and
            one every 10 s (:func:`mlplab.progress.progress_bar`).

    Raises:
        ValueError: for ``epochs`` < 0, or ``resume`` without ``checkpoint_dir``.
        FileNotFoundError: for ``resume`` when ``checkpoint_dir`` holds no checkpoint.
        DivergenceError: when a loss is NaN or infinite (the message names the step and the
            learning rate); the weights of the last good checkpoint stay on disk.

    Examples:
        >>> import numpy as np
        >>> from mlplab.nn import MLP
        >>> from mlplab.optim import Adam
        >>> from mlplab.data import ArrayDataset, DataLoader
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 2)).astype(np.float32)
        >>> data = ArrayDataset(x, (x[:, 0] * x[:, 1] > 0).astype(np.int64))
        >>> model = MLP(2, 2, width=16, depth=2, rng=0)
        >>> history = fit(model, Adam(model.parameters(), lr=0.05),
        ...               DataLoader(data, batch_size=20, shuffle=True, seed=0), epochs=20)
        >>> history.epochs[-1]["train_accuracy"] > 0.9
        True
    """
    from . import checkpoint as ckpt

    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs a checkpoint_dir")
    loss_fn = loss if loss is not None else _default_loss()
    state = TrainState(model, optimizer, History(), epochs=int(epochs))
    elapsed = 0.0
    if resume:
        path = ckpt.checkpoint_path(checkpoint_dir)  # type: ignore[arg-type]
        saved = ckpt.load_checkpoint(path)
        saved.restore(model, optimizer, train_loader, scheduler)
        state.history, state.epoch, state.step = saved.history, saved.epoch, saved.step
        elapsed = saved.history.epochs[-1]["seconds"] if saved.history.epochs else 0.0
    elif checkpoint_dir is not None:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter() - elapsed
    for cb in callbacks:
        cb.on_train_begin(state)
    model.train()
    while state.epoch < epochs and not state.stop:
        state.epoch += 1
        for cb in callbacks:
            cb.on_epoch_begin(state)
        row = _train_epoch(state, train_loader, loss_fn, callbacks, progress)
        if hasattr(optimizer, "state") and hasattr(optimizer, "param_groups"):
            warn_if_subnormal(optimizer, "fit")  # once: vanishing gradients, slow arithmetic
        if val_loader is not None:
            row["val_loss"], row["val_accuracy"] = evaluate(model, val_loader, loss_fn, optimizer)
        row["lr"] = _current_lr(optimizer)
        row["steps"] = state.step
        if scheduler is not None and getattr(scheduler, "needs_metric", False):
            scheduler.step(row.get("val_loss", row["train_loss"]))  # ReduceLROnPlateau
        elif scheduler is not None:
            scheduler.step()
        row["seconds"] = time.perf_counter() - start
        state.history.epochs.append(row)
        state.logs = row
        if checkpoint_dir is not None:
            ckpt.save_checkpoint(
                ckpt.checkpoint_path(checkpoint_dir),
                model=model,
                optimizer=optimizer,
                loader=train_loader,
                scheduler=scheduler,
                epoch=state.epoch,
                step=state.step,
                history=state.history,
                config=config or {},
            )
        for cb in callbacks:
            cb.on_epoch_end(state)
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history


def _train_epoch(
    state: TrainState,
    loader: Any,
    loss_fn: Callable[..., Tensor],
    callbacks: Sequence[Callback],
    progress: bool,
) -> dict[str, float]:
    """One pass over the loader; return the epoch's running loss and accuracy."""
    total_loss, correct, count = 0.0, 0, 0
    batches: Any = loader
    bar = None
    if progress:
        from .progress import progress_bar

        bar = progress_bar(loader, total=len(loader), desc=f"epoch {state.epoch}/{state.epochs}")
        batches = bar
    try:
        for x, y in batches:
            value, logits = train_step(state.model, state.optimizer, loss_fn, x, y)
            if not math.isfinite(value):
                raise DivergenceError(
                    f"fit: the loss became {value} at step {state.step + 1} (epoch "
                    f"{state.epoch}) with lr {_current_lr(state.optimizer):g}; "
                    "try a smaller learning rate"
                )
            n = len(y.data)
            total_loss += value * n
            correct += _correct(logits, y)
            count += n
            state.history.record_step(state.step, value)
            state.step += 1
            state.logs = {"loss": value}
            for cb in callbacks:
                cb.on_step_end(state)
            if bar is not None and state.step % 10 == 0:
                bar.set_postfix(loss=f"{total_loss / count:.4f}", acc=f"{correct / count:.4f}")
        if bar is not None and count:
            bar.set_postfix(loss=f"{total_loss / count:.4f}", acc=f"{correct / count:.4f}")
    finally:
        if bar is not None:
            bar.close()
    if count == 0:
        raise ValueError("fit: the training loader yielded no batches")
    return {
        "epoch": state.epoch,
        "train_loss": total_loss / count,
        "train_accuracy": correct / count,
    }
