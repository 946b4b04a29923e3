"""Render any graph: DOT text, and an SVG/PNG picture with values and gradients.

Uses Graphviz's ``dot`` program when it is installed (``apt-get install graphviz``);
without it graphdl draws the same graph with networkx + matplotlib and says so.
Run: python examples/render_graph.py  (writes graph.dot, graph.svg and graph.png)
"""

from graphdl import Graph, Variable
from graphdl.viz import render, to_dot

# a small expression built with operator sugar: numbers become constants
a, b = Variable(2.0, name="a"), Variable(-3.0, name="b")
c = Variable(10.0, name="c")
e = a * b
e.name = "e"
d = e + c
d.name = "d"
f = Variable(-0.2, name="f")
out = (d * f).tanh()
out.name = "out"

out.backward()  # fills .grad of every node, so the picture shows gradients too
print(Graph(out).summary())
print(to_dot(out).splitlines()[0], "...")  # deterministic DOT text

render(out, "graph.svg")  # also writes graph.dot
render(out, "graph.png", rankdir="TB")  # top to bottom this time
print("wrote graph.dot, graph.svg and graph.png")
