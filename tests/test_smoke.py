import numpy as np

from graphdl import Add, LeakyRelu, Mul, ValueLoss, Variable, gradcheck
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample


def test_contract_example_from_design():
    x, label = Variable(name="x"), Variable(name="label")
    w, b = Variable(name="w"), Variable(name="b")
    loss = ValueLoss([label, LeakyRelu([Add([Mul([x, w]), b])])])
    w.set_value(0.3)
    b.set_value(-0.1)
    x.set_value(1.5)
    label.set_value(2.25)
    assert loss.forward() == abs(2.25 - (1.5 * 0.3 - 0.1))
    assert w.get_grad() == -1.5
    w.update(lr=0.01)
    assert w.value == 0.3 + 0.015
    assert gradcheck(loss, [b]) < 1e-6


def test_seed_fit_reaches_threshold():
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(1500, seed=0)
    losses = train_per_sample(net, xs, ys)
    assert np.mean(losses[-100:]) < 0.15
