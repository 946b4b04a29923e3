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


def test_demo_html_and_mp4(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path), "--steps", "20", "--every", "10", "--format", "html", "--quiet"])
    assert status == 0
    assert 'id="graphdl-data"' in (tmp_path / "training.html").read_text(encoding="utf-8")  # the explorer page
    status = main(["demo", "--out", str(tmp_path), "--steps", "20", "--every", "10", "--format", "mp4", "--quiet"])
    assert status == 0
    if ffmpeg_available():
        assert (tmp_path / "training.mp4").stat().st_size > 0
    else:
        assert "wrote a GIF instead" in capsys.readouterr().err
        assert (tmp_path / "training.gif").is_file()


def test_bad_out_under_a_file_is_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    status = main(["demo", "--out", str(blocker / "sub"), "--steps", "5", "--quiet"])
    captured = capsys.readouterr()
    assert status != 0
    assert captured.err.count("\n") == 1 and "cannot write to" in captured.err
    assert "Traceback" not in captured.err


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
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--steps", "0"])
    assert exit_info.value.code != 0


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
