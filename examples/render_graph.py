"""Render any graph: DOT text, and an SVG/PNG picture with values and gradients.

Uses Graphviz's ``dot`` program when it is installed (``apt-get install graphviz``);
without it graphdl draws the same graph with networkx + matplotlib and says so.
Run: python examples/render_graph.py  (writes graph.dot, graph.svg and graph.png)
"""

import argparse

from graphdl import Add, Graph, Mul, Tanh, Variable
from graphdl.viz import render, to_dot

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

# a small expression, every node named so the picture reads like the formula
a, b = Variable(2.0, name="a"), Variable(-3.0, name="b")
c, f = Variable(10.0, name="c"), Variable(-0.2, name="f")
e = Mul([a, b], name="e")
d = Add([e, c], name="d")
out = Tanh([Mul([d, f], name="L")], name="out")  # operator sugar builds the same nodes: (a * b + c) * f

out.backward()  # fills .grad of every node, so the picture shows gradients too
print(Graph(out).summary())
print(to_dot(out).splitlines()[0], "...")  # deterministic DOT text

render(out, "graph.svg")  # also writes graph.dot
render(out, "graph.png", rankdir="TB")  # top to bottom this time
print("wrote graph.dot, graph.svg and graph.png")
