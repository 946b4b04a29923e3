"""``to_dot``: a computation graph as Graphviz DOT text (deterministic, HTML-table labels)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from graphdl.core.graph import Graph, node_role
from graphdl.core.node import Node
from graphdl.viz.style import (
    COMMUTATIVE_KINDS,
    DEAD_BORDER,
    DEAD_FILL,
    EDGE_COLOUR,
    FONT,
    LIGHT_TEXT,
    ROLE_STYLES,
    ROLE_TITLES,
    VANISHING_BORDER,
    VANISHING_FILL,
    cluster_of,
    display_text,
    grad_text,
    is_dead,
    is_vanishing,
    kind_text,
    text_colour,
    value_text,
)


def as_graph(node_or_graph: Node | Graph) -> Graph:
    """A :class:`Graph` for a graph or for everything upstream of a node."""
    if isinstance(node_or_graph, Graph):
        return node_or_graph
    if isinstance(node_or_graph, Node):
        return Graph(node_or_graph)
    raise TypeError(f"expected a Node or a Graph, got {type(node_or_graph).__name__}")


def _quote(text: str) -> str:
    return '"' + display_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    """A quoted tooltip that Graphviz shows as written: it reads ``\\N``, ``\\G``, ``\\L``...
    in a tooltip as the node's id, the graph's name, the label, and undoes one more level of
    backslashes than in a label, so every backslash is doubled twice."""
    return '"' + display_text(text).replace("\\", "\\" * 4).replace('"', '\\"') + '"'


def _label(rows: list[tuple[str, str]]) -> str:
    """An HTML-table label; each row is (text, extra font attributes)."""
    cells = []
    for text, font in rows:
        content = html.escape(text, quote=True)
        if font:
            content = f"<FONT {font}>{content}</FONT>"
        cells.append(f"<TR><TD>{content}</TD></TR>")
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(cells) + "</TABLE>>"


def node_label_rows(
    node: Node, *, show_values: bool, show_grads: bool, dead: bool, vanishing: bool
) -> list[tuple[str, str]]:
    """The lines of a node's label with their font attributes (shared with the fallback)."""
    rows = [(display_text(node.name), 'POINT-SIZE="12"'), (kind_text(node), 'POINT-SIZE="9" COLOR="#374151"')]
    if show_values:
        rows.append((f"value {value_text(node)}", 'POINT-SIZE="10"'))
    if show_grads:
        grad = grad_text(node)
        if grad is not None:
            rows.append((f"grad {grad}", 'POINT-SIZE="10" COLOR="#1e3a8a"'))
    if dead:
        rows.append(("dead unit (derivative 0)", 'POINT-SIZE="9" COLOR="#b91c1c"'))
    if vanishing:
        rows.append(("vanishing gradient", f'POINT-SIZE="9" COLOR="{VANISHING_BORDER}"'))
    return rows


def to_dot(
    node_or_graph: Node | Graph,
    *,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "LR",
    highlight_dead: bool = True,
    vanishing_threshold: float | None = None,
    cluster_separator: str | None = ".",
    title: str | None = None,
    legend: bool = True,
) -> str:
    """The graph as DOT text.

    Node ids are ``n0``, ``n1``… in topological order, so the same graph always gives
    the same text. Each label shows the node's name, its kind (operator symbol and
    options, or the Variable's role), its cached value and, when known, its gradient;
    batches are shown as mean and size. Colours and shapes follow the node's role.

    A batch node's grad is shown per sample: the mean over the samples of
    d(loss_i)/d(node_i), so the loss node reads 1; a parameter's is the gradient of the
    mean loss (see :func:`~graphdl.viz.style.per_sample_gradient`).
    ``highlight_dead`` greys activation units whose derivative is 0 for every cached
    sample; ``vanishing_threshold`` fills nodes whose gradient is smaller than it (on
    the same scale as the label, see :func:`~graphdl.viz.style.gradient_size`) in light violet
    with a purple outline. The legend explains these marks when any node carries one.
    Nodes named ``prefix<separator>rest`` (``fc1.w[0,1]``) are grouped in a box per prefix.
    ``legend`` adds a key of the roles present.
    """
    if rankdir not in {"LR", "RL", "TB", "BT"}:
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    graph = as_graph(node_or_graph)
    ids = {node: f"n{number}" for number, node in enumerate(graph.nodes)}
    lines = [
        "digraph graphdl {",
        f"  graph [rankdir={rankdir}, bgcolor=white, nodesep=0.25, ranksep=0.45, fontname={_quote(FONT)}"
        + (f", label={_quote(title)}, labelloc=t, fontsize=16" if title else "")
        + "];",
        f'  node [fontname={_quote(FONT)}, penwidth=1.4, margin="0.08,0.04"];',
        f"  edge [color={_quote(EDGE_COLOUR)}, arrowsize=0.7, fontname={_quote(FONT)}, fontsize=9];",
    ]
    clusters: dict[str, list[str]] = {}
    loose: list[str] = []
    marks: list[str] = []
    for node in graph.nodes:
        role = node_role(node)
        style = ROLE_STYLES[role]
        dead = highlight_dead and is_dead(node)
        vanishing = vanishing_threshold is not None and is_vanishing(node, vanishing_threshold)
        rows = node_label_rows(node, show_values=show_values, show_grads=show_grads, dead=dead, vanishing=vanishing)
        marks += [mark for mark, present in (("dead", dead), ("vanishing", vanishing)) if present and mark not in marks]
        styles = ["filled"] + (["rounded"] if style.rounded else []) + (["dashed"] if style.dashed else [])
        fill = DEAD_FILL if dead else VANISHING_FILL if vanishing else style.fill
        border = DEAD_BORDER if dead else VANISHING_BORDER if vanishing else style.border
        attributes = [
            f"label={_label(rows)}",
            f"shape={style.shape}",
            f"style={_quote(','.join(styles))}",
            f"fillcolor={_quote(fill)}",
            f"color={_quote(border)}",
        ]
        if text_colour(fill) == LIGHT_TEXT:  # a dark fill gets white text
            attributes.append(f"fontcolor={_quote(LIGHT_TEXT)}")
        if style.peripheries != 1:
            attributes.append(f"peripheries={style.peripheries}")
        if vanishing or dead:
            attributes.append("penwidth=2.6")
        attributes.append(f"tooltip={_literal(node.name)}")
        line = f"{ids[node]} [{', '.join(attributes)}];"
        cluster = cluster_of(node.name, cluster_separator)
        if cluster is None:
            loose.append(line)
        else:
            clusters.setdefault(cluster, []).append(line)
    lines.extend("  " + line for line in loose)
    for number, (prefix, members) in enumerate(clusters.items()):
        lines.append(f"  subgraph cluster_{number} {{")
        lines.append(
            f'    label={_quote(prefix)}; style="rounded,dashed"; color="#9ca3af"; fontcolor="#374151"; fontsize=12;'
        )
        lines.extend("    " + line for line in members)
        lines.append("  }")
    for node in graph.nodes:
        ordered = len(node.parents) > 1 and node.kind not in COMMUTATIVE_KINDS
        for position, parent in enumerate(node.parents):
            extra = f" [headlabel={_quote(str(position))}, labeldistance=1.4]" if ordered else ""
            lines.append(f"  {ids[parent]} -> {ids[node]}{extra};")
    if legend:
        roles = sorted({node_role(node) for node in graph.nodes}, key=list(ROLE_STYLES).index)
        lines.extend(_legend(roles, sorted(marks), vanishing_threshold))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(roles: list[str], marks: Sequence[str] = (), vanishing_threshold: float | None = None) -> list[str]:
    """A key of the roles present, then of the highlights present (``"dead"``, ``"vanishing"``)."""
    entries = [(ROLE_TITLES[role], ROLE_STYLES[role].fill, ROLE_STYLES[role].border) for role in roles]
    if "dead" in marks:
        entries.append(("dead unit: derivative 0", DEAD_FILL, DEAD_BORDER))
    if "vanishing" in marks:
        entries.append((f"vanishing gradient: |grad| < {vanishing_threshold:g}", VANISHING_FILL, VANISHING_BORDER))
    cells = []
    for text, fill, border in entries:
        cells.append(
            f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}"><FONT POINT-SIZE="9">{html.escape(text)}</FONT></TD>'
        )
    table = '<<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="3"><TR>' + "".join(cells) + "</TR></TABLE>>"
    return ["  legend [shape=plaintext, label=" + table + "];"]
