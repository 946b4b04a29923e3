"""The explorer's Backprop data (the engine's recorded reverse sweep), the still page's
current point, and the page of a Trainer run recorded by RunRecorder. (Behaviour in a
real browser: test_viz_explorer_browser.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from test_viz_explorer import page_data, trained

from graphdl import Graph, Variable, datasets, nn, optim
from graphdl.core.trace import backward_trace
from graphdl.train import Trainer
from graphdl.viz import RunRecorder, explore
from graphdl.viz.explorer import explorer_html


def test_the_trace_is_the_sweep_with_its_local_derivatives_and_path_sums():
    x = Variable(1.5, name="x", trainable=False)
    w = Variable(0.3, name="w")
    a = (x * w).relu()
    out = a * a + a * 2.0  # a reaches out by two paths (three edges)
    steps = backward_trace(out)
    assert steps[0].node is out and steps[0].grad == 1.0
    assert steps[-1].node is w and steps[-1].paths == []
    by_node = {step.node: step for step in steps}
    received: dict = {}
    for step in steps:
        for path in step.paths:
            if path.local is not None:
                assert path.product == pytest.approx(step.grad * path.local)
            received.setdefault(path.parent, []).append(path.product)
    assert len(received[a]) == 3 and sum(received[a]) == pytest.approx(by_node[a].grad)
    assert by_node[a].grad == pytest.approx(2 * 0.45 + 2.0)
    expected = w.get_grad()
    out.backward()
    assert w.grad == expected == pytest.approx(by_node[w].grad)  # the trace stored the same gradients


def test_the_recorded_page_has_one_sweep_frame_per_step_from_the_loss():
    net, recorder = trained(40, every=20)
    data = page_data(explorer_html(net.loss, recorder))
    names = [node["name"] for node in data["nodes"]]
    frames = data["sweep"]["frames"]
    assert len(frames) == len(data["steps"]) == 3
    for frame in frames:
        visits = frame["visits"]
        assert names[visits[0][0]] == "loss" and visits[0][1] == 1
        visited = [names[visit[0]] for visit in visits]
        assert {"w_11", "b_11", "w_22", "b_21"} <= set(visited) and "x" not in visited
    first, last = frames[0]["visits"], frames[-1]["visits"]
    assert [visit[0] for visit in first] == [visit[0] for visit in last] and first != last  # the parameters moved
    assert "x = 1" in data["sweep"]["note"] and "label = 1" in data["sweep"]["note"]


def test_a_still_page_evaluates_the_current_point_and_says_which():
    x, w, b = Variable(1.5, name="x", trainable=False), Variable(0.3, name="w"), Variable(-0.1, name="b")
    loss = (x * w + b).relu()
    data = page_data(explorer_html(loss))  # nothing computed on the graph itself
    names = [node["name"] for node in data["nodes"]]
    assert data["value"][names.index(loss.name)] == [pytest.approx(0.35)]
    assert data["grad"][names.index("w")] == [pytest.approx(1.5)]
    assert "x = 1.5" in data["note"] and loss.cached_value is None and w.grad is None
    assert len(data["sweep"]["frames"]) == 1
    unset = Variable(name="u", trainable=False)
    missing = page_data(explorer_html(unset * w))
    assert "'u' has no value" in missing["note"] and missing["sweep"]["frames"] is None


def test_a_still_batch_page_sweeps_its_first_sample():
    x = Variable(np.array([2.0, 3.0]), name="x", trainable=False)
    w = Variable(0.5, name="w")
    product = x * w
    data = page_data(explorer_html(product * product))
    assert "x: 2 samples" in data["note"]
    assert "sample 1 of 2" in data["sweep"]["note"] and "x = 2" in data["sweep"]["note"]


@pytest.fixture(scope="module")
def moons_run():
    X, y = datasets.make_moons(120, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False)
    recorder = RunRecorder((X, y), every=2)
    trainer.fit((X, y), (X[:40], y[:40]), epochs=5, batch_size=32, callbacks=[recorder])
    return trainer, recorder


def test_the_run_recorder_keeps_a_frame_per_recorded_epoch(moons_run):
    trainer, recorder = moons_run
    assert [frame.epoch for frame in recorder.frames] == [0, 2, 4, 5]
    assert recorder.frames[0].logs == {} and set(recorder.frames[-1].logs) == {
        "train_loss",
        "dev_loss",
        "train_metric",
        "dev_metric",
    }
    assert recorder.frames[-1].logs["train_loss"] == trainer.history.train_loss[-1]
    assert set(recorder.frames[1].grad_norms) == {"fc1", "fc2"} and all(
        norm > 0 for norm in recorder.frames[1].grad_norms.values()
    )
    assert recorder.frames[0].boundary.shape == (48 * 48,)
    assert not np.array_equal(recorder.frames[0].boundary, recorder.frames[-1].boundary)
    fc1 = trainer.model.parameters()[0]
    assert recorder.frames[-1].state[fc1] == fc1.value


def test_the_run_page_holds_curves_boundary_norms_and_the_replayed_graph(moons_run, tmp_path):
    trainer, recorder = moons_run
    page = explore(trainer.loss, tmp_path / "run.html", recorder)
    data = page_data(page.html)
    run = data["run"]
    assert data["mode"] == "run" and data["steps"] == [0, 2, 4, 5] and data["unit"] == "epoch"
    assert run["logs"]["train_loss"][0] is None and run["logs"]["dev_metric"][-1] is not None
    assert run["layers"] == ["fc1", "fc2"] and len(run["gradNorms"][0]) == 4
    boundary = run["boundary"]
    assert len(boundary["frames"]) == 4 and len(boundary["frames"][0]) == 48 * 48 and len(boundary["points"]) == 120
    assert all(-100 <= level <= 100 for level in boundary["frames"][-1])
    names = [node["name"] for node in data["nodes"]]
    parameter = names.index(trainer.model.parameters()[0].name)
    assert data["value"][parameter][-1] == pytest.approx(trainer.model.parameters()[0].value, rel=1e-5)
    assert all(grad is not None for grad in data["grad"][parameter])
    assert len(data["sweep"]["frames"]) == 4 and names[data["sweep"]["frames"][0]["visits"][0][0]] == trainer.loss.name
    graph_nodes = len(Graph(trainer.loss).nodes)
    assert len(data["nodes"]) == graph_nodes


def test_a_run_page_needs_a_fitted_recorder(tmp_path):
    model = nn.MLP(2, [2, 1], rng=0)
    trainer = Trainer(model, optim.SGD(model, lr=0.1), progress=False)
    with pytest.raises(ValueError, match="RunRecorder has no frames"):
        explore(trainer.loss, tmp_path / "run.html", RunRecorder())
    with pytest.raises(ValueError, match="every must be a whole number"):
        RunRecorder(every=0)
    with pytest.raises(ValueError, match="X has 2 samples but y has 3"):
        RunRecorder((np.zeros((2, 2)), np.zeros(3)))


def test_the_moons_example_writes_the_run_page(tmp_path, capsys):
    import importlib.util

    from experiment_scripts import ROOT

    spec = importlib.util.spec_from_file_location("explore_moons_example", ROOT / "examples" / "explore_moons.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    path = example.main(["--out", str(tmp_path), "--epochs", "2"])
    assert path == tmp_path / "moons_explorer.html"
    data = page_data(path.read_text(encoding="utf-8"))
    assert data["steps"] == [0, 1, 2] and data["run"]["boundary"] is not None and data["title"].endswith("moons")
    assert f"wrote {path}" in capsys.readouterr().out


def test_the_gradient_graph_is_built_on_a_copy_and_agrees_with_the_sweep():
    net, recorder = trained(40, every=20)
    children = {node: list(node.children) for node in Graph(net.loss).nodes}
    page = explorer_html(net.loss, recorder)
    assert {node: list(node.children) for node in Graph(net.loss).nodes} == children  # no gradient nodes on it
    data = page_data(page)
    entries = data["sweep"]["gradient"]
    names = [node["name"] for node in data["nodes"]]
    assert sum(1 for entry in entries if entry["role"] == "gradient") >= 7
    for frame in data["sweep"]["frames"]:
        swept = {names[visit[0]]: visit[1] for visit in frame["visits"]}
        for number, entry in enumerate(entries):
            if entry["name"].startswith("d(loss)/d(") and entry["name"][10:-1] in {"w_11", "b_12", "w_22", "b_21"}:
                assert frame["gradient"][number] == pytest.approx(swept[entry["name"][10:-1]], rel=1e-5)
    assert 'id="gradient-graph"' in page and 'class="gnode"' in page and "Gradient graph</button>" in page
