"""The explorer: one offline HTML page where a graph and its training play together.

:func:`explore` writes the page for any graph. Without a recorder it is a still page:
every node shows its cached value and grad, hovering a node opens a panel with them
(and, for a batch, its output against the batch's input). With a
:class:`~graphdl.viz.recorder.TrainingRecorder` it plays: a step slider, Play/Pause and
a speed control move through the recorded steps, node fills follow each node's value,
edges follow the sign and size of the weight they carry, and the tutorial's panels
(hidden pre-activations with their kinks, weighted hidden outputs, the fit against the
target, the loss so far) are drawn from the data at the slider's step.

The page is self-contained: the graph is inline SVG (:mod:`graphdl.viz.explorer_svg`),
the script and style sheet (``graphdl/viz/static/explorer.js`` and ``explorer.css``) are
inlined, the data (:mod:`graphdl.viz.explorer_data`) is JSON in a
``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and a
Content-Security-Policy forbids fetching anything.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.dot import as_graph
from graphdl.viz.explorer_data import Panels, recorded_data, still_data
from graphdl.viz.explorer_svg import graph_svg
from graphdl.viz.recorder import TrainingRecorder
from graphdl.viz.style import display_text

__all__ = ["ExplorerPage", "Panels", "explore", "explorer_html", "write_explorer"]

#: The page may run its inline script and style and fetch nothing at all. (It never
#: evaluates strings itself; 'unsafe-eval' lets browser-driving tools poll it.)
POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
HINT = "Hover over a node (click to keep it) to see its value and grad."


class ExplorerPage:
    """An explorer page: its HTML text and the file it was written to (if any).

    Path-like (``open(page)`` works when written); in Jupyter it displays inline in an
    isolated frame."""

    def __init__(self, text: str, path: Path | None = None) -> None:
        self.html = text
        self.path = path

    def __fspath__(self) -> str:
        if self.path is None:
            raise TypeError("this explorer page was not written to a file")
        return os.fspath(self.path)

    def __repr__(self) -> str:
        where = f" at {str(self.path)!r}" if self.path is not None else ""
        return f"<ExplorerPage{where}, {len(self.html.encode('utf-8')) / 1e6:.2f} MB>"

    def _repr_html_(self) -> str:
        source = html.escape(self.html, quote=True)
        return (
            f'<iframe srcdoc="{source}" sandbox="allow-scripts" title="graphdl explorer" '
            'style="width: 100%; height: 860px; border: 1px solid #e5e7eb; border-radius: 6px"></iframe>'
        )


def explore(
    node_or_graph: Node | Graph,
    path: str | os.PathLike[str] | None = None,
    recorder: TrainingRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> ExplorerPage:
    """Write the explorer page of ``node_or_graph`` to ``path`` (when given) and return it.

    Without ``recorder``: a still page of the values and grads cached now. With one: the
    playing page over the recorder's snapshots; ``panels`` (default
    :meth:`Panels.for_recorder`) chooses the charts. In Jupyter the returned page
    displays inline.
    """
    graph = as_graph(node_or_graph)
    if recorder is not None and panels is None:
        _check_recorder(recorder)
        panels = Panels.for_recorder(recorder)
    text = explorer_html(graph, recorder, panels=panels, title=title)
    if path is None:
        return ExplorerPage(text)
    return ExplorerPage(text, _write(Path(path), text))


def write_explorer(
    path: str | os.PathLike[str],
    node_or_graph: Node | Graph,
    recorder: TrainingRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> Path:
    """Write the explorer page to ``path`` (atomically) and return the path."""
    return _write(Path(path), explorer_html(node_or_graph, recorder, panels=panels, title=title))


def _write(path: Path, text: str) -> Path:
    from graphdl.core.files import write_atomically

    if path.suffix.lower() not in {".html", ".htm"}:
        raise ValueError(f"{path}: the explorer is an HTML page; use a .html file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    write_atomically(path, text)
    return path


def _check_recorder(recorder: Any) -> None:
    if not isinstance(recorder, TrainingRecorder):
        raise TypeError(f"recorder must be a TrainingRecorder, got {type(recorder).__name__}")
    if not recorder.snapshots:
        raise ValueError("the recorder has no snapshots: train with it as the callback first")


def explorer_html(
    node_or_graph: Node | Graph,
    recorder: TrainingRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> str:
    """The explorer page as HTML text (see :func:`explore`)."""
    from graphdl.viz.render import dot_available

    graph = as_graph(node_or_graph)
    if recorder is None:
        data = still_data(graph)
        title = title or f"graphdl explorer: {', '.join(node.name for node in graph.outputs)}"
    else:
        _check_recorder(recorder)
        data = recorded_data(graph, recorder, panels if panels is not None else Panels.for_recorder(recorder))
        title = title or "graphdl explorer: training replay"
    data["title"] = title
    use_dot = dot_available()
    data["layout"] = "Graphviz dot" if use_dot else "networkx layers (Graphviz's dot not found)"
    svg = graph_svg(graph, use_dot=use_dot)
    return _page(title, svg, data)


def _static(name: str) -> str:
    return resources.files("graphdl.viz").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def _page(title: str, svg: str, data: dict[str, Any]) -> str:
    script, style = _static("explorer.js"), _static("explorer.css")
    title = display_text(title)
    if "</" in script or "</" in style:
        raise RuntimeError("explorer.js / explorer.css must not contain '</' (it would end the inline element)")
    playing = len(data["steps"]) > 1
    controls = (
        '<button id="play" type="button" aria-label="play">Play</button>\n'
        f'<input id="step" type="range" min="0" max="{len(data["steps"]) - 1}" value="0" step="1" '
        'aria-label="training step">\n'
        '<span id="step-label" class="step-label"></span>\n'
        '<label>speed <select id="speed">'
        '<option value="0.25">¼×</option><option value="0.5">½×</option>'
        '<option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option>'
        "</select></label>\n"
    )
    if not playing:
        controls = '<span id="step-label" class="step-label"></span>\n'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<title>{html.escape(title)}</title>
<style>
{style}
</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p class="subtitle" id="subtitle"></p>
</header>
<div class="controls" id="controls">
{controls}<label class="fill-choice"><input id="fill-by-value" type="checkbox" checked> fill by value</label>
</div>
<main>
<div class="column">
<section class="graph-box">
<div class="zoom" role="group" aria-label="zoom">
<button id="zoom-out" type="button" title="smaller">−</button>
<button id="zoom-fit" type="button" title="fit the width">fit</button>
<button id="zoom-in" type="button" title="larger">+</button>
</div>
<div id="graph">{svg}</div>
<p class="key" id="key"></p>
</section>
<section id="charts" class="charts"></section>
</div>
<aside id="panel" class="panel" aria-live="polite"><p class="hint">{HINT}</p></aside>
</main>
<script type="application/json" id="graphdl-data">{script_json(data)}</script>
<script>
{script}
</script>
</body>
</html>
"""


def script_json(data: Any) -> str:
    """Compact JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` (which can
    only occur inside strings) become ``\\u003c``, ``\\u003e`` and ``\\u0026``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    # A lone surrogate (possible in a Python str, never in UTF-8) can only sit inside a
    # JSON string, where its \\uXXXX escape is valid and the page stays writable.
    return LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
