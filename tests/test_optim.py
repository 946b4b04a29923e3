"""Each optimiser against a first few steps computed by hand on loss = w²/2 (so grad = w)."""

import math

import numpy as np
import pytest

import graphdl
from graphdl import Add, Mul, SquaredLoss, Variable, optim


def half_square(start=1.0):
    w = Variable(start, name="w")
    return w, Mul([w, w, 0.5], name="loss")


def run(optimizer_class, steps, **options):
    w, loss = half_square()
    opt = optimizer_class([w], **options)
    seen = []
    for _ in range(steps):
        loss.backward()
        opt.step()
        loss.clear()
        seen.append(w.value)
    return seen, opt


def test_sgd():
    seen, _ = run(optim.SGD, 2, lr=0.1)
    assert seen == pytest.approx([0.9, 0.81], abs=1e-15)


def test_momentum_follows_seed_001():
    # s1 = g1 = 1; s2 = 0.9·s1 + 0.1·g2 with g2 = w1 = 0.9
    seen, opt = run(optim.Momentum, 2, lr=0.1, beta=0.9)
    w1 = 1.0 - 0.1 * 1.0
    s2 = 0.9 * 1.0 + 0.1 * w1
    assert seen == pytest.approx([w1, w1 - 0.1 * s2], abs=1e-15)
    assert opt.state["velocity"][0] == pytest.approx(s2, abs=1e-15)


def test_adagrad():
    seen, _ = run(optim.AdaGrad, 2, lr=0.1, eps=1e-6)
    w1 = 1.0 - 0.1 * 1.0 / (1.0 + 1e-6)
    s2 = 1.0 + w1 * w1
    assert seen == pytest.approx([w1, w1 - 0.1 * w1 / (math.sqrt(s2) + 1e-6)], abs=1e-15)


def test_rmsprop():
    seen, _ = run(optim.RMSProp, 2, lr=0.1, beta=0.9, eps=1e-6)
    s1 = 0.1 * 1.0
    w1 = 1.0 - 0.1 * 1.0 / (math.sqrt(s1) + 1e-6)
    s2 = 0.9 * s1 + 0.1 * w1 * w1
    assert seen == pytest.approx([w1, w1 - 0.1 * w1 / (math.sqrt(s2) + 1e-6)], abs=1e-15)


def test_adam_with_bias_correction():
    seen, opt = run(optim.Adam, 2, lr=0.1)
    w1 = 1.0 - 0.1 * 1.0 / (1.0 + 1e-8)  # m̂ = g, v̂ = g² on the first step
    m2 = 0.9 * 0.1 + 0.1 * w1
    v2 = 0.999 * 0.001 + 0.001 * w1 * w1
    m_hat, v_hat = m2 / (1 - 0.9**2), v2 / (1 - 0.999**2)
    assert seen == pytest.approx([w1, w1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)], abs=1e-15)
    assert opt.step_count == 2


def test_weight_decay_and_schedule():
    seen, _ = run(optim.SGD, 1, lr=0.1, weight_decay=0.5)
    assert seen == pytest.approx([1.0 - 0.1 * (1.0 + 0.5 * 1.0)], abs=1e-15)
    seen, opt = run(optim.SGD, 3, lr=0.1, schedule=optim.step_decay(0.1, every=2, gamma=0.5))
    assert seen == pytest.approx([0.9, 0.81, 0.81 - 0.05 * 0.81], abs=1e-15)
    assert opt.current_lr() == 0.05
    assert optim.cosine_decay(1.0, 10)(10) == 0.0 and optim.exponential_decay(1.0, 0.5)(3) == 0.125


def test_step_keeps_the_point_semantics():
    w, loss = half_square(2.0)
    opt = optim.SGD([w], lr=0.1)
    loss.backward()
    opt.step()
    assert w.value == pytest.approx(1.8)
    assert loss.value == 2.0  # the loss at the point the gradient was taken
    loss.clear()
    assert loss.forward() == pytest.approx(0.5 * 1.8 * 1.8)


def test_zero_grad_then_step_is_an_error_naming_the_parameter():
    w, loss = half_square()
    opt = optim.SGD([w], lr=0.1)
    loss.backward()
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="'w' has no gradient"):
        opt.step()


def test_non_finite_step_changes_nothing():
    w = Variable(1.0, name="w")
    big = Variable(1e308, name="big")
    loss = Mul([w, big, 10.0])
    opt = optim.SGD([w, big], lr=1.0)
    loss.backward()
    with pytest.raises(FloatingPointError, match="'big'|'w'"):
        opt.step()
    assert w.value == 1.0 and big.value == 1e308 and opt.step_count == 0


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="not trainable"):
        optim.SGD([Variable(1.0, name="data", trainable=False)])
    with pytest.raises(ValueError, match="no parameters"):
        optim.Adam([])
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([Variable(1.0)], lr=0.0)


def test_state_dict_round_trip_resumes_identically():
    _, opt = run(optim.Adam, 2, lr=0.1)
    state = opt.state_dict()
    assert state["kind"] == "Adam" and set(state["buffers"]) == {"m", "v"}
    assert state["buffers"]["m"]["w"] == opt.state["m"][0]
    original = opt.params[0]
    w_copy, loss_copy = half_square(original.value)
    restored = optim.Adam([w_copy], lr=0.1)
    restored.load_state_dict(state)
    loss_original = Mul([original, original, 0.5], name="loss")  # run()'s loss node may be freed
    for loss, o in ((loss_original, opt), (loss_copy, restored)):
        loss.clear()
        loss.backward()
        o.step()
    assert w_copy.value == original.value and restored.step_count == 3


def test_load_state_dict_validates_before_changing_anything():
    _, opt = run(optim.Momentum, 1, lr=0.1)
    other = optim.Momentum([Variable(1.0, name="v")], lr=0.1)
    with pytest.raises(ValueError, match="missing \\['v'\\], unexpected \\['w'\\]"):
        other.load_state_dict(opt.state_dict())
    assert other.step_count == 0 and np.all(other.state["velocity"] == 0.0)
    with pytest.raises(ValueError, match="is for 'Momentum', not Adam"):
        optim.Adam(opt.params).load_state_dict(opt.state_dict())


def test_repeated_assign_is_remembered_once():
    """Optimiser steps without a set_value in between (the compiled path) must not grow
    the list of pending invalidations by one entry per step."""
    from graphdl.core.component import root_of

    w, loss = half_square()
    loss.clear()
    for step in range(100):
        w.assign(1.0 + step)
    assert len(root_of(w).pending) == 1
    loss.clear()
    assert loss.forward() == 0.5 * 100.0 * 100.0


def test_updates_in_another_order_reuse_the_graph_walk(monkeypatch):
    """A compiled step and a loop of ``p.update`` mark the same parameters pending in
    different orders; bringing the graph up to date must still reuse the list of stale
    nodes found on the first step instead of walking the graph again every step."""
    from graphdl.core import component

    x = Variable(1.5, name="x", trainable=False)
    ws = [Variable(0.1 * (k + 1), name=f"w{k}") for k in range(4)]
    loss = Add([Mul([w, x]) for w in ws], name="loss")
    compiled = graphdl.compile(loss, inputs=[x])
    walks = []
    walk = component.downstream_refs
    monkeypatch.setattr(component, "downstream_refs", lambda sources: walks.append(1) or walk(sources))
    for _ in range(4):
        compiled.step({x: 1.5}, 0.01)  # marks the parameters in the compiled program's order
        loss.backward()
        for w in reversed(ws):  # the other order
            w.update(0.01)
        loss.forward()
    assert len(walks) == 1
    assert [w.value for w in ws] == pytest.approx([0.1 * (k + 1) - 8 * 0.01 * 1.5 for k in range(4)], abs=1e-12)


def test_decay_params_leave_the_others_undecayed():
    """``decay_params`` restricts weight decay (the MLP tutorial's "biases are not decayed")."""
    w, b = Variable(2.0, name="w"), Variable(3.0, name="b")
    loss = Add([Mul([w, 0.0]), Mul([b, 0.0])], name="loss")  # zero data gradient: only the decay moves
    opt = optim.Momentum([w, b], lr=0.1, weight_decay=0.5, decay_params=[w])
    loss.backward()
    opt.step()
    assert w.value == pytest.approx(2.0 - 0.1 * 0.5 * 2.0, abs=1e-15)
    assert b.value == 3.0
    with pytest.raises(ValueError, match="'c' is not one of this optimiser's parameters"):
        optim.SGD([w, b], weight_decay=0.1, decay_params=[Variable(1.0, name="c")])
    with pytest.raises(TypeError, match="decay_params must be a list"):
        optim.SGD([w, b], weight_decay=0.1, decay_params=w)


def test_weight_decay_is_the_gradient_of_half_lambda_squared_norm():
    """SGD(weight_decay=λ, decay_params=ws) steps exactly like plain SGD on
    loss + λ/2 · Σ w² (the MLP tutorial's l2_penalty), with the bias outside the penalty."""
    lam, lr = 3.0, 0.05
    x = Variable(np.array([0.5, -1.0, 2.0]), name="x", trainable=False)
    y = Variable(np.array([1.0, 0.0, -1.0]), name="y", trainable=False)

    def build():
        ws = [Variable(0.7, name="w0"), Variable(-0.4, name="w1")]
        b = Variable(0.2, name="b")
        prediction = Add([Mul([x, ws[0]]), Mul([x, x, ws[1]]), b])
        return ws, b, SquaredLoss([y, prediction])

    ws, b, data_loss = build()
    decayed = optim.SGD([*ws, b], lr=lr, weight_decay=lam, decay_params=ws)
    ws2, b2, data_loss2 = build()
    penalty = Mul([Add([Mul([w, w]) for w in ws2]), lam / 2])
    plain = optim.SGD([*ws2, b2], lr=lr)
    total = Add([data_loss2, penalty])
    for _ in range(3):
        data_loss.backward()
        decayed.step()
        data_loss.clear()
        total.backward()
        plain.step()
        total.clear()
    for p, q in zip([*ws, b], [*ws2, b2]):
        assert p.value == pytest.approx(q.value, abs=1e-14)
