"""``render``: write a graph picture (PNG, SVG or PDF) next to its DOT file.

Graphviz's ``dot`` draws it when it is on PATH; otherwise the networkx + matplotlib
fallback draws the same nodes, colours and labels, and a warning says how to get
Graphviz's layout.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from graphdl.core.files import write_atomically
from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.dot import as_graph, to_dot
from graphdl.viz.dot_program import dot_available, run_dot

FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = (
    "Graphviz's `dot` program is not on PATH, so the graph was drawn with networkx + matplotlib; "
    "for Graphviz's nicer layout install it (Debian/Ubuntu: `apt-get install graphviz`, "
    "macOS: `brew install graphviz`, conda: `conda install graphviz`)."
)


class GraphvizMissingWarning(UserWarning):
    """The ``dot`` program was not found; the fallback drawing was used."""


def _format_for(path: Path, format: str | None) -> tuple[Path, str]:
    suffix = path.suffix.lower().lstrip(".")
    if format is None:
        if suffix not in FORMATS:
            raise ValueError(f"{path}: cannot tell the image format from the suffix; use .png, .svg or .pdf")
        return path, suffix
    format = format.lower()
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    if suffix != format:
        path = path.with_name(path.name + "." + format)
    return path, format


def render(
    node_or_graph: Node | Graph,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    palette: int | None = None,
    **options: Any,
) -> Path:
    """Draw the graph into ``path`` and return the path written.

    The format follows the suffix (``.png``, ``.svg``, ``.pdf``) unless ``format`` is
    given (then the suffix is added when missing). The DOT text is always written
    next to the image (``graph.png`` -> ``graph.dot``). ``options`` go to :func:`to_dot`.
    ``palette=128`` stores a PNG with an adaptive palette of that many colours: graph
    pictures are a few flat colours, so big graphs shrink about 3x with no visible change.
    Without Graphviz's ``dot`` the fallback drawing is used and a
    :class:`GraphvizMissingWarning` explains how to install Graphviz.
    """
    path, format = _format_for(Path(path), format)
    if palette is not None and (format != "png" or not 2 <= palette <= 256):
        raise ValueError(f"palette: a number of colours from 2 to 256 for a PNG, got {palette!r} for {format}")
    graph = as_graph(node_or_graph)
    source = to_dot(graph, **options)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    write_atomically(path.with_suffix(".dot"), source)
    if dot_available():
        image = run_dot(source, format)
    else:
        from graphdl.viz.fallback import draw_with_matplotlib

        image = draw_with_matplotlib(graph, format, **options)
        warnings.warn(INSTALL_HINT, GraphvizMissingWarning, stacklevel=2)
    write_atomically(path, image if palette is None else _with_palette(image, palette))
    return path


def _with_palette(png: bytes, colours: int) -> bytes:
    """Re-encode PNG bytes with an adaptive palette (Pillow comes with matplotlib)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        reduced = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    reduced.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def svg_text(node_or_graph: Node | Graph, **options: Any) -> str:
    """The graph as SVG text (Graphviz when available, else the fallback drawing)."""
    graph = as_graph(node_or_graph)
    if dot_available():
        return run_dot(to_dot(graph, **options), "svg").decode("utf-8")
    from graphdl.viz.fallback import draw_with_matplotlib

    return draw_with_matplotlib(graph, "svg", **options).decode("utf-8")


#: Jupyter shows graphs up to this many nodes as pictures (larger ones as text).
NOTEBOOK_NODE_LIMIT = 400


def notebook_svg(node_or_graph: Node | Graph) -> str | None:
    """SVG for Jupyter's ``_repr_svg_``; None (plain text repr) for very large graphs."""
    graph = as_graph(node_or_graph)
    if len(graph.nodes) > NOTEBOOK_NODE_LIMIT:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphvizMissingWarning)
        return svg_text(graph)
