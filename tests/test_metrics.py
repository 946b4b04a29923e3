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


def test_classification_report_scores_every_split_and_counts_the_chosen_one() -> None:
    from graphdl import nn, optim
    from graphdl.metrics import classification_report
    from graphdl.train import Trainer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    model = nn.MLP(2, [6, 3], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="cross_entropy", metric="accuracy", progress=False)
    trainer.fit((X[:40], y[:40]), epochs=20, batch_size=None)
    splits = {"train": (X[:40], y[:40]), "test": (X[40:], y[40:])}
    report = classification_report(trainer, splits, 3)
    assert report["train_accuracy"] == trainer.evaluate(splits["train"])["accuracy"]
    assert report["test_loss"] == trainer.evaluate(splits["test"])["loss"]
    np.testing.assert_array_equal(report["predictions"], trainer.predict_classes(X[40:]))
    np.testing.assert_array_equal(report["confusion"], metrics.confusion_matrix(y[40:], report["predictions"], 3))
    assert np.trace(report["confusion"]) == round(report["test_accuracy"] * 20)
    with pytest.raises(ValueError, match="no split named 'dev'"):
        classification_report(trainer, splits, 3, matrix_split="dev")
