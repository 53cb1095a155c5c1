import pytest
import torch

from regviz.history import History
from regviz.metrics import accuracy, diagnose, generalisation_gap


def test_accuracy_hard_and_soft():
    """Arg-max agreement, with labels or soft targets."""
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(logits, torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])) == pytest.approx(2 / 3)


def _h(train_loss, val_loss, train_acc, val_acc):
    return History(train_loss=train_loss, val_loss=val_loss, train_acc=train_acc, val_acc=val_acc)


class TestGapAndDiagnosis:
    """Gap sign conventions and the learning-curve rules."""

    def test_gap(self):
        h = _h([1.0, 0.2], [1.1, 0.5], [0.6, 0.99], [0.5, 0.9])
        assert generalisation_gap(h) == pytest.approx(0.3)
        assert generalisation_gap(h, metric="acc", epoch=1) == pytest.approx(0.1)
        with pytest.raises(ValueError):
            generalisation_gap(h, epoch=3)

    @pytest.mark.parametrize("h,label", [
        (_h([2.0, 1.9], [2.0, 1.95], [0.3, 0.35], [0.3, 0.33]), "underfitting"),
        (_h([1.0, 0.1, 0.01], [1.0, 0.5, 0.9], [0.7, 0.99, 1.0], [0.6, 0.85, 0.84]), "overfitting"),
        (_h([1.0, 0.3, 0.2], [1.0, 0.32, 0.22], [0.8, 0.95, 0.96], [0.8, 0.94, 0.95]), "good fit"),
        (_h([1.0, 0.2, 0.1], [1.0, 0.40, 0.402], [0.7, 0.97, 0.99], [0.6, 0.9, 0.9]), "beginning to overfit"),
    ])
    def test_diagnose(self, h, label):
        assert diagnose(h) == label
