"""A new operator in one small class: its formula and its derivative side by side.

``Softsign([x])`` = x / (1 + |x|), with derivative 1 / (1 + |x|)². Written once against the
backend ``F`` (Python floats, numpy batches, or the compiler's symbols), it works in the
interpreter, in compiled programs, in rendered graphs and in gradient graphs (graphdl.grad),
which differentiate it twice with no extra code.
Run: python examples/custom_operator.py
"""

import argparse

import numpy as np

import graphdl
from graphdl import Operator, Variable

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()


class Softsign(Operator):
    """``Softsign([x])`` = x / (1 + |x|)."""

    __slots__ = ()
    symbol = "softsign"  # the label the renderer shows

    def formula(self, F, x):
        return x / (1.0 + F.abs(x))

    def derivative(self, F, index, out, x):  # d out / d (argument number ``index``)
        return 1.0 / ((1.0 + F.abs(x)) * (1.0 + F.abs(x)))


# used in a graph like any built-in operator
x = Variable(name="x", trainable=False)
w, b = Variable(0.8, name="w"), Variable(-0.3, name="b")
y = Softsign([x * w + b], name="y")
loss = (y - 0.5) ** 2

x.set_value(1.5)
print(f"y = {y.forward():.6f}, loss = {loss.forward():.6f}")
print(f"d loss / d w = {w.get_grad(loss):.6f}")

# the derivative agrees with finite differences (raises GradcheckError otherwise)
print(f"gradcheck: worst relative error {graphdl.gradcheck(loss, [w, b]):.1e}")

# graphdl.grad turns the same derivative into a graph, which differentiates again
dy = graphdl.grad(y, [x])[0]
print(f"dy/dx = {dy.forward():.6f}, d2y/dx2 = {graphdl.grad(dy, [x])[0].forward():.6f}")

# a batch of inputs and the compiled program use the same two formulas
x.set_value(np.array([-2.0, 0.0, 2.0]))
print("batch:", np.round(y.forward(), 6))
compiled = graphdl.compile(loss, inputs=[x])
print(f"compiled mean loss: {compiled.backward({x: np.array([-2.0, 0.0, 2.0])}):.6f}")
