"""The tutorial's x² fit, node by node: one input, two LeakyReLU units, one output.

Every node is created and wired by hand, then trained one sample at a time with SGD on
|label − prediction|. Run: python examples/fit_quadratic.py
"""

import argparse

import numpy as np

from graphdl import Add, LeakyRelu, Mul, ValueLoss, Variable

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

# 1. the graph: two hidden units, a weighted sum, the loss
x = Variable(name="x", trainable=False)  # data, not a parameter
w_11, w_12 = Variable(name="w_11"), Variable(name="w_12")
b_11, b_12 = Variable(name="b_11"), Variable(name="b_12")
add_11 = Add([Mul([x, w_11], name="mul_11"), b_11], name="add_11")
add_12 = Add([Mul([x, w_12], name="mul_12"), b_12], name="add_12")
relu_11 = LeakyRelu([add_11], name="relu_11")
relu_12 = LeakyRelu([add_12], name="relu_12")
w_21, w_22, b_21 = Variable(name="w_21"), Variable(name="w_22"), Variable(name="b_21")
add_21 = Add([Mul([relu_11, w_21], name="mul_21"), Mul([relu_12, w_22], name="mul_22"), b_21], name="add_21")
label = Variable(name="label", trainable=False)
loss = ValueLoss([label, add_21], name="loss")

# 2. the starting point of the tutorial's figure 8
params = [w_11, w_12, b_11, b_12, w_21, w_22, b_21]
for param, value in zip(params, [-0.157, -0.107, 0.379, 0.320, 0.426, 0.510, 0.760]):
    param.set_value(value)

# 3. training: one sample per step, every parameter stepped with gradients of the same point
rng = np.random.default_rng(0)
losses = []
for step in range(1500):
    sample = rng.uniform(0.0, 2.0)
    x.set_value(sample)
    label.set_value(sample**2)
    losses.append(loss.forward())
    for param in params:
        param.get_grad()  # d(loss)/d(param), cached on the node
        param.update(lr=0.01)  # param.value -= lr * param.grad
    loss.clear()  # forget this sample's cached values and gradients
    if step % 300 == 0:
        print(f"step {step:4d}: loss {losses[-1]:.3f}")

print(f"mean loss of the last 100 steps: {np.mean(losses[-100:]):.3f}")

# 4. the trained net on a batch: a 1-D array flows through the same nodes
grid = np.linspace(0.0, 2.0, 5)
x.set_value(grid)
for point, fitted in zip(grid, add_21.forward()):
    print(f"x = {point:.1f}: net {fitted:.2f}, x² = {point**2:.2f}")
