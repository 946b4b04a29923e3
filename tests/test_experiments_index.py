"""Every experiment is documented in the README, tested, and has a committed results file; every
number the README quotes from an experiment is in that file (and, with ``-m slow``, is what the
experiment measures when run with its defaults); every picture the README shows exists."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from experiment_scripts import ROOT, load_experiment, run_experiment

from graphdl.results import read_results

README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = ROOT / "experiments" / "results"
EXPERIMENTS = sorted(path.stem for path in (ROOT / "experiments").glob("*.py"))
TEST_FILES = [path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")]

Format = str | Callable[[Any], str]

# What the README quotes from each results file: (key path, how the README writes the number).
QUOTED: dict[str, list[tuple[str, Format]]] = {
    "quadratic_fit": [("last_100_mean", "{:.3f}"), ("steps_to_fit", "{}")],
    "init_sensitivity": [
        ("named.fig8_leaky_relu.steps_to_fit", "{}"),
        ("named.fig7_leaky_relu.steps_to_fit", "{}"),
        ("sweeps.relu.runs", "{}"),
        ("sweeps.relu.failed", "{}"),
        ("sweeps.leaky_relu.failed", "{}"),
    ],
    "moons_classification": [
        ("hand_built.best_dev_accuracy", "{:.3f}"),
        ("hand_built.best_epoch", "{}"),
        ("hand_built.test_accuracy", "{:.3f}"),
        ("toolkit.test_accuracy", "{:.3f}"),
    ],
    "zero_init": [
        ("zero.after_shown_epochs.train_loss", "{:.3f}"),
        ("zero.after_shown_epochs.dev_accuracy", "{:.3f}"),
        ("zero.dev_accuracy", "{:.3f}"),
        ("zero.unit_gap", "{:g}"),
        ("gaussian.unit_gap", "{:.1f}"),
        ("gaussian.dev_accuracy", "{:.3f}"),
    ],
    "vanishing_gradients": [
        ("per_layer_shrink.sigmoid", "{:.0f}"),
        ("norms.sigmoid.0", "{:.1e}"),
        ("norms.relu.0", "{:.1e}"),
        ("first_layer_ratio", "{:.0f}"),
        ("vanishing_layers", " and ".join),
    ],
    "dead_relu": [
        ("relu.dead_units", "{}"),
        ("relu.zero_weight_grads", "{}"),
        ("norms.leaky_relu.0", "{:.1e}"),
    ],
    "optimizers": [
        *((f"surface.{name}.steps_to_converge", "{}") for name in ("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam")),
        ("classifier.RMSProp.last_epoch_loss", "{:.2f}"),
        ("classifier.Adam.last_epoch_loss", "{:.2f}"),
        ("classifier.SGD.last_epoch_loss", "{:.2f}"),
        ("classifier.Momentum.last_epoch_loss", "{:.2f}"),
        ("classifier.Adam.test_accuracy", "{:.2f}"),
        ("classifier.SGD.test_accuracy", "{:.2f}"),
        ("ewa.0.9.largest_difference_from_momentum", "{:g}"),
    ],
    "regularization": [
        ("polynomial.under-fitting.test_loss", "{:.1f}"),
        ("polynomial.normal.test_loss", "{:.4f}"),
        ("polynomial.normal.weights", lambda weights: "[" + ", ".join(f"{w:.2f}" for w in weights) + "]"),
        ("overfitting_check.ratio", "{:.2f}"),
        ("weight_decay.0.test_loss", "{:.0f}"),
        ("weight_decay.3.test_loss", "{:.2f}"),
        ("dropout.without dropout.gap", "{:.2f}"),
        ("dropout.with dropout.gap", "{:.2f}"),
    ],
    "iris": [("test_accuracy", "{:.3f}")],
    "digits": [("test_accuracy", "{:.3f}"), ("parameters", "{}")],
    "activations": [],
    "batch_norm": [
        *(
            (f"runs.lr={lr}.{variant}.test_accuracy_{stat}", "{:.3f}")
            for lr in ("0.001", "0.3")
            for variant in ("with", "without")
            for stat in ("mean", "std")
        ),
        ("runs.lr=0.3.with.epochs_to_threshold", lambda epochs: ", ".join(map(str, epochs))),
        ("runs.lr=0.3.without.epochs_to_threshold", lambda epochs: ", ".join(map(str, epochs))),
        ("runs.lr=0.3.with.final_train_loss_mean", "{:.4f}"),
        ("runs.lr=0.3.without.final_train_loss_mean", "{:.4f}"),
    ],
    "improvements": [
        *(
            (f"steps.{step}.test_accuracy_{stat}", "{:.3f}")
            for step in ("baseline", "bce", "leaky", "adam", "layernorm")
            for stat in ("mean", "std")
        ),
    ],
}


def lookup(results: dict[str, Any], path: str) -> Any:
    """``results["a"]["b"][0]`` for the path ``"a.b.0"`` (keys may contain dots: the longest matching key wins)."""
    value: Any = results
    rest = path
    while rest:
        if isinstance(value, list):
            head, _, rest = rest.partition(".")
            value = value[int(head)]
            continue
        for key in sorted(value, key=len, reverse=True):
            if rest == key or rest.startswith(key + "."):
                value, rest = value[key], rest[len(key) + 1 :]
                break
        else:
            raise KeyError(f"no key for {rest!r} in {sorted(value)}")
    return value


def section(name: str) -> str:
    """The README's section (from its ``###`` heading to the next) that runs ``experiments/NAME.py``."""
    command = README.index(f"python experiments/{name}.py", README.index("\n## Experiments"))
    start = README.rindex("\n### ", 0, command)
    end = README.find("\n### ", command)
    return " ".join(README[start : end if end >= 0 else len(README)].split())  # line breaks count as spaces


def written(value: Any, style: Format) -> str:
    return style(value) if callable(style) else style.format(value)


def unquoted(name: str, results: dict[str, Any]) -> list[str]:
    """The quoted numbers of experiment ``name`` that its README section does not show as ``results`` has them."""
    text = section(name)
    return [f"{path} = {written(lookup(results, path), style)!r}" for path, style in QUOTED[name]
            if written(lookup(results, path), style) not in text]  # fmt: skip


def test_there_are_experiments() -> None:
    assert len(EXPERIMENTS) >= 10


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_is_in_the_readme_tested_and_has_results(name: str) -> None:
    assert f"python experiments/{name}.py" in README, f"README.md does not run experiments/{name}.py"
    runners = [text for text in TEST_FILES if f'load_experiment("{name}")' in text and "run_experiment" in text]
    assert runners, f"no test loads experiments/{name}.py and runs it"
    assert (RESULTS / f"{name}.json").is_file(), f"experiments/results/{name}.json is missing: run the experiment"
    assert name in QUOTED, f"say in QUOTED which numbers the README quotes from experiments/results/{name}.json"


@pytest.mark.parametrize("name", sorted(QUOTED))
def test_the_readme_quotes_the_committed_results(name: str) -> None:
    assert not unquoted(name, read_results(RESULTS / f"{name}.json"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUOTED))
def test_the_default_run_measures_what_the_readme_quotes(name: str, tmp_path: Path) -> None:
    """Run the experiment with its defaults: its numbers are the committed ones (timings apart),
    so the README, which quotes those, is right."""
    if name == "digits":
        pytest.importorskip("sklearn")
    _, fresh = run_experiment(load_experiment(name), [], tmp_path)
    committed = read_results(RESULTS / f"{name}.json")
    fresh.pop("timing", None), committed.pop("timing", None)
    assert not unquoted(name, fresh)
    assert not differences(fresh, committed)


def differences(fresh: Any, committed: Any, where: str = "results") -> list[str]:
    """Where two results differ: numbers by more than 1e-9 relative (floating-point noise of
    another machine), anything else at all."""
    if isinstance(fresh, dict) and isinstance(committed, dict):
        if fresh.keys() != committed.keys():
            return [f"{where}: keys {sorted(fresh)} != {sorted(committed)}"]
        return [found for key in fresh for found in differences(fresh[key], committed[key], f"{where}.{key}")]
    if isinstance(fresh, list) and isinstance(committed, list) and len(fresh) == len(committed):
        return [found for i, pair in enumerate(zip(fresh, committed)) for found in differences(*pair, f"{where}.{i}")]
    numbers = (int, float)
    if isinstance(fresh, numbers) and isinstance(committed, numbers) and not isinstance(fresh, bool):
        return [] if fresh == pytest.approx(committed, rel=1e-9, abs=1e-15) else [f"{where}: {fresh} != {committed}"]
    return [] if fresh == committed else [f"{where}: {fresh!r} != {committed!r}"]


def test_every_readme_picture_exists() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(pictures) >= 15
    missing = [picture for picture in pictures if not (ROOT / picture).is_file()]
    assert not missing, f"README.md shows pictures that do not exist: {missing}"


def test_differences_name_where_results_differ() -> None:
    committed = {"a": {"b": [1.0, 2.0]}, "c": "x", "d": None}
    assert differences({"a": {"b": [1.0 + 1e-12, 2.0]}, "c": "x", "d": None}, committed) == []
    assert differences({"a": {"b": [1.0, 2.1]}, "c": "y", "d": None}, committed) == [
        "results.a.b.1: 2.1 != 2.0",
        "results.c: 'y' != 'x'",
    ]
    assert differences({"a": {}}, committed) == ["results: keys ['a'] != ['a', 'c', 'd']"]


def test_lookup_follows_dotted_keys_and_list_indices() -> None:
    results = {"ewa": {"0.9": {"d": 0.0}}, "norms": {"relu": [1.5, 2.5]}, "a b": {"c": 1}}
    assert lookup(results, "ewa.0.9.d") == 0.0
    assert lookup(results, "norms.relu.1") == 2.5
    assert lookup(results, "a b.c") == 1
    with pytest.raises(KeyError, match="no key for 'missing'"):
        lookup(results, "missing")
