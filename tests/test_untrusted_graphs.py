"""Graph files from strangers: every field is checked by the rules the Python
constructors use, and every refusal is a GraphFormatError naming the file, the node
(id and name) and the field (issue: files from strangers)."""

from __future__ import annotations

import json
import math
import re

import pytest

import graphdl as gd
from graphdl.graph_io import GraphFormatError, graph_to_dict, load_graph, save_graph
from graphdl.nn.dropout import Dropout


@pytest.fixture
def document():
    x = gd.Variable(0.3, name="x", trainable=False)
    label = gd.Variable(1.0, name="label", trainable=False)
    w = gd.Variable(0.5, name="w")
    act = gd.LeakyRelu([gd.Mul([x, w], name="mul")], negative_slope=0.2, name="act")
    loss = gd.LogLoss([label, gd.Sigmoid([act], name="p")], name="loss")
    return graph_to_dict(loss)


def _entry(document, name):
    return next(entry for entry in document["nodes"] if entry["name"] == name)


def _load(tmp_path, document=None, text=None):
    path = tmp_path / "graph.json"
    path.write_text(text if text is not None else json.dumps(document), encoding="utf-8", errors="surrogatepass")
    return load_graph(path)


@pytest.mark.parametrize(
    ("change", "node", "field", "message"),
    [
        (
            lambda d: _entry(d, "act")["options"].update(negative_slope=float("nan")),
            "act",
            "options.negative_slope",
            "must be a finite number, got nan",
        ),
        (
            lambda d: _entry(d, "act")["options"].update(negative_slope="nan"),
            "act",
            "options.negative_slope",
            "must be a real number, got str 'nan'",
        ),
        (
            lambda d: _entry(d, "w").update(trainable="false"),
            "w",
            "trainable",
            "must be true or false, got str 'false'",
        ),
        (
            lambda d: _entry(d, "loss")["options"].update(eps=0.7),
            "loss",
            "options.eps",
            r"eps must be in \(0, 0.5\), got 0.7",
        ),
        (
            lambda d: _entry(d, "loss")["parents"].__setitem__(0, [1]),
            "loss",
            "parents",
            "a parent id must be an integer, got list",
        ),
        (
            lambda d: _entry(d, "act")["options"].update(negative_slope=10**400),
            "act",
            "options.negative_slope",
            "an integer of 401 digits",
        ),
        (lambda d: _entry(d, "x").update(value=float("inf")), "x", "value", "bad value .*finite"),
        (lambda d: _entry(d, "x").update(value=[[1.0, 2.0]]), "x", "value", "bad value .*1-D"),
        (lambda d: _entry(d, "x").update(value=[1.0, True]), "x", "value", "true/false is not a number"),
        (lambda d: _entry(d, "x").update(constant="yes"), "x", "constant", "must be true or false"),
        (lambda d: _entry(d, "mul").update(kind=["Mul"]), "mul", "kind", "unknown kind"),
        (lambda d: _entry(d, "mul").update(id=True), "mul", "id", "must be an integer, got bool"),
        (lambda d: _entry(d, "mul").update(id=-1), "mul", "id", "must be an integer in"),
        (lambda d: _entry(d, "mul").update(parents=5), "mul", "parents", "must be a list of node ids"),
        (lambda d: _entry(d, "mul").update(options=[]), "mul", "options", "Mul takes options"),
        (lambda d: _entry(d, "w").update(trainabel=True), "w", "trainabel", "no such field"),
        (lambda d: _entry(d, "p").update(name=""), "", "name", "must be a non-empty string"),
        (lambda d: _entry(d, "p").update(parents=[10**400]), "p", "parents", "integer of"),
    ],
)
def test_each_bad_field_is_refused_naming_file_node_id_and_field(tmp_path, document, change, node, field, message):
    change(document)
    entry_id = next(e["id"] for e in document["nodes"] if e.get("name") == node)
    with pytest.raises(GraphFormatError) as caught:
        _load(tmp_path, document)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'graph.json'}: node {node!r} (id {entry_id!r}), field {field!r}: "), text
    assert re.search(message, text), text


def test_option_rules_are_the_constructor_rules(document, tmp_path):
    label, p = gd.Variable(1.0, name="y"), gd.Variable(0.5, name="q")
    with pytest.raises(ValueError, match=r"LogLoss: option eps must be in \(0, 0.5\), got 0.7"):
        gd.LogLoss([label, p], eps=0.7)
    with pytest.raises(TypeError, match="LeakyRelu: option negative_slope must be a real number, got str 'nan'"):
        gd.LeakyRelu([p], negative_slope="nan")
    with pytest.raises(ValueError, match=r"Dropout: option keep must be in \(0, 1\], got 0"):
        Dropout([p, label], keep=0)
    _entry(document, "loss")["options"]["eps"] = 0.7
    with pytest.raises(GraphFormatError, match=r"LogLoss: option eps must be in \(0, 0.5\), got 0.7"):
        _load(tmp_path, document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "graphdl-graph", "version": ' + "7" * 5000 + "}", "not valid JSON .*4300 digits"),
        ("\xff\xfe", "not valid JSON"),
        ('{"format": "graphdl-graph", "version": 1, "nodes": [], "outputs": []}', "field 'nodes'"),
        ('{"format": "graphdl-graph", "version": 1.0, "nodes": [], "outputs": []}', "field 'version'"),
    ],
)
def test_raw_parser_errors_are_wrapped_naming_the_file(tmp_path, text, message):
    with pytest.raises(GraphFormatError, match=f"graph.json: {message}"):
        _load(tmp_path, text=text)


def test_outputs_and_references_are_checked(tmp_path, document):
    document["outputs"] = [[0]]
    with pytest.raises(GraphFormatError, match=r"field 'outputs': \[0\] is not the id of a node"):
        _load(tmp_path, document)


def test_a_valid_file_round_trips_and_a_loaded_graph_saves_again(tmp_path, document):
    graph = _load(tmp_path, document)
    loss = graph.node("loss")
    assert loss.forward() == pytest.approx(-math.log(1.0 / (1.0 + math.exp(-0.3 * 0.5))))
    assert graph.node("act").negative_slope == 0.2
    assert graph.node("w").trainable is True and graph.node("x").trainable is False
    again = save_graph(tmp_path / "again.json", loss)
    assert json.loads(again.read_text())["nodes"] == document["nodes"]
