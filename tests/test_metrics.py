import numpy as np
import pytest

from graphdl import metrics


def test_binary_accuracy_with_threshold():
    outputs = np.array([0.9, 0.2, 0.5, 0.4])
    labels = np.array([1, 0, 0, 1])
    assert metrics.accuracy(outputs, labels) == 0.5  # 0.5 >= 0.5 counts as class 1
    assert metrics.accuracy(outputs - 0.5, labels, threshold=0.0) == 0.5
    assert metrics.accuracy(np.array([-2.0, 3.0]), np.array([-1, 1]), threshold=0.0) == 1.0


def test_multiclass_accuracy_is_argmax():
    outputs = np.array([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert metrics.accuracy(outputs, np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_mse_and_confusion_matrix():
    assert metrics.mse(np.array([1.0, 2.0]), np.array([0.0, 4.0])) == 2.5
    matrix = metrics.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1])
    expected = np.zeros((3, 3), dtype=int)
    for true, pred in [(0, 0), (1, 2), (2, 2), (2, 2), (1, 1)]:
        expected[true, pred] += 1
    assert (matrix == expected).all()
    with pytest.raises(ValueError, match="labels"):
        metrics.confusion_matrix([0, 1], [0])


def test_confusion_text_is_aligned_and_named() -> None:
    from graphdl.metrics import confusion_text

    text = confusion_text(np.array([[8, 0], [1, 11]]), ["cat", "mouse"])
    assert text.splitlines() == ["         cat mouse", "  cat:     8     0", "mouse:     1    11"]
    assert confusion_text(np.eye(2, dtype=int)).splitlines()[1] == "  0:   1   0"
    with pytest.raises(ValueError, match="square"):
        confusion_text(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 classes"):
        confusion_text(np.eye(2), ["a"])
