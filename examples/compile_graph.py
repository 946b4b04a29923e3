"""Compile a graph into straight-line Python and read the program it becomes.

``graphdl.compile(loss, inputs=[...])`` turns the graph into one generated function built
from the operators' own formulas; ``c.source`` is that program. It gives the same numbers
as the interpreter, for one sample or a whole batch.
Run: python examples/compile_graph.py
"""

import argparse

import numpy as np

import graphdl
from graphdl import Variable

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

# a one-unit net with a squared-error loss
x, label = Variable(name="x", trainable=False), Variable(name="label", trainable=False)
w, b = Variable(0.5, name="w"), Variable(0.1, name="b")
prediction = (x * w + b).sigmoid()
loss = (prediction - label) ** 2

compiled = graphdl.compile(loss, inputs=[x, label])
print(compiled.source)  # the generated program: forward pass, then the reverse sweep

xs, labels = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0])
mean_loss = compiled.backward({x: xs, label: labels})  # also writes w.grad and b.grad
print(f"compiled: mean loss {mean_loss:.6f}, dw {w.grad:.6f}, db {b.grad:.6f}")

# the interpreter on the same batch gives the same numbers
x.set_value(xs)
label.set_value(labels)
loss.backward()
print(f"interpreted: mean loss {np.mean(loss.value):.6f}, dw {w.grad:.6f}, db {b.grad:.6f}")

# one generated loop runs per-sample SGD over a whole data set
losses = compiled.sgd({x: xs, label: labels}, lr=0.5)
print("per-sample SGD losses:", np.round(losses, 4), f"-> w = {w.value:.4f}, b = {b.value:.4f}")
