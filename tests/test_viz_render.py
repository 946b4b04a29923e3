"""The graph renderer: DOT text, Graphviz images, the matplotlib fallback, notebook SVG."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from graphdl import Graph, Mul, Relu, Variable
from graphdl.tutorial_net import build_seed_net
from graphdl.viz import GraphvizMissingWarning, render, to_dot
from graphdl.viz.style import DEAD_FILL, VANISHING_BORDER, VANISHING_FILL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SNAPSHOT = Path(__file__).parent / "snapshots" / "seed_net.dot"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def seed_net_at_a_point():
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.5)
    net.label.set_value(2.25)
    net.loss.backward()
    return net


def edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(n\d+) -> (n\d+)", dot, flags=re.MULTILINE)


def node_ids(dot: str) -> dict[str, str]:
    """DOT id -> node name, read from the tooltips."""
    return dict(re.findall(r'^\s*(n\d+) \[.*tooltip="([^"]*)"\];$', dot, flags=re.MULTILINE))


@pytest.fixture
def no_dot_on_path(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


def test_dot_has_every_node_and_one_edge_per_parent_link():
    net = seed_net_at_a_point()
    graph = Graph(net.loss)
    dot = to_dot(graph)
    ids = node_ids(dot)
    assert sorted(ids.values()) == sorted(node.name for node in graph.nodes)
    by_name = {name: key for key, name in ids.items()}
    expected = sorted((by_name[parent.name], by_name[node.name]) for node in graph.nodes for parent in node.parents)
    assert sorted(edges(dot)) == expected


def test_repeated_parent_gives_one_edge_per_link_and_ordered_ops_label_positions():
    a = Variable(3.0, name="a")
    ratio = a / a
    dot = to_dot(ratio)
    assert len(edges(dot)) == 2
    assert 'headlabel="0"' in dot and 'headlabel="1"' in dot


def test_labels_show_kind_symbol_value_and_grad():
    net = seed_net_at_a_point()
    dot = to_dot(net.loss)
    assert "LeakyRelu  LeakyReLU" not in dot  # symbol equal to the kind is not repeated
    assert "Mul  ×" in dot and "negative_slope=0.1" in dot
    assert f"value {net.w_11.value:.4g}" in dot
    assert f"grad {net.w_11.grad:.4g}" in dot
    plain = to_dot(net.loss, show_values=False, show_grads=False)
    assert "value " not in plain and "grad " not in plain


def test_batches_are_shown_compactly():
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(np.linspace(0, 2, 50))
    net.add_21.forward()
    assert "(n=50)" in to_dot(net.add_21)


def test_dot_is_deterministic_across_builds():
    assert to_dot(seed_net_at_a_point().loss) == to_dot(seed_net_at_a_point().loss)


def test_dot_snapshot_of_the_seed_net():
    dot = to_dot(seed_net_at_a_point().loss)
    if os.environ.get("GRAPHDL_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(dot, encoding="utf-8")
    assert dot == SNAPSHOT.read_text(encoding="utf-8")


def test_awkward_names_are_escaped(tmp_path):
    a = Variable(1.0, name='a<b>&{c}|"q"')
    out = a * 2
    dot = to_dot(out)
    assert "a&lt;b&gt;&amp;{c}|&quot;q&quot;" in dot
    if shutil.which("dot"):
        render(out, tmp_path / "odd.svg")
        ElementTree.parse(tmp_path / "odd.svg")


def test_clusters_by_name_prefix():
    w = Variable(0.5, name="fc1.w[0,0]")
    b = Variable(0.1, name="fc1.b[0]")
    v = Variable(2.0, name="fc2.w[0,0]")
    x = Variable(1.0, name="x", trainable=False)
    out = (x * w + b) * v
    dot = to_dot(out)
    assert 'label="fc1"' in dot and 'label="fc2"' in dot
    assert dot.count("subgraph cluster_") == 2
    assert "subgraph" not in to_dot(out, cluster_separator=None)


def test_dead_units_and_vanishing_gradients_are_highlighted():
    x = Variable(np.array([-1.0, -2.0, -0.5]), name="x", trainable=False)
    w = Variable(1.0, name="w")
    dead = Relu([x * w], name="dead")
    dead.forward()
    dot = to_dot(dead)
    assert "dead unit" in dot
    x.set_value(np.array([-1.0, 2.0, -0.5]))
    dead.forward()
    assert "dead unit" not in to_dot(dead)
    small = Variable(1e-9, name="small")
    out = Variable(1.0, name="big") * small
    small.get_grad()
    big = out.parents[0]
    big.get_grad()
    marked = to_dot(out, vanishing_threshold=1e-6, legend=False)
    assert marked.count("vanishing gradient") == 1  # big's grad is 1e-9, small's is 1


def test_highlights_are_filled_and_explained_in_the_legend():
    """Vanishing nodes get a violet fill (visible at a glance in a big graph), dead units a
    grey one, and the legend names each mark only when some node carries it."""
    x = Variable(np.array([-1.0, -2.0]), name="x", trainable=False)
    w = Variable(1.0, name="w")
    dead = Relu([x * w], name="dead")
    dead.backward()
    dot = to_dot(dead)
    dead_line = next(line for line in dot.splitlines() if 'tooltip="dead"' in line)
    assert f'fillcolor="{DEAD_FILL}"' in dead_line
    legend = next(line for line in dot.splitlines() if line.strip().startswith("legend"))
    assert "dead unit: derivative 0" in legend and "vanishing" not in legend

    small = Variable(1e-9, name="small")
    big = Variable(1.0, name="big")
    out = big * small
    out.backward()
    dot = to_dot(out, vanishing_threshold=1e-6)
    big_line = next(line for line in dot.splitlines() if 'tooltip="big"' in line)
    small_line = next(line for line in dot.splitlines() if 'tooltip="small"' in line)
    assert f'fillcolor="{VANISHING_FILL}"' in big_line and f'color="{VANISHING_BORDER}"' in big_line
    assert VANISHING_FILL not in small_line
    legend = next(line for line in dot.splitlines() if line.strip().startswith("legend"))
    assert "vanishing gradient: |grad| &lt; 1e-06" in legend and "dead unit" not in legend
    assert "vanishing" not in to_dot(out)  # no threshold, no mark, no legend entry


def test_bad_arguments_are_clear(tmp_path):
    a = Variable(1.0, name="a")
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(a, rankdir="XY")
    with pytest.raises(ValueError, match="suffix"):
        render(a, tmp_path / "graph.gif")
    with pytest.raises(TypeError):
        to_dot("not a node")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render(a, tmp_path / "missing" / "graph.png")


@needs_dot
def test_render_png_svg_pdf_with_graphviz(tmp_path):
    net = seed_net_at_a_point()
    png = render(net.loss, tmp_path / "graph.png")
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8") == to_dot(net.loss)
    svg = render(net.loss, tmp_path / "graph.svg")
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "w_11" in svg.read_text(encoding="utf-8")
    pdf = render(net.loss, tmp_path / "graph", format="pdf")
    assert pdf.name == "graph.pdf" and pdf.read_bytes().startswith(b"%PDF")


@needs_dot
def test_palette_png_is_smaller_and_keeps_the_picture(tmp_path):
    from PIL import Image

    net = seed_net_at_a_point()
    full = render(net.loss, tmp_path / "full.png")
    reduced = render(net.loss, tmp_path / "reduced.png", palette=64)
    assert reduced.read_bytes().startswith(PNG_SIGNATURE)
    assert reduced.stat().st_size < full.stat().st_size
    with Image.open(full) as a, Image.open(reduced) as b:
        assert b.mode == "P" and a.size == b.size
        difference = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
    assert difference.mean() < 2.0  # on a 0-255 scale: no visible change
    with pytest.raises(ValueError, match="palette"):
        render(net.loss, tmp_path / "graph.svg", palette=64)
    with pytest.raises(ValueError, match="palette"):
        render(net.loss, tmp_path / "graph.png", palette=1000)


def test_fallback_without_dot_draws_and_warns(tmp_path, no_dot_on_path):
    net = seed_net_at_a_point()
    with pytest.warns(GraphvizMissingWarning, match="apt-get install graphviz"):
        png = render(net.loss, tmp_path / "graph.png")
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8") == to_dot(net.loss)
    with pytest.warns(GraphvizMissingWarning):
        svg = render(net.loss, tmp_path / "graph.svg", rankdir="TB")
    text = svg.read_text(encoding="utf-8")
    ElementTree.fromstring(text)
    assert "w_11" in text or "<path" in text


def test_notebook_svg_with_and_without_dot(monkeypatch, tmp_path):
    net = seed_net_at_a_point()
    ElementTree.fromstring(net.loss._repr_svg_())
    ElementTree.fromstring(Graph(net.loss)._repr_svg_())
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    ElementTree.fromstring(net.add_21._repr_svg_())


def test_vanishing_mark_compares_batch_nodes_and_parameters_on_one_scale():
    """Regression: a batch node's grad is each sample's gradient divided by the batch size,
    so judging it by mean |grad| marked it as vanishing N times too early (the weight it
    feeds, whose gradient sums those shares, was not marked)."""
    n = 1000
    x = Variable(np.ones(n), name="x", trainable=False)
    w = Variable(1e-3, name="w")
    z = Mul([x, w], name="z")
    out = Mul([z, 1.0], name="out")
    out.backward()
    assert float(w.grad) == pytest.approx(1.0)  # mean over samples of d out_i / d w = x_i
    assert np.allclose(z.grad, 1.0 / n)  # each sample's share of d(mean out)/d z_i
    dot = to_dot(out, vanishing_threshold=0.1, legend=False)
    assert "vanishing gradient" not in dot  # per sample, z's gradient is 1, like w's
    one = Variable(np.ones(1), name="x1", trainable=False)
    single = Mul([Mul([one, Variable(1.0, name="v")], name="z1"), 1e-3], name="out1")
    single.backward()
    assert to_dot(single, vanishing_threshold=0.1, legend=False).count("vanishing gradient") == 2  # v and z1


def test_batch_grad_labels_are_per_sample_and_agree_with_the_vanishing_mark():
    """A batch node's label shows the mean of d(loss_i)/d(node_i) (the loss node reads 1, not
    1/N); parameters keep the batch gradient; the vanishing mark uses the same scale."""
    net = build_seed_net()
    net.initialise("fig8")
    xs = np.linspace(0.1, 1.9, 1500)
    net.x.set_value(xs)
    net.label.set_value(xs**2)
    net.loss.backward()
    dot = to_dot(net.loss, legend=False)
    assert "grad mean 1 per sample (n=1500)" in dot
    add_21 = float(np.mean(net.add_21.grad) * xs.size)  # the mean of sign(ŷ_i − y_i)
    assert f"grad mean {add_21:.4g} per sample (n=1500)" in dot
    assert f"grad {float(net.b_21.grad):.4g}<" in dot and add_21 == pytest.approx(float(net.b_21.grad))
    # add_21's per-sample gradients are ±1 (the label's scale): not vanishing at 0.5, vanishing at 1.5

    def add_21_line(threshold: float) -> str:
        return next(line for line in to_dot(net.loss, vanishing_threshold=threshold).splitlines() if "add_21" in line)

    assert "vanishing gradient" not in add_21_line(0.5)
    assert "vanishing gradient" in add_21_line(1.5)
