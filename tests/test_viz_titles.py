"""Picture titles break at their newlines (Graphviz and the fallback alike), never showing a
literal ``\\n``; the fallback picture has the same key as the DOT legend."""

from __future__ import annotations

import re

import matplotlib
import pytest
from experiment_scripts import ROOT

from graphdl import Add, Graph, Mul, Variable
from graphdl.viz import to_dot
from graphdl.viz.fallback import draw_with_matplotlib
from graphdl.viz.style import title_lines

TITLE = "first line\nsecond line \\ with a backslash\x07"


def small_graph():
    x, w = Variable(2.0, name="x", trainable=False), Variable(0.5, name="w")
    out = Add([Mul([x, w], name="xw"), 1.0], name="out")
    out.backward()
    return Graph(out)


def graph_label(dot: str) -> str:
    return re.search(r'graph \[[^\n]*label="((?:[^"\\]|\\.)*)"', dot).group(1)


def test_title_lines_split_at_newlines_and_show_other_control_characters() -> None:
    assert title_lines(TITLE) == ["first line", "second line \\ with a backslash\\x07"]


def test_dot_titles_break_with_dots_own_newline_escape() -> None:
    label = graph_label(to_dot(small_graph(), title=TITLE))
    assert label == "first line\\nsecond line \\\\ with a backslash\\\\x07"  # DOT: \n breaks, \\ is a backslash
    assert "\n" not in label


@pytest.mark.parametrize("name", ["vanishing_graph.dot", "dead_relu_graph.dot", "graph.dot"])
def test_the_gallerys_dot_titles_hold_no_literal_newline(name) -> None:
    label = graph_label((ROOT / "viz" / name).read_text(encoding="utf-8"))
    assert "\\\\n" not in label and "\n" not in label
    if name != "graph.dot":
        assert label.count("\\n") == 1  # two lines: the setting, then what the colour means


def svg_texts(graph, **options) -> list[str]:
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text, so it can be read back
        svg = draw_with_matplotlib(graph, "svg", **options).decode("utf-8")
    return [text.strip() for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_the_fallback_draws_each_title_line_and_a_key() -> None:
    texts = svg_texts(small_graph(), title=TITLE)
    assert "first line" in texts and "second line \\ with a backslash\\x07" in texts
    assert not any("\\n" in text for text in texts)
    without_key = svg_texts(small_graph(), legend=False)
    for entry in ("data input", "parameter", "constant", "operator"):  # the roles present, each once more
        assert texts.count(entry) == without_key.count(entry) + 1, entry
    assert "loss" not in texts
