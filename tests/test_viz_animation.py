"""Recorder and animator: training is undisturbed, frames and files are right."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from graphdl.seednet import build_seed_net, quadratic_data, train_per_sample
from graphdl.viz import Animator, TrainingRecorder


def trained(steps: int = 60, every: int = 20, init: str = "fig8"):
    net = build_seed_net()
    net.initialise(init)
    xs, ys = quadratic_data(steps, seed=3)
    recorder = TrainingRecorder.for_seed_net(net, every=every, grid=np.linspace(-0.5, 2.5, 31), total_steps=steps)
    recorder.start()
    losses = train_per_sample(net, xs, ys, callback=recorder)
    recorder.finish()
    return net, recorder, losses


def test_recording_does_not_change_training_bit_for_bit():
    xs, ys = quadratic_data(200, seed=5)
    net = build_seed_net()
    net.initialise("fig7")
    plain = train_per_sample(net, xs, ys)
    recorded_net = build_seed_net()
    recorded_net.initialise("fig7")
    recorder = TrainingRecorder.for_seed_net(recorded_net, every=1)
    recorder.start()
    recorded = train_per_sample(recorded_net, xs, ys, callback=recorder)
    assert len(recorder) == 201
    assert recorded == plain  # exact equality, not approximate
    assert [p.value for p in recorded_net.params] == [p.value for p in net.params]


def test_snapshots_hold_grid_outputs_parameters_and_loss():
    net, recorder, losses = trained(60, every=20)
    assert [s.step for s in recorder.snapshots] == [0, 20, 40, 60]
    assert recorder.losses == losses
    final = recorder.snapshots[-1]
    assert final.loss == losses[-1]
    assert final.parameters["w_11"] == net.w_11.value
    np.testing.assert_allclose(final.outputs["add_21"], net.predict(recorder.grid), rtol=0, atol=1e-12)
    first = recorder.snapshots[0].outputs["add_21"]
    assert not np.array_equal(first, final.outputs["add_21"])
    assert recorder.series("mul_21").shape == (4, 31)


def test_recorder_restores_the_input_value():
    net, recorder, _ = trained(20, every=5)
    net.x.set_value(0.7)
    recorder.snapshot(99)
    assert net.x.value == 0.7
    fresh = build_seed_net()
    fresh.initialise("fig8")
    unset = TrainingRecorder.for_seed_net(fresh)
    unset.start()
    assert fresh.x.value is None


def test_recorder_rejects_bad_arguments():
    net = build_seed_net()
    with pytest.raises(ValueError, match="every"):
        TrainingRecorder(net.x, net.add_21, [0.0, 1.0], every=0)
    with pytest.raises(ValueError, match="does not depend"):
        TrainingRecorder(net.label, net.add_21, [0.0, 1.0])


def test_animator_needs_snapshots_and_known_names():
    net = build_seed_net()
    net.initialise("fig8")
    empty = TrainingRecorder.for_seed_net(net)
    with pytest.raises(ValueError, match="no snapshots"):
        Animator(empty)
    _, recorder, _ = trained(20, every=10)
    with pytest.raises(KeyError, match="nope"):
        Animator(recorder, hidden=("nope",))


@pytest.mark.parametrize("graph_panel", [False, True])
def test_gif_has_one_frame_per_snapshot(tmp_path, graph_panel):
    _, recorder, _ = trained(60, every=20)
    animator = Animator(recorder, graph_panel=graph_panel, dpi=40, hold_last=3)
    path = animator.save(tmp_path / "training.gif")
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames == len(recorder.snapshots) == 4
        assert image.size == (int(14 * 40), int(animator._figsize()[1] * 40))
    assert not list(tmp_path.glob(".*partial*"))


def test_frames_differ_and_axes_stay_fixed():
    _, recorder, _ = trained(60, every=20)
    animator = Animator(recorder)
    first, last = animator.frame(0), animator.frame(3)
    assert first._suptitle.get_text() != last._suptitle.get_text()
    for a, b in zip(first.axes, last.axes):
        assert a.get_xlim() == b.get_xlim() and a.get_ylim() == b.get_ylim()


def test_html_player_and_unknown_formats(tmp_path):
    _, recorder, _ = trained(20, every=10)
    animator = Animator(recorder, dpi=30, hold_last=0)
    html = animator.save(tmp_path / "training.html").read_text(encoding="utf-8")
    assert "<script" in html and 'id="graphdl-data"' in html  # the explorer page (graphdl.viz.explorer)
    with pytest.raises(ValueError, match="unknown animation format"):
        animator.save(tmp_path / "training.avi")


def test_gallery_animation_is_small_enough_for_the_readme():
    from pathlib import Path

    gif = Path(__file__).resolve().parents[1] / "viz" / "training.gif"
    if not gif.exists():
        pytest.skip("the gallery has not been generated")
    assert gif.stat().st_size < 3_000_000
    with Image.open(gif) as image:
        assert image.n_frames > 10
