"""``experiments/quadratic_fit.py``: a fast smoke test and the figure-8 claim."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example

from graphdl.seednet import build_seed_net, quadratic_data, train_per_sample

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    return load_example("quadratic_fit")


def _last_mean(output: str) -> float:
    match = re.search(r"^mean loss of the last (\d+) steps: ([0-9.]+)$", output, re.MULTILINE)
    assert match, output
    return float(match.group(2))


def test_smoke_writes_both_pngs_and_prints_the_summary(example, tmp_path, capsys) -> None:
    result = example.main(["--steps", "230", "--out", str(tmp_path / "out"), "--seed", "3"])
    output = capsys.readouterr().out
    assert [int(n) for n in re.findall(r"^\[(\d+)\] loss=", output, re.MULTILINE)] == [0, 100, 200]
    assert _last_mean(output) == pytest.approx(np.mean(result["losses"][-100:]), abs=1e-4)
    assert len(result["losses"]) == 230
    for name in ("quadratic_loss.png", "quadratic_fit.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
        assert f"wrote {tmp_path / 'out' / name}" in output


@pytest.mark.parametrize("flags", [["--init", "fig7"], ["--init", "random", "--relu"], ["--lr", "0.05"]])
def test_flags(example, capsys, flags) -> None:
    result = example.main(["--steps", "20", *flags])
    output = capsys.readouterr().out
    assert "mean loss of the last 20 steps:" in output
    assert set(result["params"]) == {"w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21"}


def test_bad_flags_are_rejected(example) -> None:
    with pytest.raises(SystemExit):
        example.main(["--init", "fig9"])
    with pytest.raises(SystemExit):
        example.main(["--steps", "0"])


def test_script_loop_is_the_seed_loop(example, capsys) -> None:
    """The script's hand-written loop gives exactly what ``train_per_sample`` gives."""
    for flags, activation in ((["--init", "fig7"], "leaky_relu"), (["--init", "fig8", "--relu"], "relu")):
        result = example.main(["--steps", "300", "--seed", "5", *flags])
        net = build_seed_net(activation=activation)
        net.initialise(flags[1])
        xs, labels = quadratic_data(300, seed=5)
        losses = train_per_sample(net, xs, labels, lr=0.01)
        assert result["losses"] == losses
        assert result["params"] == {p.name: p.value for p in net.params}
    capsys.readouterr()


def test_fig8_fits_in_1500_steps(example, tmp_path, capsys) -> None:
    """The tutorial's claim: figure 8's initialisation fits x² in 1500 steps."""
    result = example.main(["--init", "fig8", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    assert len(result["losses"]) == 1500
    assert _last_mean(output) < 0.15
    # and the fitted curve is close to x² on [0, 2]
    net = build_seed_net()
    net.initialise([result["params"][name] for name in ("w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21")])
    grid = np.linspace(0.0, 2.0, 41)
    assert np.mean(np.abs(net.predict(grid) - grid**2)) < 0.15


def test_fig7_is_not_fitted_after_1500_steps(example, capsys) -> None:
    example.main(["--init", "fig7"])
    assert _last_mean(capsys.readouterr().out) > 0.5


def test_random_init_is_independent_of_the_data() -> None:
    """The random start must not be the first training inputs in disguise (x − 1)."""
    from graphdl.seednet import init_rng

    for seed in range(5):
        start = init_rng(seed).uniform(-1.0, 1.0, size=7)
        xs, _ = quadratic_data(7, seed=seed)
        assert np.abs(start - (xs - 1.0)).min() > 1e-6
