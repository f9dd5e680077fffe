"""cross_entropy takes its one-node path exactly for the plain training batch, and every other
case (bad labels, ignored rows, options) the general one, with the same values and errors."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import functional as F
from mlplab.ops.fused import SoftmaxCrossEntropy


def _logits() -> mlplab.Tensor:
    h = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    return mlplab.Tensor(h, requires_grad=True)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(
    "labels", [np.array([0, 3, 1, 2, 3, 0]), np.array([0, 3, 1, 2, 3, 0], np.uint8)]
)
def test_plain_batch_is_one_node(reduction: str, labels: np.ndarray) -> None:
    loss = F.cross_entropy(_logits(), labels, reduction)
    assert isinstance(loss.op, SoftmaxCrossEntropy)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ignore_index": 2},  # a label of the batch is ignored
        {"label_smoothing": 0.1},
        {"weight": [1.0, 2.0, 1.0, 1.0]},
        {"reduction": "none"},
    ],
)
def test_other_cases_take_the_general_path(kwargs: dict) -> None:
    logits, labels = _logits(), np.array([0, 3, 1, 2, 3, 0])
    loss = F.cross_entropy(logits, labels, **kwargs)
    assert not isinstance(loss.op, SoftmaxCrossEntropy)


def test_an_ignore_index_outside_the_batch_keeps_the_fast_path() -> None:
    loss = F.cross_entropy(_logits(), np.array([0, 3, 1, 1, 3, 0]), ignore_index=2)
    assert isinstance(loss.op, SoftmaxCrossEntropy)


@pytest.mark.parametrize("bad", [[0, 4, 1, 2, 3, 0], [0, -1, 1, 2, 3, 0]])
def test_labels_out_of_range_still_raise(bad: list[int]) -> None:
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        F.cross_entropy(_logits(), np.array(bad))


def test_bad_options_still_raise() -> None:
    labels = np.array([0, 3, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(_logits(), labels, label_smoothing=False)
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(_logits(), labels, reduction="avg")
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(_logits(), labels.astype(np.float32))
    with pytest.raises(ValueError, match="expected logits"):
        F.cross_entropy(_logits(), labels[:5])


def test_fast_and_general_paths_agree() -> None:
    labels = np.array([0, 3, 1, 2, 3, 0])
    fast, general = _logits(), _logits()
    F.cross_entropy(fast, labels).backward()
    # all-ones class weights force the general path: the same loss, the same gradient
    F.cross_entropy(general, labels, weight=[1.0, 1.0, 1.0, 1.0]).backward()
    np.testing.assert_allclose(fast.grad.data, general.grad.data, rtol=1e-6, atol=1e-7)
