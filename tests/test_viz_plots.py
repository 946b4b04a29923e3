"""Static plots: loss curves, activation gallery (derivatives by graphdl), histograms."""

from __future__ import annotations

import numpy as np
import pytest

from graphdl.ops import LeakyRelu, Relu, Sigmoid, Tanh
from graphdl.viz.plots import activation_curve, activation_gallery, init_histograms, plot_loss


def test_activation_derivatives_come_from_graphdl():
    xs = np.linspace(-3, 3, 61)
    values, slope = activation_curve(Sigmoid, xs)
    np.testing.assert_allclose(slope, values * (1 - values), atol=1e-12)
    values, slope = activation_curve(Tanh, xs)
    np.testing.assert_allclose(slope, 1 - values**2, atol=1e-12)
    _, slope = activation_curve(Relu, xs)
    assert set(np.unique(slope)) == {0.0, 1.0}
    _, slope = activation_curve(LeakyRelu, xs, negative_slope=0.2)
    np.testing.assert_allclose(slope, np.where(xs > 0, 1.0, 0.2))


def test_plots_write_pngs(tmp_path):
    activation_gallery(tmp_path / "act.png")
    figure = plot_loss(np.linspace(2, 0.1, 300), validation=[1.5, 0.7, 0.2], path=tmp_path / "loss.png")
    assert [line.get_label() for line in figure.axes[0].lines][-1] == "validation"
    init_histograms({"a": np.random.default_rng(0).uniform(-1, 1, 500)}, path=tmp_path / "init.png")
    for name in ("act.png", "loss.png", "init.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_plot_errors_are_clear():
    with pytest.raises(ValueError, match="at least one"):
        plot_loss([])
    with pytest.raises(ValueError, match="at least one"):
        init_histograms({})


def test_decision_boundary_binary_and_multiclass(tmp_path):
    from graphdl.viz.plots import plot_decision_boundary

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    def probability(points):
        seen.append(points.shape)
        return 1.0 / (1.0 + np.exp(-5.0 * points[:, 0]))

    splits = {"train": (X[:40], y[:40]), "test": (X[40:], y[40:])}
    figure = plot_decision_boundary(
        probability, splits, bounds=(-2, 2, -1, 1), resolution=30, path=tmp_path / "binary.png"
    )
    assert seen == [(900, 2)]
    axes = figure.axes[0]
    assert axes.get_xlim() == (-2, 2) and axes.get_ylim() == (-1, 1)
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels[:2] == ["train (40)", "test (20)"] and "decision boundary" in labels
    # the boundary is drawn at the threshold: x1 = 0 for this model
    (boundary,) = [c for c in axes.collections if list(getattr(c, "levels", [])) == [0.5]]
    vertices = np.concatenate([path.vertices for path in boundary.get_paths()])
    assert len(vertices) >= 2
    np.testing.assert_allclose(vertices[:, 0], 0.0, atol=0.05)

    three = rng.integers(0, 3, size=50)
    scores = lambda points: np.stack([points[:, 0], points[:, 1], -points[:, 0]], axis=1)  # noqa: E731
    figure = plot_decision_boundary(scores, {"all": (rng.normal(size=(50, 2)), three)}, path=tmp_path / "multi.png")
    assert sum("class" in text.get_text() for text in figure.axes[0].get_legend().get_texts()) == 3
    for name in ("binary.png", "multi.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_decision_boundary_errors_are_clear():
    from graphdl.viz.plots import plot_decision_boundary

    with pytest.raises(ValueError, match="at least one"):
        plot_decision_boundary(lambda p: p[:, 0], {})
    with pytest.raises(ValueError, match="shape"):
        plot_decision_boundary(lambda p: p[:, 0], {"train": (np.zeros((4, 3)), np.zeros(4))})
    with pytest.raises(ValueError, match="outputs for"):
        plot_decision_boundary(lambda p: p[:3, 0], {"train": (np.zeros((4, 2)), np.zeros(4))}, resolution=5)
    with pytest.raises(ValueError, match="resolution"):
        plot_decision_boundary(lambda p: p[:, 0], {"train": (np.zeros((4, 2)), np.zeros(4))}, resolution=1)


def test_confusion_matrix_plot_shows_counts_and_class_names(tmp_path):
    from graphdl.metrics import confusion_matrix
    from graphdl.viz.plots import plot_confusion_matrix

    matrix = confusion_matrix([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 2, 0], num_classes=3)
    figure = plot_confusion_matrix(matrix, ["setosa", "versicolor", "virginica"], path=tmp_path / "cm.png")
    axes = figure.axes[0]
    cells = [text.get_text() for text in axes.texts]
    assert cells == [str(v) for v in matrix.ravel()]  # row by row: true class, then predicted
    assert [t.get_text() for t in axes.get_xticklabels()] == ["setosa", "versicolor", "virginica"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["setosa", "versicolor", "virginica"]
    assert axes.get_xlabel() == "predicted class" and axes.get_ylabel() == "true class"
    assert "5 of 7 correct" in axes.get_title()
    assert (tmp_path / "cm.png").read_bytes().startswith(b"\x89PNG")


def test_confusion_matrix_plot_draws_into_given_axes_and_checks_its_input():
    from graphdl.viz.plots import _figure, plot_confusion_matrix

    figure = _figure((8.0, 4.0))
    left, right = figure.subplots(1, 2)
    assert plot_confusion_matrix(np.eye(2, dtype=int) * 3, axes=right) is figure
    assert len(right.texts) == 4 and not left.texts
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="2 class names"):
        plot_confusion_matrix(np.eye(3, dtype=int), ["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        plot_confusion_matrix(-np.eye(2, dtype=int))


def test_loss_plot_marks_clipped_spikes_and_keeps_the_legend_off_the_data():
    losses = np.linspace(1.0, 0.1, 1500)
    losses[[10, 20, 30]] = [40.0, 55.0, 60.0]
    figure = plot_loss(losses)
    axes = figure.axes[0]
    figure.canvas.draw()
    labels = [line.get_label() for line in axes.lines]
    assert "train, mean of the last 100 steps" in labels
    marks = next(line for line in axes.lines if line.get_label().startswith("3 steps above"))
    cap = marks.get_ydata()[0]
    assert list(marks.get_xdata()) == [11, 21, 31] and "highest 60" in marks.get_label()
    assert cap < 40 and axes.get_ylim()[1] > cap
    for line in axes.lines:
        assert np.max(line.get_ydata()) <= cap
    legend_bottom = axes.get_legend().get_window_extent().y0
    assert legend_bottom > axes.transData.transform((0, cap))[1]  # the legend sits above every curve


def test_many_clipped_spikes_get_spread_out_markers_and_an_exact_count():
    from graphdl.viz.loss_stats import spread_out

    losses = np.full(100_000, 0.1)
    losses[::400] = 9.0  # 250 spikes, 0.25% of the steps: above the 99.5th percentile
    figure = plot_loss(losses)
    marks = next(line for line in figure.axes[0].lines if "above" in line.get_label())
    assert marks.get_label().startswith("250 steps above") and 100 <= len(marks.get_xdata()) <= 120
    assert np.array_equal(spread_out(np.arange(1.0, 11.0), 10), np.arange(1.0, 11.0))


def test_layer_norms_mark_exact_zeros_instead_of_drawing_them(tmp_path):
    from graphdl.viz.plots import plot_layer_norms

    norms = {"sigmoid": [1e-11, 1e-8, 1e-5, 1e-2], "relu": [0.0, 0.0, 1e-4, 1e-1]}
    figure = plot_layer_norms(norms, {"sigmoid": "Sigmoid", "relu": "ReLU"}, path=tmp_path / "norms.png")
    assert (tmp_path / "norms.png").read_bytes().startswith(b"\x89PNG")
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels == ["Sigmoid", "ReLU (a log scale cannot draw 0)"]
    assert [text.get_text() for text in axes.texts].count("exactly 0") == 2
    with pytest.raises(ValueError, match="same number of layers"):
        plot_layer_norms({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match=r"no norms for \['c'\]"):
        plot_layer_norms({"a": [1.0]}, {"c": "C"})
