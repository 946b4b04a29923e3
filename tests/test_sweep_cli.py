"""``graphdl sweep MODULE:FUNCTION --grid ... --seeds ...``: summary table, plot, resume, errors."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
import sweep_trials

from graphdl.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRIALS = Path(sweep_trials.__file__)


def test_sweep_prints_a_table_per_grid_point_and_plots_a_metric(tmp_path, capsys) -> None:
    out, png = tmp_path / "runs.jsonl", tmp_path / "loss.png"
    argv = ["sweep", "sweep_trials:seed_net_fit", "--grid", "activation=relu,leaky_relu", "--grid", "steps=10"]
    argv += ["--seeds", "0:4", "--workers", "2", "--out", str(out), "--plot", "final_loss", "--png", str(png)]
    assert main([*argv, "--quiet"]) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 8
    for activation in ("relu", "leaky_relu"):
        losses = [r["metrics"]["final_loss"] for r in records if r["point"]["activation"] == activation]
        row = re.search(rf"^{activation} +10 +4 +0 +(\S+) ± (\S+) ", printed, re.MULTILINE)
        assert row, printed
        assert float(row.group(1)) == pytest.approx(statistics.fmean(losses), rel=1e-3)
        assert float(row.group(2)) == pytest.approx(statistics.stdev(losses), rel=0.02)
        fitted = sum(r["metrics"]["fitted"] for r in records if r["point"]["activation"] == activation)
        assert re.search(rf"^{activation} .* {fitted}/4 true", printed, re.MULTILINE)
    assert re.search(r"^activation +steps +runs +failed +final_loss \(mean ± std\) +fitted", printed, re.MULTILINE)
    assert "8 runs: 8 run now, 0 already in" in printed and "0 failed" in printed
    assert png.read_bytes().startswith(PNG_MAGIC) and f"wrote {png}" in printed
    # the same command again runs nothing and prints the same table
    assert main([*argv, "--quiet"]) == 0
    again = capsys.readouterr().out
    assert f"8 runs already in {out}; nothing to do" in again
    assert again.split("\n8 runs")[0] == printed.split("\n8 runs")[0]


def test_failures_are_counted_and_a_trial_file_path_works(tmp_path, capsys) -> None:
    out = tmp_path / "runs.jsonl"
    argv = ["sweep", f"{TRIALS}:sometimes_fails", "--grid", "scale=3", "--seeds", "0,1,2,5", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 1  # runs failed: not a success
    printed, shown = capsys.readouterr()
    assert re.search(r"^3 +4 +2 \(2 ValueError\) +3 ± 4\.2", printed, re.MULTILINE), printed
    assert "4 runs: 4 run now, 0 already in" in printed and "; 2 failed" in printed
    assert "first failure: {'scale': 3} seed 1: ValueError: odd seed 1 refused" in printed
    assert 'raise ValueError(f"odd seed {seed} refused")' in shown  # the first one's traceback
    assert f"2 of 4 runs failed; each failed run's record in {out} holds its traceback" in shown
    assert "--retry-failed" in shown
    # run again: nothing to do, still a failure until the failed runs succeed
    assert main([*argv, "--quiet"]) == 1
    assert f"4 runs already in {out}; nothing to do (2 failed)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep_trials", "--seeds", "0:2"], "expected MODULE:FUNCTION"),
        (["no_such_module_here:f", "--seeds", "0:2"], "cannot import no_such_module_here"),
        (["sweep_trials:missing", "--seeds", "0:2"], "module sweep_trials has no function missing"),
        (["sweep_trials:seed_net_fit", "--seeds", "0:2"], "cannot be called with the keywords seed: .*activation"),
        (["sweep_trials:worker_pid", "--seeds", "x"], "--seeds 'x': expected START:STOP"),
        (["sweep_trials:worker_pid", "--seeds", "0:2", "--grid", "a=1", "--grid", "a=2"], "given twice"),
        (["sweep_trials:worker_pid", "--seeds", "0:2", "--dask"], "--dask goes with --workers"),
        (["sweep_trials:worker_pid", "--seeds", "0:2", "--plot", "loss"], "no run has a numeric metric 'loss'.*pid"),
    ],
)
def test_bad_commands_exit_2_with_a_message(tmp_path, capsys, argv, message) -> None:
    assert main(["sweep", *argv, "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 2
    assert re.search(f"graphdl sweep: error: .*{message}", capsys.readouterr().err)


def test_out_as_a_folder_is_refused(tmp_path, capsys) -> None:
    assert main(["sweep", "sweep_trials:worker_pid", "--seeds", "0:2", "--out", str(tmp_path), "--quiet"]) == 2
    assert f"out {str(tmp_path)!r} is a folder" in capsys.readouterr().err


ROOT = Path(__file__).resolve().parents[1]


def _readme_sweeps() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Sweeps\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_sweep_example_and_command_run(tmp_path, monkeypatch, capsys) -> None:
    """The README's trial (shortened runs) on a process pool, and its first command (fewer seeds)."""
    section = _readme_sweeps()
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    (tmp_path / "readme_starts.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import readme_starts

    out = tmp_path / "starts.jsonl"
    grid = {"activation": ["relu", "leaky_relu"], "steps": [150]}
    records = readme_starts.graphdl.sweep(
        readme_starts.start, grid=grid, seeds=range(2), executor="processes", workers=2, out=out, progress=False
    )
    assert [r["metrics"] for r in records] == [
        readme_starts.start(seed, a, 150) for a in grid["activation"] for seed in (0, 1)
    ]
    command = re.search(r"^(graphdl sweep .*?)$\n(.*?)$", section, re.MULTILINE)
    argv = (command.group(1).rstrip("\\") + command.group(2)).split()[1:]
    assert argv[:2] == ["sweep", "experiments/init_sensitivity.py:random_start"] and "0:200" in argv
    argv[argv.index("0:200")] = "0:2"
    argv[argv.index("runs.jsonl")] = str(tmp_path / "runs.jsonl")
    monkeypatch.chdir(ROOT)
    assert main([*argv, "--grid", "steps=200", "--png", str(tmp_path / "loss.png"), "--quiet"]) == 0
    assert "4 runs: 4 run now" in capsys.readouterr().out
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)
