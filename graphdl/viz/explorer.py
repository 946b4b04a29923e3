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
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.dot import as_graph
from graphdl.viz.explorer_data import Panels, recorded_data, still_data
from graphdl.viz.explorer_run import check_run_recorder, run_data
from graphdl.viz.explorer_svg import gradient_svg, graph_svg, overview_svg
from graphdl.viz.recorder import TrainingRecorder
from graphdl.viz.run_recorder import RunRecorder
from graphdl.viz.style import display_text

__all__ = ["ExplorerPage", "Panels", "explore", "explorer_html", "page_data", "write_explorer"]

#: The page may run its inline script and style and fetch nothing at all. (It never
#: evaluates strings itself; 'unsafe-eval' lets browser-driving tools poll it.)
POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
HINT = "Hover over a node (click to keep it) to see its value and grad."
BACKPROP_TIP = "replay the reverse sweep one node at a time, from the loss back to the parameters (Next/Prev or ←/→)"


#: The notebook side of the frame's height: the page posts ``{graphdlExplorerHeight: px}``.
RESIZER = (
    '(function () { const frame = document.getElementById("FRAME");'
    ' window.addEventListener("message", (event) => {'
    " if (frame && event.source === frame.contentWindow && event.data && event.data.graphdlExplorerHeight)"
    ' frame.style.height = Math.ceil(event.data.graphdlExplorerHeight) + 2 + "px"; }); })();'
)
#: Heights (px) for estimating a framed page's: header and controls, the key under the graph,
#: a row of charts, the graph box's limit when framed (the style sheet's ``.embedded``).
HEADER_HEIGHT, KEY_HEIGHT, CHART_ROW_HEIGHT, FRAMED_GRAPH_HEIGHT = 170, 90, 280, 640


def estimated_height(text: str) -> int:
    """The height in px of the explorer page ``text`` in a frame about 900 px wide: the
    graph (at most :data:`FRAMED_GRAPH_HEIGHT`) and its charts, two to a row."""
    box = re.search(r'viewBox="[\d.\-]+ [\d.\-]+ ([\d.]+) ([\d.]+)"', text)
    graph = FRAMED_GRAPH_HEIGHT
    if box is not None:
        width, height = float(box.group(1)), float(box.group(2))
        graph = min(FRAMED_GRAPH_HEIGHT, int(height * min(860 / max(width, 1.0), 4 / 3)) + 24)
    start = text.index('id="graphdl-data">') + len('id="graphdl-data">')
    data = json.loads(text[start : text.index("</script>", start)])
    charts = 0
    if data.get("run"):
        run = data["run"]
        charts = 1 + bool(run.get("metric")) + bool(run.get("boundary")) + bool(run.get("layers"))
    elif data.get("panels"):
        panels = data["panels"]
        charts = bool(panels["hidden"]) + bool(panels["weighted"]) + (panels["output"] is not None) + 1
    return HEADER_HEIGHT + graph + KEY_HEIGHT + -(-charts // 2) * CHART_ROW_HEIGHT + 24


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
        """An isolated frame that takes the page's height: the page tells it (a message
        from its script), and until then (or where a notebook runs no output scripts) it
        is as tall as the page's content is estimated to be."""
        source = html.escape(self.html, quote=True)
        frame = f"graphdl-explorer-{uuid.uuid4().hex}"
        return (
            f'<iframe id="{frame}" srcdoc="{source}" sandbox="allow-scripts" title="graphdl explorer" '
            f'style="width: 100%; height: {estimated_height(self.html)}px; border: 1px solid #e5e7eb; '
            'border-radius: 6px"></iframe>\n'
            f"<script>{RESIZER.replace('FRAME', frame)}</script>"
        )


def explore(
    node_or_graph: Node | Graph,
    path: str | os.PathLike[str] | None = None,
    recorder: TrainingRecorder | RunRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> ExplorerPage:
    """Write the explorer page of ``node_or_graph`` to ``path`` (when given) and return it.

    Without ``recorder``: a still page of the values and grads at the current point (the
    Variables' values now, evaluated on a copy of the graph). With a
    :class:`TrainingRecorder`: the playing page over its snapshots; ``panels`` (default
    :meth:`Panels.for_recorder`) chooses the charts. With a
    :class:`~graphdl.viz.run_recorder.RunRecorder` (a Trainer callback): the page of the
    run, one frame per recorded epoch, with loss and metric curves, each layer's gradient
    norm and, for two inputs, the decision boundary. Every page has the Backprop mode.
    In Jupyter the returned page displays inline.
    """
    graph = as_graph(node_or_graph)
    if recorder is not None:
        _check_recorder(recorder)
        if panels is None and isinstance(recorder, TrainingRecorder):
            panels = Panels.for_recorder(recorder)
    text = explorer_html(graph, recorder, panels=panels, title=title)
    if path is None:
        return ExplorerPage(text)
    return ExplorerPage(text, _write(Path(path), text))


def write_explorer(
    path: str | os.PathLike[str],
    node_or_graph: Node | Graph,
    recorder: TrainingRecorder | RunRecorder | None = None,
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
    if isinstance(recorder, RunRecorder):
        check_run_recorder(recorder)
        return
    if not isinstance(recorder, TrainingRecorder):
        raise TypeError(f"recorder must be a TrainingRecorder or a RunRecorder, got {type(recorder).__name__}")
    if not recorder.snapshots:
        raise ValueError("the recorder has no snapshots: train with it as the callback first")


def page_data(
    node_or_graph: Node | Graph,
    recorder: TrainingRecorder | RunRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The data the explorer page's script draws (JSON-ready): nodes, values and grads
    per step, charts, the Backprop sweep; see :func:`explore` for what each recorder gives."""
    from graphdl.viz.render import dot_available

    graph = as_graph(node_or_graph)
    if recorder is None:
        data = still_data(graph)
        title = title or f"graphdl explorer: {', '.join(node.name for node in graph.outputs)}"
    elif isinstance(recorder, RunRecorder):
        data = run_data(graph, recorder)
        title = title or "graphdl explorer: training run"
    else:
        _check_recorder(recorder)
        data = recorded_data(graph, recorder, panels if panels is not None else Panels.for_recorder(recorder))
        title = title or "graphdl explorer: training replay"
    data["title"] = title
    data["layout"] = "Graphviz dot" if dot_available() else "networkx layers (Graphviz's dot not found)"
    return data


def explorer_html(
    node_or_graph: Node | Graph,
    recorder: TrainingRecorder | RunRecorder | None = None,
    *,
    panels: Panels | None = None,
    title: str | None = None,
) -> str:
    """The explorer page as HTML text (see :func:`explore`)."""
    from graphdl.viz.render import dot_available

    graph = as_graph(node_or_graph)
    data = page_data(graph, recorder, panels=panels, title=title)
    use_dot = dot_available()
    gradient = gradient_svg(graph, use_dot=use_dot) if (data.get("sweep") or {}).get("gradient") else None
    overview = overview_svg(graph) if use_dot else None
    return _page(data["title"], graph_svg(graph, use_dot=use_dot), data, overview, gradient)


def _static(name: str) -> str:
    return resources.files("graphdl.viz").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def _page(title: str, svg: str, data: dict[str, Any], overview: str | None = None, gradient: str | None = None) -> str:
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
    sweep_note = (data.get("sweep") or {}).get("note", "")
    gradient_box, gradient_button = "", ""
    if gradient is not None:
        gradient_button = (
            '<button id="gradient-toggle" type="button" class="mode" aria-pressed="false" '
            'title="draw the graph of graphdl.grad(loss, parameters) beside the graph">Gradient graph</button>\n'
        )
        gradient_box = (
            '<section class="graph-box gradient-box" id="gradient-box" hidden>\n'
            '<h2 class="box-title">The gradient graph: <code>graphdl.grad(loss, parameters)</code>, '
            '<span id="gradient-where"></span></h2>\n'
            f'<div id="gradient-graph">{gradient}</div>\n</section>\n'
        )
    layers_button, overview_box = "", ""
    if overview is not None:
        layers_button = (
            '<button id="zoom-layers" type="button" title="back to one box per layer" hidden>layers</button>\n'
        )
        overview_box = f'<div id="overview" class="overview">{overview}</div>\n'
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
{controls}<button id="backprop" type="button" class="mode" aria-pressed="false" title="{BACKPROP_TIP}">Backprop</button>
{gradient_button}<label class="fill-choice"><input id="fill-by-value" type="checkbox" checked> fill by value</label>
</div>
<div class="controls sweep-bar" id="sweep-bar" hidden>
<button id="prev" type="button" title="the previous node of the sweep (←)">Prev</button>
<button id="next" type="button" title="the next node of the sweep (→)">Next</button>
<span id="sweep-label" class="sweep-label"></span>
<span class="sweep-note">{html.escape(sweep_note)}</span>
</div>
<main>
<div class="column">
<section class="graph-box">
<div class="zoom" role="group" aria-label="zoom">
<button id="zoom-out" type="button" title="smaller">−</button>
<button id="zoom-fit" type="button" title="fit the width">fit</button>
<button id="zoom-in" type="button" title="larger">+</button>
{layers_button}</div>
{overview_box}<div id="graph"{" hidden" if overview else ""}>{svg}</div>
<p class="key" id="key"></p>
</section>
{gradient_box}
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
