"""Odd node names are drawn literally by every renderer: no mathtext, control
characters and lone surrogates shown as visible escapes, never a crash inside
matplotlib or Graphviz (issue: files from strangers, item 5)."""

from __future__ import annotations

import pytest

import graphdl as gd
from graphdl.core.graph import Graph
from graphdl.viz import to_dot
from graphdl.viz.fallback import draw_with_matplotlib
from graphdl.viz.render import dot_available, render, run_dot
from graphdl.viz.style import display_text

ODD = {"math": "$\\frac{$", "bell": "a\x07b", "surrogate": "x\ud800y", "newline": "l\nm", "markup": 'q"<&>\\'}
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


def _graph():
    leaves = [gd.Variable(float(k), name=name) for k, name in enumerate(ODD.values())]
    return Graph(gd.Add(leaves, name="sum\x00"))


def test_display_text_escapes_only_what_cannot_be_shown():
    assert display_text("$\\frac{$") == "$\\frac{$"
    assert display_text("a\x07b") == "a\\x07b"
    assert display_text("x\ud800y") == "x\\ud800y"
    assert display_text("l\nm") == "l\\nm"
    assert display_text("wé ∑ ÿ") == "wé ∑ ÿ"


def test_dot_text_shows_names_literally_and_encodes():
    text = to_dot(_graph(), title="t\x01$x$")
    text.encode("utf-8")  # a lone surrogate would make this raise
    assert "$\\frac{$" in text and "a\\x07b" in text and "x\\ud800y" in text and "sum\\x00" in text
    assert "q&quot;&lt;&amp;&gt;\\" in text  # HTML label escaping kept
    assert 'label="t\\\\x01$x$"' in text
    assert not any(ord(char) < 32 and char != "\n" for char in text)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_matplotlib_fallback_draws_odd_names(fmt):
    picture = draw_with_matplotlib(_graph(), fmt, title="$\\frac{$ \ud800")
    assert picture.startswith(MAGIC[fmt])


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
def test_graphviz_draws_odd_names():
    svg = run_dot(to_dot(_graph()), "svg").decode("utf-8")
    assert "$\\frac{$" in svg and "a\\x07b" in svg and "x\\ud800y" in svg


def test_render_writes_picture_and_dot_for_odd_names(tmp_path):
    out = render(_graph(), tmp_path / "odd.png")
    assert out.read_bytes().startswith(MAGIC["png"])
    dot = out.with_suffix(".dot") if out.with_suffix(".dot").exists() else next(tmp_path.glob("*.dot"))
    assert "a\\x07b" in dot.read_text(encoding="utf-8")


ESCAPES = ["\\N", "\\G", "\\L", "\\E", "\\T", "\\H", "a\\b", '\\"q', "end\\", "\\\\N"]


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
def test_svg_tooltips_and_cluster_labels_show_backslash_names_literally():
    import html
    import re

    leaves = [gd.Variable(float(k), name=name) for k, name in enumerate(ESCAPES)]
    grouped = [gd.Variable(1.0, name=f"{prefix}.w") for prefix in ("\\G", "\\N")]
    svg = run_dot(to_dot(Graph(gd.Add([*leaves, *grouped], name="total"))), "svg").decode("utf-8")
    tooltips = [html.unescape(t) for t in re.findall(r'<a xlink:title="([^"]*)"', svg)]
    for name in [*ESCAPES, "\\G.w", "\\N.w"]:
        assert name in tooltips, (name, tooltips)
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert "\\G" in texts and "\\N" in texts  # the cluster labels
