"""f, f′ and f″ of f(x) = x·tanh(x), all three graphs: graphdl.grad builds f′ from each
operator's own derivative, and graphdl.grad of f′ is f″. One batch of xs evaluates each curve
in one pass; the plot compares them with finite differences, and f′'s graph is rendered, as is
the gradient graph of the tutorial's network (its loss w.r.t. all seven parameters).
Run: python examples/second_derivative.py --out DIR  (writes the three pictures, and .dot files)
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import graphdl
from graphdl import Variable
from graphdl.tutorial_net import build_seed_net
from graphdl.viz import render

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", type=Path, default=Path("."), help="folder for the pictures (default: here)")
out = parser.parse_args().out
out.mkdir(parents=True, exist_ok=True)

x = Variable(name="x")
f = graphdl.Mul([x, graphdl.Tanh([x], name="tanh(x)")], name="f")
df = graphdl.grad(f, [x])[0]  # a node: d(f)/d(x), built from Mul's and Tanh's derivatives
d2f = graphdl.grad(df, [x])[0]  # and differentiated again
print(f"f' has {len(graphdl.Graph(df).nodes)} nodes, f'' has {len(graphdl.Graph(d2f).nodes)}")

xs = np.linspace(-3.0, 3.0, 241)
x.set_value(xs)  # a batch: each gradient node holds one derivative per sample
curves = {"f(x) = x·tanh(x)": f.forward(), "f′(x)": df.forward(), "f″(x)": d2f.forward()}
numeric = np.gradient(curves["f′(x)"], xs)  # f″ by finite differences, from f′'s values
print(f"largest |f'' - finite differences of f'|: {np.max(np.abs(numeric - curves['f″(x)'])[1:-1]):.1e}")

figure, axes = plt.subplots(figsize=(6.4, 4.0))
for label, values in curves.items():
    axes.plot(xs, values, label=label, linewidth=2)
axes.plot(xs[::12], numeric[::12], "k.", label="f″ by finite differences")
axes.axhline(0.0, color="0.7", linewidth=0.8)
axes.set(xlabel="x", title="Derivatives as graphs: graphdl.grad, then graphdl.grad again")
axes.legend()
figure.tight_layout()
figure.savefig(out / "second_derivative.png", dpi=110)

x.set_value(0.8)  # one sample, so the drawing shows each node's value
df.forward()
render(df, out / "gradient_graph.png", rankdir="LR")

net = build_seed_net()  # the tutorial's net at figure 8's start, one sample
net.initialise("fig8")
net.x.set_value(1.5)
net.label.set_value(2.25)
grads = graphdl.grad(net.loss, net.params)  # seven gradients, one graph sharing its nodes
print("tutorial net:", ", ".join(f"{g.name} = {g.forward():.4f}" for g in grads))
render(graphdl.Graph(*grads), out / "seed_gradient_graph.png")
print(f"wrote second_derivative.png, gradient_graph.png and seed_gradient_graph.png (+ .dot) to {out}")
