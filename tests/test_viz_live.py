"""LiveView without a browser: the throttle, the callback protocols (Trainer hooks, a plain
``callback(step, loss)``, a recorder it drives), what it sends to the widget, and the
ImportError without anywidget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphdl import Graph, datasets, nn, optim
from graphdl.seednet import build_seed_net, quadratic_data, train_per_sample
from graphdl.train import Trainer
from graphdl.viz import TrainingRecorder
from graphdl.viz.explorer_data import Panels, recorded_data
from graphdl.viz.live import INSTALL_HINT, Throttle

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ the throttle
def test_throttle_waits_the_minimum_interval_and_ten_times_the_last_cost():
    clock = FakeClock()
    throttle = Throttle(max_rate=10, budget=0.1, clock=clock)
    assert throttle.due()  # the first update at once

    def cheap() -> None:
        clock.now += 0.001

    throttle.run(cheap)  # 0.000 → 0.001
    clock.now = 0.099
    assert not throttle.due()  # under 1/10 s since the last update began
    clock.now = 0.1
    assert throttle.due()

    def dear() -> None:
        clock.now += 0.05

    throttle.run(dear)  # 0.10 → 0.15: training must run 0.5 s before the next
    clock.now = 0.15 + 0.49
    assert not throttle.due()
    clock.now = 0.15 + 0.501
    assert throttle.due()
    assert throttle.updates == 2 and throttle.time_spent == pytest.approx(0.051)


@pytest.mark.parametrize("update_cost", [0.0005, 0.004, 0.03])
def test_throttle_keeps_a_run_under_ten_updates_a_second_and_ten_percent(update_cost):
    clock = FakeClock()
    throttle = Throttle(max_rate=10, budget=0.1, clock=clock)
    step_time = 0.002
    for _ in range(5000):  # 10 s of training
        clock.now += step_time
        if throttle.due():
            throttle.run(lambda: setattr(clock, "now", clock.now + update_cost))
    training = 5000 * step_time
    assert throttle.updates <= 10 * clock.now + 1
    assert throttle.time_spent <= 0.1 * training + update_cost
    assert throttle.updates >= min(10, 0.1 / update_cost) * clock.now * 0.5  # and it does update


def test_throttle_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_rate"):
        Throttle(max_rate=0)
    with pytest.raises(ValueError, match="budget"):
        Throttle(budget=1.5)


# ------------------------------------------------------------------ the widget side
@pytest.fixture
def live_view():
    pytest.importorskip("anywidget", reason="anywidget is not installed: pip install graphdl[notebook]")
    from graphdl.viz import LiveView

    return LiveView


def moons_trainer():
    X, y = datasets.make_moons(96, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", progress=False)
    return trainer, (X, y)


def test_trainer_hooks_send_the_start_the_steps_and_the_whole_run(live_view):
    trainer, data = moons_trainer()
    view = live_view(trainer.loss)
    graph = Graph(trainer.loss)
    sent = []
    view.observe(lambda change: sent.append(change["new"]), names="live")
    trainer.fit(data, epochs=3, batch_size=16, callbacks=[view])
    steps = 3 * 6
    assert view.losses == pytest.approx(trainer.history.step_loss)
    assert view.frames[0]["step"] == 0 and view.frames[-1]["step"] == steps
    assert [frame["step"] for frame in view.frames] == sorted({frame["step"] for frame in view.frames})
    last = view.frames[-1]
    assert len(last["value"]) == len(last["grad"]) == len(graph.nodes)
    for number, node in enumerate(graph.nodes):
        if node in set(trainer.optimizer.params):
            assert last["value"][number] == pytest.approx(float(node.value), rel=1e-5)  # the trained ones (6 digits)
            assert last["grad"][number] is not None
    # every update went out as one message, with the losses not sent before
    assert [message["seq"] for message in sent] == list(range(1, len(sent) + 1))
    resent = []
    for message in sent:
        assert message["lossFrom"] == len(resent)
        resent.extend(message["losses"])
    assert resent == view.losses
    history = view.history
    assert history["running"] is False and history["frames"] == view.frames and history["losses"] == view.losses
    assert history["seq"] == sent[-1]["seq"]
    assert "g" in view.svg and 'class="node"' in view.svg and len(view.nodes) == len(graph.nodes)


def test_an_interpreted_trainer_shows_every_node(live_view):
    X, y = datasets.make_moons(96, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", progress=False, compile=False)
    view = live_view(trainer.loss)
    trainer.fit((X, y), epochs=1, batch_size=16, callbacks=[view])
    graph = Graph(trainer.loss)
    last = view.frames[-1]
    assert None not in last["value"]  # every node, operators included: the step's batch means
    assert last["value"][graph.nodes.index(trainer.loss)] == pytest.approx(trainer.history.step_loss[-1], rel=1e-5)
    assert last["grad"][graph.nodes.index(trainer.loss)] == 1.0


@pytest.mark.parametrize("compiled", [True, False])
def test_operators_show_the_steps_values_never_an_evaluations(live_view, compiled):
    X, y = datasets.make_moons(96, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], activation="tanh", rng=0)
    trainer = Trainer(
        model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False, compile=compiled
    )
    view = live_view(trainer.loss)
    clock = view.throttle.clock = FakeClock()

    def one_second_per_step(step: int, loss: float) -> None:
        clock.now += 1.0

    trainer.fit((X[:64], y[:64]), (X[64:], y[64:]), epochs=2, batch_size=16, callbacks=[one_second_per_step, view])
    at = Graph(trainer.loss).nodes.index(trainer.loss)
    after_an_evaluation = view.frames[5]  # step 5: the first of epoch 2, after epoch 1's dev evaluation
    assert after_an_evaluation["step"] == 5
    if compiled:  # the loss node holds the dev set's losses, not the step's: not shown
        assert after_an_evaluation["value"][at] is None
    else:
        assert after_an_evaluation["value"][at] == pytest.approx(trainer.history.step_loss[4], rel=1e-5)


def test_a_view_attached_to_a_trained_model_counts_on_from_its_steps(live_view):
    trainer, data = moons_trainer()
    trainer.fit(data, epochs=1, batch_size=16)
    view = live_view(trainer.loss)
    trainer.fit(data, epochs=1, batch_size=16, callbacks=[view])
    assert view.frames[0]["step"] == 6 and view.frames[-1]["step"] == 12
    assert view.losses[:6] == [None] * 6  # not seen: the loss of step k stays losses[k - 1]
    assert view.losses[6:] == pytest.approx(trainer.history.step_loss)


def test_updates_wait_for_the_throttle(live_view):
    trainer, data = moons_trainer()
    view = live_view(trainer.loss)
    view.throttle.clock = FakeClock()  # time stands still: no step may update
    trainer.fit(data, epochs=2, batch_size=16, callbacks=[view])
    assert [frame["step"] for frame in view.frames] == [0, 12]  # the start and the end only
    assert len(view.losses) == 12


def test_every_step_updates_when_steps_are_slow(live_view):
    trainer, data = moons_trainer()
    view = live_view(trainer.loss)
    clock = view.throttle.clock = FakeClock()

    def one_second_per_step(step: int, loss: float) -> None:
        clock.now += 1.0

    trainer.fit(data, epochs=1, batch_size=16, callbacks=[one_second_per_step, view])
    assert [frame["step"] for frame in view.frames] == list(range(7))


def test_a_recorder_driven_by_the_view_gives_the_explorers_frames(live_view):
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(120, seed=2)
    recorder = TrainingRecorder.for_seed_net(net, every=20, grid=np.linspace(-0.5, 2.5, 31), total_steps=120)
    view = live_view(net.loss, recorder)
    view.start()
    losses = train_per_sample(net, xs, ys, callback=view)
    view.finish()

    twin = build_seed_net()
    twin.initialise("fig8")
    assert train_per_sample(twin, xs, ys) == losses  # the view changes nothing in training
    assert [snapshot.step for snapshot in recorder.snapshots] == [0, 20, 40, 60, 80, 100, 120]
    assert [frame["step"] for frame in view.frames] == [0, 20, 40, 60, 80, 100, 120]
    page = recorded_data(Graph(net.loss), recorder, Panels.for_recorder(recorder))
    for k, frame in enumerate(view.frames):  # the same numbers as the explorer page's
        assert frame["value"] == [row[k] for row in page["value"]]
        assert frame["grad"] == [row[k] for row in page["grad"]]
    assert view.frames[-1]["grad"][Graph(net.loss).nodes.index(net.params[0])] is not None
    assert view.losses == pytest.approx(losses)


def test_a_plain_callback_without_start_begins_after_the_first_step(live_view):
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(30, seed=0)
    view = live_view(net.loss)
    clock = view.throttle.clock = FakeClock()

    def slow_steps(step: int, loss: float) -> None:
        clock.now += 1.0
        view(step, loss)

    train_per_sample(net, xs, ys, callback=slow_steps)
    view.finish()
    assert [frame["step"] for frame in view.frames] == list(range(1, 31))
    assert view.history["running"] is False


def test_bad_recorders_are_named(live_view):
    net, other = build_seed_net(), build_seed_net()
    with pytest.raises(TypeError, match="TrainingRecorder"):
        live_view(net.loss, recorder=object())
    with pytest.raises(ValueError, match="not in this graph"):
        live_view(net.loss, TrainingRecorder.for_seed_net(other))
    with pytest.raises(TypeError, match="Node or a Graph"):
        live_view("loss")


def test_the_widget_ships_its_script_and_style_and_fetches_nothing(live_view):
    static = ROOT / "graphdl" / "viz" / "static"
    script = (static / "live.js").read_text(encoding="utf-8")
    net = build_seed_net()
    view = live_view(net.loss)
    sent = view.get_state()  # what the notebook's frontend receives
    assert sent["_esm"] == script and sent["_css"] == (static / "live.css").read_text(encoding="utf-8")
    assert "export default" in script
    for needle in ("import ", "fetch(", "XMLHttpRequest", "https:"):
        assert needle not in script
    assert script.count("http://") == 1  # the SVG namespace, never a request


def test_without_anywidget_the_error_names_the_extra():
    program = (
        "import sys; sys.modules['anywidget'] = None\n"
        "import graphdl.viz\n"
        "from graphdl.seednet import build_seed_net\n"
        "try:\n"
        "    graphdl.viz.LiveView(build_seed_net().loss)\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ImportError: {INSTALL_HINT}"
    assert "pip install graphdl[notebook]" in INSTALL_HINT
