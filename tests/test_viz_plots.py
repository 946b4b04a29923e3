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
