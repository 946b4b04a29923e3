import numpy as np
import pytest

from graphdl import Graph, Variable, gradcheck, nn
from graphdl.ops import Sigmoid, SquaredLoss


def test_dense_builds_named_scalar_nodes():
    x = [Variable(name=f"x[{i}]", trainable=False) for i in range(2)]
    layer = nn.Dense(2, 3, "relu", name="fc1", inputs=x, rng=0)
    graph = Graph(*layer.outputs)
    # 2 inputs + 6 weights + 3 biases + 6 products + 3 sums + 3 activations
    assert len(graph) == 23
    assert [n.name for n in layer.outputs] == ["fc1.a[0]", "fc1.a[1]", "fc1.a[2]"]
    assert graph.node("fc1.w[0,1]") is layer.w[0][1]
    assert graph.node("fc1.b[1]") is layer.biases[1]
    assert graph.node("fc1.z[1]").kind == "Add"
    assert graph.node("fc1.mul[1,2]").parents == (x[1], layer.w[1][2])
    assert [p.name for p in layer.parameters()][:3] == ["fc1.w[0,0]", "fc1.w[0,1]", "fc1.w[0,2]"]


def test_dense_computes_the_affine_map():
    layer = nn.Dense(2, 2, None, name="lin", rng=1)
    x = [Variable(0.5, trainable=False), Variable(-2.0, trainable=False)]
    out = layer(x)
    for j in range(2):
        expected = 0.5 * layer.w[0][j].value - 2.0 * layer.w[1][j].value + layer.biases[j].value
        assert out[j].forward() == pytest.approx(expected, abs=1e-15)
    assert out[0].name == "lin.z[0]"


def test_neuron_names_and_errors():
    neuron = nn.Neuron(2, "tanh", name="n1", rng=0)
    out = neuron([1.0, 2.0])
    assert out.name == "n1.a" and neuron.z[0].name == "n1.z"
    assert {p.name for p in neuron.parameters()} == {"n1.w[0]", "n1.w[1]", "n1.b"}
    with pytest.raises(ValueError, match="n1.*expects 2 inputs"):
        neuron([1.0])
    with pytest.raises(ValueError, match="unknown activation"):
        nn.Dense(2, 2, "wobble")


def test_mlp_counts_names_and_gradients():
    model = nn.MLP(2, [3, 1], activation="tanh", output_activation=Sigmoid, rng=0)
    assert [v.name for v in model.inputs] == ["x[0]", "x[1]"]
    assert [n.name for n in model.outputs] == ["fc2.a[0]"]
    assert len(model.parameters()) == 2 * 3 + 3 + 3 + 1
    assert len(model.graph()) == 2 + (6 + 3 + 6 + 3 + 3) + (3 + 1 + 3 + 1 + 1)
    label = Variable(name="label", trainable=False)
    loss = SquaredLoss([label, model.outputs[0]])
    model.inputs[0].set_value(np.array([0.3, -1.0]))
    model.inputs[1].set_value(np.array([0.7, 0.2]))
    label.set_value(np.array([1.0, 0.0]))
    assert gradcheck(loss, model.parameters()) < 1e-6


def test_weight_gradient_norms_per_layer():
    model = nn.MLP(2, [3, 1], activation="tanh", rng=0)
    label = Variable(0.5, name="label", trainable=False)
    loss = SquaredLoss([label, model.outputs[0]])
    with pytest.raises(ValueError, match="fc1.w"):
        model.weight_gradient_norms()
    model.inputs[0].set_value(np.array([0.3, -1.0]))
    model.inputs[1].set_value(np.array([0.7, 0.2]))
    loss.backward()
    norms = model.weight_gradient_norms()
    assert list(norms) == ["fc1", "fc2"]
    for layer in model.layers:
        expected = np.sqrt(sum(float(w.grad) ** 2 for w in layer.weights))
        assert norms[layer.name] == pytest.approx(expected, rel=1e-12) and expected > 0


def test_named_mlp_prefixes_names():
    model = nn.MLP(1, [2, 1], name="enc", rng=0)
    assert model.inputs[0].name == "enc.x[0]"
    assert "enc.fc2.w[1,0]" in model.named_parameters()


def test_duplicate_parameter_names_are_refused():
    a, b = nn.Dense(1, 1, name="same", rng=0), nn.Dense(1, 1, name="same", rng=0)
    with pytest.raises(ValueError, match="same.w\\[0,0\\]"):
        nn.unique_names([*a.parameters(), *b.parameters()])


def test_dropout_is_identity_with_unit_mask_and_uses_its_mask_in_the_gradient():
    x = Variable(name="x", trainable=False)
    w = Variable(0.7, name="w")
    drop = nn.DropoutLayer(0.5, name="d")
    out = drop([x * w])[0]
    x.set_value(np.array([1.0, 2.0, 3.0]))
    assert out.kind == "Dropout" and out.name == "d.out[0]"
    assert (out.forward() == out.parents[0].forward()).all()  # mask 1: exactly the input
    masks = nn.draw_masks(nn.dropout_nodes(Graph(out).nodes), 3, np.random.default_rng(0))
    mask = masks[drop.masks[0]]
    assert set(mask.tolist()) <= {0.0, 2.0}
    drop.masks[0].set_value(np.array([2.0, 0.0, 2.0]))
    assert out.forward().tolist() == pytest.approx([1.4, 0.0, 4.2])
    # d mean(out)/dw = mean(x * mask) uses the same mask as the forward pass
    assert w.get_grad() == pytest.approx((1.0 * 2.0 + 0.0 + 3.0 * 2.0) / 3)
    assert gradcheck(out, [w]) < 1e-6


def test_draw_masks_keeps_the_expected_value():
    x = Variable(1.0, trainable=False)
    node = nn.Dropout([x, Variable(1.0, trainable=False)], keep=0.8)
    mask = nn.draw_masks([node], 20000, np.random.default_rng(1))[node.parents[1]]
    assert abs(mask.mean() - 1.0) < 0.03
    with pytest.raises(ValueError, match="keep"):
        nn.Dropout([x, x], keep=0.0)


def test_layer_norm_normalises_each_sample():
    xs = [Variable(name=f"h{j}", trainable=False) for j in range(4)]
    norm = nn.LayerNorm(4, name="ln1", eps=1e-12)
    outs = norm(xs)
    data = np.array([[1.0, 2.0, 3.0, 10.0], [-1.0, 0.5, 0.0, 4.0]])
    for j, x in enumerate(xs):
        x.set_value(data[:, j])
    values = np.stack([o.forward() for o in outs], axis=1)
    assert np.allclose(values.mean(axis=1), 0.0, atol=1e-12)
    assert np.allclose(values.var(axis=1), 1.0, atol=1e-9)
    assert outs[2].name == "ln1.y[2]"
    label = Variable(np.array([0.5, -0.5]), trainable=False)
    loss = SquaredLoss([label, outs[0] * 2.0 + outs[1] - outs[2] * 0.5 + outs[3] * outs[3]])
    assert gradcheck(loss, norm.parameters()) < 1e-6


def test_mlp_with_dropout_and_layer_norm_builds():
    model = nn.MLP(2, [4, 3], dropout=0.25, layer_norm=True, rng=0)
    kinds = {node.kind for node in model.graph().nodes}
    assert {"Dropout", "Pow", "Relu"} <= kinds
    assert any(name.startswith("ln1.gamma") for name in model.named_parameters())
    model.eval()
    assert all(not module.training for module in model.modules())


def test_attach_loss_heads():
    model = nn.MLP(2, [3], rng=0)
    head = nn.attach_loss(model.outputs, "cross_entropy")
    assert head.loss.kind == "SoftmaxCrossEntropy" and [v.name for v in head.labels] == ["label"]
    head = nn.attach_loss(model.outputs, "mse")
    assert [v.name for v in head.labels] == ["label[0]", "label[1]", "label[2]"]
    with pytest.raises(ValueError, match="exactly one output"):
        nn.attach_loss(model.outputs, "bce_logits")
    with pytest.raises(ValueError, match="unknown loss"):
        nn.attach_loss(model.outputs, "nope")


def test_model_wraps_a_hand_built_graph():
    from graphdl.tutorial_net import build_seed_net

    net = build_seed_net()
    model = nn.Model([net.x], [net.add_21])
    assert set(model.parameters()) == set(net.params)
    with pytest.raises(TypeError, match="Variables"):
        nn.Model([net.add_21], [net.add_21])
