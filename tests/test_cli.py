"""``graphdl demo`` / ``python -m graphdl demo`` end to end, and its error handling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from graphdl.cli import main
from graphdl.viz import ffmpeg_available

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_every_file(tmp_path, capsys):
    out = tmp_path / "nested" / "demo"
    status = main(["demo", "--out", str(out), "--steps", "40", "--every", "20", "--quiet", "--no-graph-panel"])
    assert status == 0
    printed = capsys.readouterr().out
    for name in ("graph.dot", "graph.png", "graph.svg", "training.gif", "loss.png"):
        assert (out / name).is_file(), name
        assert f"wrote {out / name}" in printed
    assert (out / "graph.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")
    with Image.open(out / "training.gif") as gif:
        assert gif.n_frames == 3  # steps 0, 20, 40
    dot = (out / "graph.dot").read_text(encoding="utf-8")
    assert "w_11" in dot and "grad " in dot and "(n=40)" in dot
    assert "grad mean 1 per sample (n=40)" in dot  # the loss node: d(loss_i)/d(loss_i) = 1
    assert "trained 40 steps (init fig8): mean |y − ŷ| over the last 2 steps " in printed
    assert "took " in printed and "drawing" in printed and "encoding" in printed


def test_one_loss_figure_in_bar_summary_and_last_frame(tmp_path, capsys, monkeypatch):
    import io

    from graphdl import demo

    terminal = io.StringIO()
    terminal.isatty = lambda: True  # a live progress bar
    monkeypatch.setattr(demo.sys, "stderr", terminal)
    status = main(["demo", "--out", str(tmp_path), "--steps", "50", "--every", "50", "--no-graph-panel"])
    assert status == 0
    summary = capsys.readouterr().out.splitlines()[0]
    figure = summary.split(": ", 1)[1]
    assert figure.startswith("mean |y − ŷ| over the last 5 steps ")
    bar = terminal.getvalue().split("\r")
    assert any(line.startswith("training [") and f"{figure}  " in line for line in bar)  # its final line
    with Image.open(tmp_path / "training.gif") as gif:
        assert gif.n_frames == 2
    from graphdl.viz.loss_stats import recent_mean

    assert figure.endswith(f"{recent_mean(demo_losses(50), 5):.4f}")


def demo_losses(steps: int) -> list[float]:
    from graphdl.tutorial_net import build_seed_net, init_rng, quadratic_data, train_per_sample

    net = build_seed_net()
    net.initialise("fig8", rng=init_rng(0))
    xs, labels = quadratic_data(steps, seed=0)
    return train_per_sample(net, xs, labels)


def test_demo_html(tmp_path):
    status = main(["demo", "--out", str(tmp_path), "--steps", "20", "--every", "10", "--format", "html", "--quiet"])
    assert status == 0
    assert 'id="graphdl-data"' in (tmp_path / "training.html").read_text(encoding="utf-8")  # the explorer page


def one_line_error(capsys, argv, *, folder=None):
    """Run the CLI expecting exit status 2 and one stderr line; returns that line."""
    try:
        status = main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    if folder is not None:  # nothing trained or drawn
        assert not [p.name for p in Path(folder).glob("*") if p.is_file()]
    return captured.err


@pytest.mark.skipif(ffmpeg_available(), reason="ffmpeg is installed here")
def test_mp4_without_ffmpeg_is_refused_before_any_work(tmp_path, capsys):
    err = one_line_error(capsys, ["demo", "--out", str(tmp_path), "--format", "mp4", "--quiet"], folder=tmp_path)
    assert err.startswith("graphdl demo: error: --format mp4: MP4 needs ffmpeg") and "apt-get install ffmpeg" in err


def test_bad_arguments_are_one_line_errors_before_any_work(tmp_path, capsys):
    err = one_line_error(capsys, ["demo", "--out", ""])
    assert "--out: expected a folder name" in err
    err = one_line_error(capsys, ["demo", "--out", str(tmp_path), "--seed", "-1"], folder=tmp_path)
    assert "--seed: expected a number of at least 0, got -1" in err
    err = one_line_error(capsys, ["demo", "--out", str(tmp_path), "--steps", "100000000000"], folder=tmp_path)
    assert "--steps: expected at most 1000000 (about a minute of training)" in err
    err = one_line_error(capsys, ["demo", "--out", str(tmp_path), "--steps", "1e11"], folder=tmp_path)
    assert "--steps: expected a whole number, got '1e11'" in err
    (tmp_path / "training.gif").mkdir()
    err = one_line_error(capsys, ["demo", "--out", str(tmp_path), "--steps", "5", "--quiet"], folder=tmp_path)
    assert "training.gif" in err and "a folder of that name is in the way" in err


def test_run_demo_checks_its_arguments_too(tmp_path):
    from graphdl.demo import DemoInputError, run_demo

    for options, message in (
        ({"out": " "}, "--out"),
        ({"steps": 10**11}, "--steps"),
        ({"seed": -1}, "--seed"),
        ({"every": 0}, "--every"),
        ({"format": "avi"}, "--format"),
    ):
        with pytest.raises(DemoInputError, match=message):
            run_demo(**{"out": str(tmp_path), **options})
    assert list(tmp_path.iterdir()) == []


def test_too_many_frames_pick_a_larger_every(tmp_path):
    from graphdl.demo import MAX_FRAMES, check_demo_arguments, frame_count

    plan = check_demo_arguments(tmp_path, steps=20000, seed=0, every=1, format="gif")
    assert plan.frames == frame_count(20000, plan.every) <= MAX_FRAMES and plan.every == 21
    assert plan.notes == [
        "20000 steps with --every 1 would make 20001 frames; "
        "drawing one every 21 steps instead (954 frames, at most 1000)"
    ]
    assert check_demo_arguments(tmp_path, steps=1500, seed=0, every=None, format="gif").frames == 61
    assert frame_count(1500, 25) == 61 and frame_count(50, 20) == 4


def test_not_fitted_run_says_so_and_suggests_the_measured_steps(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path), "--init", "fig7", "--steps", "30", "--every", "30", "--quiet"])
    assert status == 0
    err = capsys.readouterr().err
    assert "note: not fitted yet: the mean |y − ŷ| over the last 2 steps is" in err
    assert "--init fig7 needed about 9092 steps in the experiments: try --steps 10000" in err


def test_version_and_gallery_help(capsys):
    from graphdl import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"graphdl {__version__}\n"
    with pytest.raises(SystemExit):
        main(["gallery", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Regenerate the pictures the README shows" in text and "--out" in text
    assert "--format" not in text and "--init" not in text  # the README's pictures use the demo's defaults


def test_bad_out_under_a_file_is_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = one_line_error(capsys, ["demo", "--out", str(blocker / "sub"), "--steps", "5", "--quiet"])
    assert "cannot write to" in err
    err = one_line_error(capsys, ["demo", "--out", str(blocker), "--steps", "5", "--quiet"])
    assert "it is a file, not a folder" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to read-only folders")
def test_bad_out_read_only(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["demo", "--out", str(locked), "--steps", "5", "--quiet"]) != 0
    finally:
        locked.chmod(0o700)
    assert "cannot write to" in capsys.readouterr().err


def test_bad_arguments_exit_nonzero(capsys):
    assert "--steps: expected a number of at least 1, got 0" in one_line_error(capsys, ["demo", "--steps", "0"])


def test_python_dash_m_graphdl(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "graphdl", "demo", "--out", str(blocker), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("graphdl demo: error: cannot write to")
    assert "Traceback" not in result.stderr


def test_demo_without_graphviz_uses_fallback(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    status = main(["demo", "--out", str(tmp_path / "o"), "--steps", "10", "--every", "10", "--quiet"])
    assert status == 0
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert (tmp_path / "o" / "graph.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "o" / "graph.dot").is_file()


def test_whole_number_argument_types() -> None:
    import argparse

    from graphdl.cli import non_negative_int, positive_int

    assert positive_int("3") == 3 and non_negative_int("0") == 0
    for parse, text, message in (
        (positive_int, "0", "at least 1"),
        (non_negative_int, "-1", "at least 0"),
        (positive_int, "2.5", "whole number"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


def test_positive_float_argument_type() -> None:
    import argparse

    from graphdl.cli import positive_float

    assert positive_float("0.01") == 0.01
    for text in ("0", "-1", "inf", "nan", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(text)


def test_long_runs_draw_the_graph_on_a_sample_of_the_data(tmp_path, monkeypatch):
    """Bounded memory: the graph of a very long run is evaluated on every k-th training sample."""
    from graphdl import demo

    monkeypatch.setattr(demo, "GRAPH_SAMPLES", 10)
    result = demo.run_demo(tmp_path, steps=40, every=40, graph_panel=False, progress=False)
    dot = (tmp_path / "graph.dot").read_text(encoding="utf-8")
    assert "on every 4th of its 40 training samples" in dot and "(n=10)" in dot and "(n=40)" not in dot
    assert len(result.losses) == 40


def test_mp4_with_ffmpeg_on_path(tmp_path, monkeypatch, capsys):
    """With an ffmpeg (a stand-in that counts the bytes it is piped) the demo writes training.mp4."""
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nopen(sys.argv[-1], 'w').write(str(len(sys.stdin.buffer.read())))\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    status = main(["demo", "--out", str(out), "--steps", "20", "--every", "10", "--format", "mp4", "--quiet"])
    assert status == 0 and f"wrote {out / 'training.mp4'}" in capsys.readouterr().out
    assert int((out / "training.mp4").read_text()) == 1440 * 960 * 4 * (3 + 12)  # 3 frames, the last held 12 more
