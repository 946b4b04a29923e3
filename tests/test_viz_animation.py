"""Recorder and animator: training is undisturbed, frames and files are right."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample
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
    animator = Animator(recorder, graph_panel=graph_panel, dpi=40, hold_last=3, fps=10)
    path = animator.save(tmp_path / "training.gif")
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames == len(recorder.snapshots) == 4
        assert image.size == animator.size == (576, 384 if graph_panel else 304)
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
        assert durations == [100, 100, 100, 400]  # the last frame held for 1 + hold_last frames
    assert not list(tmp_path.glob(".*partial*"))


def test_each_frame_is_drawn_once_over_one_static_drawing(tmp_path, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from graphdl.viz import animator as animator_module

    full_draws, updates, progress = [], [], []
    original_draw, original_update = FigureCanvasAgg.draw, animator_module.Scene.update
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: full_draws.append(1) or original_draw(self))
    monkeypatch.setattr(
        animator_module.Scene, "update", lambda self, index: updates.append(index) or original_update(self, index)
    )
    _, recorder, _ = trained(60, every=20)
    animator = Animator(recorder, graph_panel=True, dpi=30, hold_last=5)
    animator.save(tmp_path / "a.gif", progress=lambda frame, total: progress.append((frame, total)))
    assert len(full_draws) == 1  # the static picture, once; frames only blit the moving artists
    assert updates == [0, 1, 2, 3]  # the held last frame is not drawn again
    assert progress == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert animator.timings["frames"] == 4 and animator.timings["drawing"] > 0 and animator.timings["encoding"] > 0


def test_gif_frames_are_streamed_and_decode_to_the_drawn_frames(tmp_path):
    """GifEncoder writes each frame as it comes (only the changed pixels after the first)
    and the decoded GIF shows exactly the palette-mapped frames."""
    from graphdl.viz.encoders import GifEncoder

    rng = np.random.default_rng(0)
    base = np.full((40, 60, 4), 255, np.uint8)
    frames = []
    for number in range(5):
        frame = base.copy()
        frame[5:15, 4 + 8 * number : 12 + 8 * number, :3] = [37, 99, 235]  # a moving blue square
        frame[30:35, 10:20, :3] = [(0, 0, 0), (220, 38, 38)][rng.integers(2)]  # a patch that changes colour
        frames.append(frame)

    stream = io.BytesIO()
    encoder = GifEncoder(stream, fps=10, colours=["#2563eb", "#dc2626"])
    written = []
    for number, frame in enumerate(frames):
        encoder.add(frame, hold=3 if number == 4 else 1)
        written.append(stream.tell())
    encoder.close()
    assert all(b > a for a, b in zip(written, written[1:]))  # every frame reached the file when added
    assert written[1] - written[0] < written[0] / 2  # later frames carry only what changed
    stream.seek(0)
    with Image.open(stream) as gif:
        assert gif.n_frames == 5
        for number, frame in enumerate(frames):
            gif.seek(number)
            decoded = np.asarray(gif.convert("RGB")).astype(int)
            assert np.abs(decoded - frame[..., :3]).max() <= 8, number  # palette rounding only
            assert gif.info["duration"] == (300 if number == 4 else 100)


def test_mp4_is_piped_to_ffmpeg_frame_by_frame(tmp_path, monkeypatch):
    """A stand-in ffmpeg on PATH receives the raw RGBA frames on stdin (last one held)."""
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\nimport sys\ndata = sys.stdin.buffer.read()\n"
        "open(sys.argv[-1], 'w').write(f\"{len(data)} {' '.join(sys.argv[1:-1])}\")\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    _, recorder, _ = trained(40, every=20)
    animator = Animator(recorder, dpi=20, hold_last=2)
    path = animator.save(tmp_path / "training.mp4")
    size, arguments = path.read_text().split(" ", 1)
    width, height = animator.size
    assert int(size) == width * height * 4 * (3 + 2)  # 3 frames, the last one twice more
    assert f"-s {width}x{height}" in arguments and "-pix_fmt rgba" in arguments and "libx264" in arguments


def test_frames_differ_and_axes_stay_fixed():
    _, recorder, _ = trained(60, every=20)
    animator = Animator(recorder)
    first, last = animator.frame(0), animator.frame(3)
    assert title_of(first) != title_of(last)
    for a, b in zip(first.axes, last.axes):
        assert a.get_xlim() == b.get_xlim() and a.get_ylim() == b.get_ylim()


def test_html_player_and_unknown_formats(tmp_path):
    _, recorder, _ = trained(20, every=10)
    animator = Animator(recorder, dpi=30, hold_last=0)
    html = animator.save(tmp_path / "training.html").read_text(encoding="utf-8")
    assert "<script" in html and 'id="graphdl-data"' in html  # the explorer page (graphdl.viz.explorer)
    fragment = animator.to_jshtml()
    assert "<html" not in fragment and fragment.count("data:image/png;base64,") == 3
    with pytest.raises(ValueError, match="unknown animation format"):
        animator.save(tmp_path / "training.avi")
    (tmp_path / "folder.gif").mkdir()
    with pytest.raises(IsADirectoryError, match="folder"):
        animator.save(tmp_path / "folder.gif")


def test_round_loss_window_and_one_named_loss_figure():
    from graphdl.viz.loss_stats import loss_figure_name, recent_mean, round_window

    assert [round_window(n) for n in (1, 9, 50, 100, 1500, 9000, 20000)] == [1, 1, 5, 10, 100, 500, 2000]
    _, recorder, losses = trained(100, every=50)
    animator = Animator(recorder)
    assert animator.loss_window == 10
    title = title_of(animator.frame(2))
    figure = f"{loss_figure_name(10)} {recent_mean(losses, 10):.4f}"
    assert figure.startswith("mean |y − ŷ| over the last 10 steps ") and title.endswith(figure)
    assert title.startswith("graphdl — fitting y = x² node by node   step 100 / 100   ")
    before = title_of(animator.frame(0))
    assert before.endswith("step   0 / 100   mean |y − ŷ| over the last 10 steps (before training)")


def title_of(figure) -> str:
    """The title line as drawn: its fixed words and moving fields are figure texts, in order."""
    return "".join(text.get_text() for text in figure.texts)


def test_loss_panel_envelope_keeps_long_runs_small_and_spikes_visible():
    from graphdl.viz.loss_stats import LOSS_POINTS, envelope

    values = np.random.default_rng(1).uniform(0, 1, 200_001)
    values[123_456] = 50.0
    xs, ys = envelope(values)
    assert len(xs) == len(ys) <= LOSS_POINTS + 200 and ys.max() == 50.0 and ys.min() == values.min()
    assert np.all(np.diff(xs) >= 0) and xs[-1] == values.size
    short = np.arange(5.0)
    assert envelope(short)[1] is short


def test_close_kink_labels_do_not_overlap():
    """Figure 7's initial kinks are 0.79 and 0.83: their labels go on two rows."""
    _, recorder, _ = trained(20, every=20, init="fig7")
    figure = Animator(recorder, dpi=60).frame(0)
    renderer = figure.canvas.get_renderer()
    labels = [t for t in figure.axes[0].texts if t.get_text().startswith("kink")]
    assert sorted(t.get_text() for t in labels) == ["kink 0.79", "kink 0.83"]
    first, second = (t.get_window_extent(renderer) for t in labels)
    assert not first.overlaps(second)


def test_not_fitted_note_only_on_the_last_frame():
    _, recorder, _ = trained(40, every=20, init="fig7")
    animator = Animator(recorder, final_note="not fitted yet", dpi=30)
    notes = [[t.get_text() for t in animator.frame(i).axes[2].texts if t.get_visible()] for i in (0, 2)]
    assert "not fitted yet" not in notes[0] and "not fitted yet" in notes[1]


def test_graph_panel_draws_label_and_loss_with_readable_text():
    from matplotlib.textpath import TextPath

    from graphdl.viz.style import lightness

    _, recorder, _ = trained(40, every=20)
    animator = Animator(recorder, graph_panel=True)  # the demo's own size: 100 dpi
    figure = animator.frame(2)
    panel = figure.axes[4]
    texts = [t for t in panel.texts if t.get_text()]
    names = {t.get_text() for t in texts}
    assert {"x", "label", "loss", "add_21", "w_11"} <= names
    for text in texts:  # digits and capitals at least 9 px tall
        pixels = text.get_size() * animator.dpi / 72
        height = TextPath((0, 0), "0", size=pixels, prop=text.get_fontproperties()).get_extents().height
        assert height >= 9, (text.get_text(), height)
    boxes = {patch: patch.get_facecolor() for patch in panel.patches}
    for text in texts:
        point = panel.transData.transform(text.get_position())
        fill = next(colour for patch, colour in boxes.items() if patch.contains_point(point))
        # white where it contrasts more than the dark text (WCAG contrast ratios)
        expected = "#ffffff" if (lightness(fill) + 0.05) ** 2 < 1.05 * 0.061 else "#111827"
        assert text.get_color() == expected, text.get_text()
    assert any(t.get_color() == "#ffffff" for t in texts)  # some fills are dark enough for white text


def test_gallery_animation_is_small_enough_for_the_readme():
    from pathlib import Path

    gif = Path(__file__).resolve().parents[1] / "viz" / "training.gif"
    if not gif.exists():
        pytest.skip("the gallery has not been generated")
    assert gif.stat().st_size < 3_000_000
    with Image.open(gif) as image:
        assert image.n_frames > 10


def test_recorder_feeds_the_label_to_record_the_loss_itself():
    from graphdl.core.node import Variable

    net, recorder, _ = trained(20, every=20)
    final = recorder.snapshots[-1]
    grid = recorder.grid
    np.testing.assert_allclose(final.outputs["label"], grid**2)
    np.testing.assert_allclose(final.outputs["loss"], np.abs(grid**2 - final.outputs["add_21"]), atol=1e-12)
    assert net.label.value is not None and np.ndim(net.label.value) == 0  # the training label is back
    with pytest.raises(ValueError, match="not a Variable of the graph"):
        TrainingRecorder(net.x, net.loss, grid, feeds={Variable(name="other"): np.square})
    with pytest.raises(ValueError, match="one per grid point"):
        TrainingRecorder(net.x, net.loss, grid, feeds={net.label: [1.0, 2.0]})


def test_a_failing_ffmpeg_is_reported_and_leaves_no_file(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('Unknown encoder libx264\\n')\nsys.exit(1)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    _, recorder, _ = trained(40, every=20)
    with pytest.raises(RuntimeError, match="ffmpeg failed \\(exit 1\\): Unknown encoder libx264"):
        Animator(recorder, dpi=20).save(tmp_path / "training.mp4")
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*partial*"))


SAVE_AT_ONCE = """
import os, sys, time
import matplotlib
matplotlib.use("Agg")
sys.path.insert(0, sys.argv[4])
from test_viz_animation import trained
from graphdl.viz import Animator
_, recorder, _ = trained(20, every=10)
animator = Animator(recorder, dpi=20, hold_last=int(sys.argv[2]))
open(sys.argv[3] + "." + sys.argv[2], "w").close()  # ready
while not all(os.path.exists(sys.argv[3] + "." + k) for k in ("1", "4")):
    time.sleep(0.002)
animator.save(sys.argv[1], progress=lambda frame, total: time.sleep(0.02))
"""


@pytest.mark.slow  # two Python processes with matplotlib (about 3 s)
def test_two_saves_to_one_path_at_once_both_succeed_and_the_last_wins_whole(tmp_path):
    """Two processes (two `graphdl demo --out same`) save an animation to one path at once:
    each writes its own temporary file; the file is one of the two, complete."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    path, ready = tmp_path / "training.gif", tmp_path / "ready"
    processes = [
        subprocess.Popen([sys.executable, "-c", SAVE_AT_ONCE, str(path), hold, str(ready), str(root / "tests")],
                         env=env, stderr=subprocess.PIPE, text=True)
        for hold in ("1", "4")
    ]  # fmt: skip
    for process in processes:
        assert process.wait(60) == 0, process.stderr.read()
    with Image.open(path) as picture:
        assert picture.n_frames in (3 + 1 - 1, 3 + 4 - 1)  # 3 snapshots, the last held: one save, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready.1", "ready.4", "training.gif"]


@pytest.mark.slow  # two saves (about 1.5 s on an idle machine)
def test_two_threads_saving_to_one_path_leave_a_whole_file(tmp_path):
    import threading

    _, recorder, _ = trained(20, every=10)
    path, errors = tmp_path / "training.gif", []
    barrier = threading.Barrier(2)

    def save(hold: int) -> None:
        animator = Animator(recorder, dpi=20, hold_last=hold)
        barrier.wait()
        try:
            animator.save(path, progress=lambda frame, total: None)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=save, args=(hold,)) for hold in (1, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with Image.open(path) as picture:
        assert picture.n_frames in (3, 6)
    assert [p.name for p in tmp_path.iterdir()] == ["training.gif"]


@pytest.mark.slow  # one save (about 1 s on an idle machine)
def test_a_link_planted_at_the_old_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".training.partial.gif").symlink_to(victim)
    _, recorder, _ = trained(10, every=10)
    path = Animator(recorder, dpi=20, hold_last=1).save(tmp_path / "training.gif")
    assert victim.read_text() == "keep me" and not path.is_symlink()
    with Image.open(path) as picture:
        assert picture.n_frames == 2
