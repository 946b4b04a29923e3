import copy

import numpy as np
import pytest

from graphdl import LeakyRelu, gradcheck, nn
from graphdl.graph_io import GraphFormatError, graph_from_dict, graph_to_dict, load_graph, save_graph
from graphdl.tutorial_net import build_seed_net


@pytest.fixture
def seed_document():
    net = build_seed_net(negative_slope=0.2)
    net.initialise("fig8")
    net.x.set_value(1.5)
    net.label.set_value(2.25)
    return net, graph_to_dict(net.loss)


def test_round_trip_rebuilds_an_equivalent_graph(tmp_path, seed_document):
    net, _ = seed_document
    graph = load_graph(save_graph(tmp_path / "g.json", net.loss))
    assert [n.name for n in graph.nodes] == [n.name for n in net.loss.ancestors()]
    assert graph.node("relu_11").negative_slope == 0.2 and isinstance(graph.node("relu_11"), LeakyRelu)
    assert graph.outputs[0].forward() == net.loss.forward()
    assert graph.node("w_11").get_grad() == net.w_11.get_grad()
    assert graph.node("x").trainable is False


def test_model_with_dropout_and_batch_values_round_trips():
    model = nn.MLP(2, [3, 1], dropout=0.5, rng=0)
    model.inputs[0].set_value(np.array([0.1, 0.2]))
    model.inputs[1].set_value(np.array([0.3, -0.4]))
    graph = graph_from_dict(graph_to_dict(model.outputs))
    assert (graph.outputs[0].forward() == model.outputs[0].forward()).all()
    assert graph.node("drop1.out[2]").keep == 0.5
    assert gradcheck(graph.outputs[0], graph.parameters()) < 1e-6


def entry(document, name):
    return next(item for item in document["nodes"] if item["name"] == name)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: entry(d, "mul_21").update(kind="Wobble"), "node 'mul_21' .*unknown kind 'Wobble'"),
        (lambda d: entry(d, "loss")["parents"].append(0), "node 'loss' .*ValueLoss expects 2 parents, got 3"),
        (lambda d: entry(d, "loss")["parents"].__setitem__(0, 99), "node 'loss' .*parent id 99 does not exist"),
        (lambda d: entry(d, "relu_11").update(options={}), "'relu_11'.*LeakyRelu takes options \\['negative_slope'\\]"),
        (lambda d: entry(d, "x").update(value="x"), "node 'x' .*bad value"),
        (lambda d: d.update(format="other"), "not a graphdl graph"),
    ],
)
def test_invalid_documents_name_the_node(seed_document, corrupt, message):
    _, document = seed_document
    broken = copy.deepcopy(document)
    corrupt(broken)
    with pytest.raises(GraphFormatError, match=message):
        graph_from_dict(broken)


def test_cycles_are_rejected(seed_document):
    _, document = seed_document
    broken = copy.deepcopy(document)
    by_name = {entry["name"]: entry for entry in broken["nodes"]}
    by_name["mul_11"]["parents"][0] = by_name["add_21"]["id"]  # add_21 depends on mul_11
    with pytest.raises(GraphFormatError, match="cycle through node"):
        graph_from_dict(broken)


def test_load_graph_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "graphdl-graph", "nodes": [')
    with pytest.raises(GraphFormatError, match="broken.json"):
        load_graph(path)
