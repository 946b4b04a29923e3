"""Watch your own small network learn: record snapshots while it trains, then animate them.

A 1-2-1 ReLU net, built node by node, learns y = |x| on [−1, 1]. Every 80 steps a
``TrainingRecorder`` runs the whole x grid through the graph as one batch; the ``Animator``
then replays the hidden units, their weighted outputs, the fit and the loss.
Run: python examples/animate_training.py  (writes training.gif; .html or .mp4 work too)
"""

import argparse

import numpy as np

from graphdl import Add, Mul, Relu, SquaredLoss, Variable
from graphdl.viz import Animator, TrainingRecorder

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

x, label = Variable(name="x", trainable=False), Variable(name="label", trainable=False)
w1, b1, w2, b2 = Variable(0.6, name="w1"), Variable(0.1, name="b1"), Variable(-0.4, name="w2"), Variable(0.2, name="b2")
v1, v2, c = Variable(0.5, name="v1"), Variable(0.5, name="v2"), Variable(0.0, name="c")
z1 = Add([Mul([x, w1]), b1], name="z1")  # hidden pre-activations: each unit's kink is at x = -b/w
z2 = Add([Mul([x, w2]), b2], name="z2")
out1 = Mul([Relu([z1]), v1], name="out1")  # each unit's weighted contribution
out2 = Mul([Relu([z2]), v2], name="out2")
y = Add([out1, out2, c], name="y")
loss = SquaredLoss([label, y], name="loss")
params = [w1, b1, w2, b2, v1, v2, c]

recorder = TrainingRecorder(x, y, np.linspace(-1.5, 1.5, 61), every=80, loss=loss)  # loss= names it in the GIF
recorder.start()  # snapshot of the untrained net
rng = np.random.default_rng(0)
for step in range(400):
    sample = rng.uniform(-1.0, 1.0)
    x.set_value(sample)
    label.set_value(abs(sample))
    value = loss.forward()
    for param in params:
        param.get_grad()
        param.update(lr=0.05)
    loss.clear()
    recorder.record_step(step, value)  # a snapshot every 80 steps; training is unchanged by it
recorder.finish()

animator = Animator(
    recorder,
    hidden=("z1", "z2"),
    weighted=("out1", "out2"),
    output="y",
    kinks=(("w1", "b1"), ("w2", "b2")),
    target=np.abs,
    target_label="y = |x|",
    train_range=(-1.0, 1.0),
    title="A 1-2-1 ReLU net learning |x|",
    hold_last=1,
)
print(f"{len(recorder)} snapshots, last loss {recorder.losses[-1]:.4f}")
print(f"wrote {animator.save('training.gif')} ({animator.frame_count} frames)")
