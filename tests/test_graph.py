"""``Graph``: topological order, queries, export, validation; and a 100 000-node chain."""

from __future__ import annotations

import gc

import networkx as nx
import numpy as np
import pytest

import graphdl as gd
from graphdl.tutorial_net import FIG8_INIT, build_seed_net


def _net():
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.2)
    net.label.set_value(1.44)
    return net


def test_nodes_are_in_topological_order_and_complete() -> None:
    net = _net()
    graph = gd.Graph(net.loss)
    position = {node: i for i, node in enumerate(graph.nodes)}
    assert len(graph.nodes) == len(set(graph.nodes)) == 19
    for node in graph.nodes:
        for parent in node.parents:
            assert position[parent] < position[node]
    assert graph.nodes[-1] is net.loss
    assert len(graph) == 19 and net.w_11 in graph and list(graph) == graph.nodes


def test_order_is_deterministic() -> None:
    names = [[node.name for node in gd.Graph(_net().loss).nodes] for _ in range(3)]
    assert names[0] == names[1] == names[2]


def test_parameters_and_inputs() -> None:
    net = _net()
    graph = gd.Graph(net.loss)
    assert {p.name for p in graph.parameters()} == {"w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21"}
    assert all(isinstance(p, gd.Variable) and p.trainable for p in graph.parameters())
    assert [v.name for v in graph.inputs()] == ["x", "label"] or {v.name for v in graph.inputs()} == {"x", "label"}
    with_constant = gd.Graph(net.loss * 2.0)
    assert len(with_constant.parameters()) == 7 and len(with_constant.inputs()) == 2


def test_graph_of_several_outputs_and_of_an_inner_node() -> None:
    net = _net()
    hidden = gd.Graph(net.relu_11, net.relu_12)
    assert {n.name for n in hidden.nodes} == {
        "x", "w_11", "w_12", "b_11", "b_12", "mul_11", "mul_12", "add_11", "add_12", "relu_11", "relu_12"
    }  # fmt: skip
    assert hidden.forward() == [net.relu_11.value, net.relu_12.value]
    assert gd.Graph([net.relu_11, net.relu_12]).nodes == hidden.nodes


def test_node_by_name() -> None:
    net = _net()
    graph = gd.Graph(net.loss)
    assert graph.node("w_21") is net.w_21
    assert graph.node("loss") is net.loss
    with pytest.raises(KeyError, match="nope"):
        graph.node("nope")


def test_node_by_ambiguous_name_is_an_error_naming_it() -> None:
    a = gd.Variable(1.0, name="twin")
    b = gd.Variable(2.0, name="twin")
    graph = gd.Graph(gd.Mul([a, b], name="product"))
    with pytest.raises(ValueError, match="twin"):
        graph.node("twin")
    assert graph.node("product").kind == "Mul"


def test_to_networkx() -> None:
    net = _net()
    net.loss.backward()
    graph = gd.Graph(net.loss).to_networkx()
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_nodes() == 19
    assert graph.number_of_edges() == sum(len(n.parents) for n in gd.Graph(net.loss).nodes)
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.has_edge("x", "mul_11") and graph.has_edge("add_21", "loss")
    assert graph.nodes["mul_11"]["kind"] == "Mul"
    assert graph.nodes["w_11"]["kind"] == "Variable"
    assert graph.nodes["loss"]["value"] == net.loss.value
    assert graph.nodes["w_11"]["grad"] == net.w_11.grad
    assert graph.nodes["relu_11"]["options"] == {"negative_slope": 0.1}
    assert graph.nodes["x"]["grad"] is None


def test_to_networkx_keeps_repeated_parents_and_names() -> None:
    a = gd.Variable(2.0, name="a")
    graph = gd.Graph(gd.Div([a, a], name="ratio")).to_networkx()
    assert graph.edges["a", "ratio"]["positions"] == [0, 1]
    b1, b2 = gd.Variable(1.0, name="b"), gd.Variable(1.0, name="b")
    graph = gd.Graph(gd.Add([b1, b2], name="s")).to_networkx()
    assert graph.number_of_nodes() == 3


def test_summary_is_a_readable_table() -> None:
    net = _net()
    net.loss.backward()
    text = gd.Graph(net.loss).summary()
    lines = text.splitlines()
    assert lines[0].split() == ["name", "kind", "parents", "value", "grad"]
    row = next(line for line in lines if line.startswith("mul_11"))
    assert "Mul" in row and "x, w_11" in row
    w_row = next(line for line in lines if line.startswith("w_11 "))
    assert f"{FIG8_INIT[0]:.4g}" in w_row
    assert "19 nodes" in lines[-1] and "7 trainable" in lines[-1]


def test_validate_passes_a_good_graph_and_returns_it() -> None:
    graph = gd.Graph(_net().loss)
    assert graph.validate() is graph


def test_validate_names_unset_inputs() -> None:
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.0)
    with pytest.raises(ValueError, match="'label'"):
        gd.Graph(net.loss).validate()
    gd.Graph(net.loss).validate(require_values=False)


def test_validate_names_batch_sizes() -> None:
    net = _net()
    net.x.set_value(np.arange(3.0))
    net.label.set_value(np.arange(4.0))
    with pytest.raises(ValueError) as info:
        gd.Graph(net.loss).validate()
    assert "'x'" in str(info.value) and "'label'" in str(info.value) and "batch" in str(info.value)


def test_validate_names_a_node_on_a_cycle() -> None:
    a = gd.Variable(1.0, name="a")
    b = gd.Mul([a, 2.0], name="loop_b")
    c = gd.Add([b, 1.0], name="loop_c")
    graph = gd.Graph(c)
    b.parents = (c, b.parents[1])  # tamper: c -> b -> c
    with pytest.raises(ValueError, match="cycle") as info:
        graph.validate()
    assert "loop_b" in str(info.value) or "loop_c" in str(info.value)
    with pytest.raises(ValueError, match="cycle"):
        gd.Graph(c)


def test_validate_names_wrong_arity_after_tampering() -> None:
    a = gd.Variable(1.0, name="a")
    neg = gd.Neg([a], name="the_neg")
    graph = gd.Graph(neg)
    neg.parents = (a, a)
    with pytest.raises(ValueError, match="the_neg") as info:
        graph.validate()
    assert "1 parent" in str(info.value)


def test_graph_needs_nodes() -> None:
    with pytest.raises(ValueError):
        gd.Graph()
    with pytest.raises(TypeError):
        gd.Graph("loss")


def test_graph_backward_and_clear() -> None:
    net = _net()
    graph = gd.Graph(net.loss)
    graph.backward()
    assert all(p.grad is not None for p in graph.parameters())
    graph.clear()
    assert all(p.grad is None for p in graph.parameters())
    with pytest.raises(ValueError, match="one output"):
        gd.Graph(net.relu_11, net.relu_12).backward()


def _chain_by_hand(value: float, operators: int) -> float:
    for i in range(operators):
        value = value + 1e-5 if i % 2 else float(np.tanh(value))
    return value


@pytest.mark.parametrize("operators", [5_000, pytest.param(100_000, marks=pytest.mark.slow)], ids=["5k", "100k"])
def test_a_long_chain(operators: int) -> None:
    """Build, order, evaluate, differentiate, clear, export and free a chain of
    operators far deeper than the recursion limit (100 000 in the slow run)."""
    x = gd.Variable(0.5, name="x")
    node: gd.Node = x
    for i in range(operators):
        node = gd.Add([node, 1e-5]) if i % 2 else gd.Tanh([node])
    graph = gd.Graph(node)
    assert len(graph.nodes) == operators * 3 // 2 + 1 and graph.nodes[0] is x and graph.nodes[-1] is node
    assert node.forward() == pytest.approx(_chain_by_hand(0.5, operators), rel=1e-12)
    grad = x.get_grad()
    assert 0.0 < grad < 1.0
    node.backward()
    assert x.grad == grad
    node.clear()
    assert x.grad is None and node.cached_value is None
    x.set_value(-3.0)
    assert node.cached_value is None
    assert node.value == pytest.approx(_chain_by_hand(-3.0, operators), rel=1e-12)
    assert graph.validate() is graph
    assert len(graph.summary().splitlines()) == operators * 3 // 2 + 4
    exported = graph.to_networkx()
    assert exported.number_of_nodes() == operators * 3 // 2 + 1
    # freeing a deep chain must not overflow the C stack either (cached orders hold
    # the chain in reference cycles, so the cyclic collector is what frees it)
    del exported, graph, node
    gc.collect()
    assert x.children == []
