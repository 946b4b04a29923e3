import sys

import numpy as np
import pytest

from graphdl import datasets


def test_moons_follow_the_seed_construction():
    X, y = datasets.make_moons(101, shuffle=False, noise=0.0)
    assert X.shape == (101, 2) and (y[:50] == 0).all() and (y[50:] == 1).all()
    outer, inner = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    assert np.allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0)
    assert (outer[:, 1] >= -1e-12).all() and (inner[:, 1] <= 0.5 + 1e-12).all()


def test_moons_noise_and_seed():
    clean = datasets.make_moons(4000, noise=0.0, seed=3)
    noisy = datasets.make_moons(4000, noise=0.1, seed=3)
    assert (clean.y == noisy.y).all()  # same shuffle, then noise
    assert abs((noisy.X - clean.X).std() - 0.1) < 0.005
    again = datasets.make_moons(4000, noise=0.1, seed=3)
    assert (again.X == noisy.X).all()
    with pytest.raises(ValueError, match="noise"):
        datasets.make_moons(10, noise=-1)


def test_circles_and_spiral():
    X, y = datasets.make_circles(200, noise=0.0, factor=0.3, seed=0)
    radii = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radii[y == 0], 1.0) and np.allclose(radii[y == 1], 0.3)
    X, y = datasets.spiral(50, classes=4, seed=0)
    assert X.shape == (200, 2) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12


def test_quadratic_is_the_tutorial_data():
    data = datasets.quadratic(100, seed=1)
    assert data.X.shape == (100, 1) and np.allclose(data.y, data.X[:, 0] ** 2)
    assert (data.X >= 0).all() and (data.X <= 2).all()


def test_iris_is_shipped_and_matches_scikit_learn():
    data = datasets.iris()
    assert data.X.shape == (150, 4) and np.bincount(data.y).tolist() == [50, 50, 50]
    assert data.target_names == ["setosa", "versicolor", "virginica"]
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_iris()
    assert np.allclose(data.X, reference.data) and (data.y == reference.target).all()


def test_digits_through_scikit_learn_or_a_clear_message(monkeypatch):
    pytest.importorskip("sklearn")
    data = datasets.digits()
    assert data.X.shape == (1797, 64) and data.X.max() == 1.0
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.digits()


def test_train_dev_test_split():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    (a, ya), (b, yb), (c, yc) = datasets.train_dev_test_split(X, y, (6, 2, 2), seed=0)
    assert (len(a), len(b), len(c)) == (6, 2, 2)
    assert sorted(np.concatenate([ya, yb, yc]).tolist()) == list(range(10))
    assert (a[:, 0] == 2 * ya).all()  # rows stay paired with their labels
    again = datasets.train_dev_test_split(X, y, (6, 2, 2), seed=0)
    assert (again[0][1] == ya).all()
    parts = datasets.train_dev_test_split(X, y, (0.5, 0.3, 0.2), shuffle=False)
    assert [p[1].tolist() for p in parts] == [[0, 1, 2, 3, 4], [5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="sum"):
        datasets.train_dev_test_split(X, y, (5, 2, 2))


def test_standardise_uses_the_training_statistics_only() -> None:
    from graphdl.datasets import standardise

    train = (np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([0, 1]))
    test = (np.array([[5.0, 7.0]]), np.array([1]))
    (X_train, y_train), (X_test, y_test) = standardise(train, test)
    np.testing.assert_allclose(X_train, [[-1.0, 0.0], [1.0, 0.0]])  # the constant column becomes 0
    np.testing.assert_allclose(X_test, [[3.0, 2.0]])  # (5 - 2) / 1 and (7 - 5) / 1: train's mean and std
    assert y_train is train[1] and y_test is test[1]
    with pytest.raises(ValueError, match="2 columns"):
        standardise(train, (np.zeros((1, 3)), np.zeros(1)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        standardise((np.zeros(3), np.zeros(3)))
