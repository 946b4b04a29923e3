"""The explorer page's content: self-contained, safely escaped, the recorded data right.
(The page's behaviour in a real browser is tested in test_viz_explorer_browser.py.)"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from graphdl import Add, Mul, Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample
from graphdl.viz import Animator, ExplorerPage, TrainingRecorder, explore
from graphdl.viz.explorer import Panels, explorer_html, script_json

render_module = importlib.import_module("graphdl.viz.render")  # graphdl.viz.render is also a function's name
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "</script><script>alert(\"x\")</script> <b> & 'q'"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "explore_training.py"
LAYOUTS = [pytest.param(True, id="graphviz"), pytest.param(False, id="networkx")]


def trained(steps: int = 60, every: int = 20):
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(steps, seed=3)
    recorder = TrainingRecorder.for_seed_net(net, every=every, grid=np.linspace(-0.5, 2.5, 31), total_steps=steps)
    recorder.start()
    train_per_sample(net, xs, ys, callback=recorder)
    recorder.finish()
    net.x.set_value(xs)
    net.label.set_value(ys)
    net.loss.backward()
    return net, recorder


def hostile_graph():
    a, b = Variable(2.0, name=HOSTILE), Variable(3.0, name='a"b')
    out = Add([Mul([a, b], name="<mul>"), Variable(1.0, name="c&d")], name="out put")
    out.backward()
    return out


def page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="graphdl-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def page_svg(page: str) -> ET.Element:
    match = re.search(r'<div id="graph">(.*?)</div>', page, re.S)
    assert match is not None
    return ET.fromstring(match.group(1))


def use_layout(monkeypatch, graphviz: bool) -> None:
    if graphviz and not render_module.dot_available():
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.setattr(render_module, "dot_available", lambda: graphviz)


@pytest.mark.parametrize("graphviz", LAYOUTS)
def test_hostile_names_are_escaped_everywhere(monkeypatch, graphviz):
    use_layout(monkeypatch, graphviz)
    out = hostile_graph()
    page = explorer_html(out)
    assert HOSTILE not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data and the program, nothing else
    data = page_data(page)
    assert [node["name"] for node in data["nodes"]] == [HOSTILE, 'a"b', "<mul>", "c&d", "out put"]
    groups = [g for g in page_svg(page).iter(f"{SVG}g") if g.get("class") == "node"]
    assert sorted(int(g.get("data-index")) for g in groups) == list(range(5))
    ids = [g.get("id") for g in groups]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"node-[A-Za-z0-9_-]+", i) for i in ids)
    assert {node["id"] for node in data["nodes"]} == set(ids)
    texts = {t.text for t in page_svg(page).iter(f"{SVG}text")}
    assert HOSTILE in texts  # shown as text, escaped in the file
    assert data["value"] == [[2.0], [3.0], [6.0], [1.0], [7.0]] and data["grad"][0] == [3.0]


def test_json_in_script_cannot_close_it():
    text = script_json({"name": "</script><!-- & -->"})
    assert not set("<>&") & set(text)
    assert json.loads(text) == {"name": "</script><!-- & -->"}


def test_odd_names_are_shown_literally_and_the_page_is_writable(tmp_path):
    bell, lone = Variable(1.0, name="bell\x07\nx"), Variable(2.0, name="lone\ud800")
    out = Add([bell, lone], name="out\x01")
    page = explore(out, tmp_path / "odd.html")  # a lone surrogate used to stop the UTF-8 write
    text = page.path.read_text(encoding="utf-8")
    assert [node["name"] for node in page_data(text)["nodes"]] == ["bell\\x07\\nx", "lone\\ud800", "out\\x01"]
    assert "<title>graphdl explorer: out\\x01</title>" in text
    assert json.loads(script_json({"s": "a\udfffb"})) == {"s": "a\udfffb"}


def test_page_fetches_nothing_and_inlines_its_program():
    page = explorer_html(hostile_graph())
    assert "default-src 'none'" in page  # the Content-Security-Policy forbids any fetch
    assert not re.search(r"<link|<img|<iframe|\bsrc=|@import|url\(['\"]?http", page)
    assert "function drawGraph()" in page and "g.node .shape" in page  # explorer.js and explorer.css inlined
    urls = set(re.findall(r"https?://[^\s\"')]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_the_loss_window_is_the_round_one_the_animation_names():
    net, recorder = trained(60, every=20)
    assert page_data(explorer_html(net.loss, recorder))["panels"]["lossWindow"] == 5  # a tenth of 60, made round
    assert page_data(explorer_html(net.loss, recorder, panels=Panels(loss_window=7)))["panels"]["lossWindow"] == 7


@pytest.mark.parametrize("graphviz", LAYOUTS)
def test_recorded_page_holds_every_snapshot(monkeypatch, graphviz):
    use_layout(monkeypatch, graphviz)
    net, recorder = trained(60, every=20)
    page = explorer_html(net.loss, recorder, panels=Panels(loss_window=7))
    data = page_data(page)
    names = [node["name"] for node in data["nodes"]]
    assert data["steps"] == [0, 20, 40, 60] and data["total"] == 60 and data["panels"]["lossWindow"] == 7
    add_21 = names.index("add_21")
    expected = recorder.series("add_21")
    np.testing.assert_allclose(np.array(data["curves"][str(add_21)]), expected, rtol=1e-3, atol=1e-12)
    w_11 = names.index("w_11")
    assert data["value"][w_11] == [pytest.approx(s.parameters["w_11"], rel=1e-5) for s in recorder.snapshots]
    assert data["losses"] == pytest.approx(recorder.losses, rel=1e-5)
    assert [names[i] for i in data["panels"]["hidden"]] == ["add_11", "add_12"]
    assert data["panels"]["target"] == pytest.approx(np.square(recorder.grid).tolist(), rel=1e-3)
    edges = [g for g in page_svg(page).iter(f"{SVG}g") if g.get("class") == "edge" and g.get("data-carrier")]
    carried = {names[int(g.get("data-carrier"))] for g in edges}
    assert carried == {"w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21"}
    assert sum(1 for t in page_svg(page).iter(f"{SVG}text") if t.get("class") == "value-text") == len(names)


def test_replayed_grads_are_those_of_the_mean_loss_on_the_training_range():
    net, recorder = trained(40, every=20)
    before = {node.name: (node.value, node.grad) for node in [net.w_11, net.b_21, net.loss]}
    data = page_data(explorer_html(net.loss, recorder, panels=Panels()))
    after = {node.name: (node.value, node.grad) for node in [net.w_11, net.b_21, net.loss]}
    for name, (value, grad) in before.items():  # the user's graph is untouched
        np.testing.assert_array_equal(after[name][0], value)
        np.testing.assert_array_equal(after[name][1], grad)
    names = [node["name"] for node in data["nodes"]]
    snapshot = recorder.snapshots[1]
    fresh = build_seed_net()
    fresh.initialise([snapshot.parameters[name] for name in ("w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21")])
    xs = recorder.grid[(recorder.grid >= 0) & (recorder.grid <= 2)]
    fresh.x.set_value(xs)
    fresh.label.set_value(xs**2)
    fresh.loss.backward()
    for name in ("w_11", "b_12", "w_22", "b_21"):
        assert data["grad"][names.index(name)][1] == pytest.approx(float(getattr(fresh, name).grad), rel=1e-5)
    relu = names.index("relu_12")
    assert data["grad"][relu][1] == pytest.approx(float(np.sum(fresh.relu_12.grad)), rel=1e-5)
    assert data["value"][names.index("loss")][1] == pytest.approx(float(np.mean(fresh.loss.value)), rel=1e-5)


def test_replay_feeds_the_recorders_feeds_before_the_target():
    net = build_seed_net()
    net.initialise("fig7")
    grid = np.linspace(-0.5, 2.5, 31)
    recorder = TrainingRecorder(net.x, net.loss, grid, every=10, total_steps=20)
    recorder.feeds = {net.label: grid**3}  # a recorder that records the loss feeds the label over the grid
    net.label.set_value(1.0)
    recorder.start()
    xs, ys = quadratic_data(20, seed=2)
    train_per_sample(net, xs, ys, callback=recorder)
    data = page_data(explorer_html(net.loss, recorder, panels=Panels()))
    names = [node["name"] for node in data["nodes"]]
    fresh = build_seed_net()
    fresh.initialise([recorder.snapshots[-1].parameters[p.name] for p in fresh.params])
    inside = grid[(grid >= 0) & (grid <= 2)]
    fresh.x.set_value(inside)
    fresh.label.set_value(inside**3)
    fresh.loss.backward()
    assert data["grad"][names.index("w_21")][-1] == pytest.approx(float(fresh.w_21.grad), rel=1e-5)
    assert "(label as recorded)" in data["note"] and "x²" not in data["note"]


def test_explore_writes_the_file_and_displays_in_a_notebook(tmp_path):
    net, recorder = trained(40, every=20)
    page = explore(net.loss, tmp_path / "page.html", recorder)
    assert isinstance(page, ExplorerPage) and page.path == tmp_path / "page.html"
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == page.html
    assert open(page, encoding="utf-8").read(15) == "<!DOCTYPE html>"
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "<script" not in frame and "&lt;script" in frame
    inline = explore(net.loss)
    assert inline.path is None and 'id="graphdl-data"' in inline.html


def test_explore_a_still_mlp():
    from graphdl.nn import MLP

    model = MLP(2, [3, 1], activation="tanh", rng=0)
    model.inputs[0].set_value(np.array([0.5, -1.0, 2.0]))
    model.inputs[1].set_value(np.array([1.0, 0.0, -1.0]))
    loss = model.outputs[0] * model.outputs[0]
    loss.backward()
    data = page_data(explorer_html(loss))
    assert data["mode"] == "still" and data["steps"] == [0]
    assert len(data["nodes"]) == len(set(node["id"] for node in data["nodes"]))
    parameters = [i for i, node in enumerate(data["nodes"]) if node["role"] == "parameter"]
    assert parameters and all(data["grad"][i][0] is not None for i in parameters)
    assert data["x"]["label"] in {"x[0]", "x[1]"} and len(data["x"]["values"]) == 3
    assert sum(1 for node in data["nodes"] if node["name"].startswith("fc1.")) >= 9


def test_animator_saves_the_explorer_page(tmp_path):
    _, recorder = trained(40, every=20)
    path = Animator(recorder).save(tmp_path / "training.html")
    page = path.read_text(encoding="utf-8")
    assert "data:image/png" not in page and len(page_data(page)["steps"]) == 3
    assert page_data(page)["panels"]["output"] is not None


def test_bad_input_is_named(tmp_path):
    net, recorder = trained(20, every=10)
    with pytest.raises(ValueError, match="page.png: the explorer is an HTML page"):
        explore(net.loss, tmp_path / "page.png")
    with pytest.raises(FileNotFoundError, match="missing"):
        explore(net.loss, tmp_path / "missing" / "page.html")
    with pytest.raises(TypeError, match="expected a Node or a Graph, got str"):
        explore("loss", tmp_path / "page.html")
    with pytest.raises(TypeError, match="recorder must be a TrainingRecorder, got list"):
        explore(net.loss, tmp_path / "page.html", [recorder])
    empty = TrainingRecorder(net.x, net.add_21, [0.0, 1.0])
    with pytest.raises(ValueError, match="no snapshots"):
        explore(net.loss, tmp_path / "page.html", empty)
    with pytest.raises(KeyError, match="'relu_99' was not recorded"):
        explore(net.loss, tmp_path / "page.html", recorder, panels=Panels(hidden=("relu_99",)))
    with pytest.raises(ValueError, match="the recorder's input 'x' is not in this graph"):
        explore(Variable(1.0, name="z") * 2, tmp_path / "page.html", recorder)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_default_demo_page_is_under_three_megabytes(tmp_path):
    from graphdl.demo import run_demo

    result = run_demo(tmp_path, format="html", progress=False)
    page = tmp_path / "training.html"
    assert page in result.files
    assert page.stat().st_size <= 3_000_000
    data = page_data(page.read_text(encoding="utf-8"))
    assert data["total"] == 1500 and data["steps"][-1] == 1500 and len(data["steps"]) == 61
    assert [node["name"] for node in data["nodes"]][-1] == "loss"


def load_explore_example():
    spec = importlib.util.spec_from_file_location("explore_training_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_script_writes_the_page(tmp_path, capsys):
    path = load_explore_example().main(["--out", str(tmp_path), "--steps", "120"])
    assert path == tmp_path / "explorer.html"
    data = page_data(path.read_text(encoding="utf-8"))
    assert data["total"] == 120 and len(data["steps"]) == 61 and data["title"].endswith("node by node")
    assert f"wrote {path}" in capsys.readouterr().out
