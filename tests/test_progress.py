"""One progress bar for the Trainer, sweeps and the demo: redrawn in place on a terminal,
a single final line in a log (a file or a pipe), epochs and runs counted from 1."""

from __future__ import annotations

import io

from graphdl import datasets, nn, optim
from graphdl.train import Trainer
from graphdl.train.progress import ProgressBar, TextBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_only_the_final_line() -> None:
    log = io.StringIO()
    bar = TextBar(30, stream=log, unit="epoch")
    for epoch in range(30):
        bar.update({"loss": 1.0 / (epoch + 1)})
    bar.close()
    text = log.getvalue()
    assert text.count("\r") == 1 and text.count("\n") == 1
    assert "epoch [" in text and "30/30 100%  loss=0.03333" in text


def test_a_terminal_sees_the_bar_move_once_per_percent_from_0_to_100() -> None:
    terminal = Terminal()
    bar = ProgressBar(1000, label="training", stream=terminal)
    for done in range(1, 1001):
        if bar.due(done):
            bar.update(done, "x")
    assert terminal.getvalue().count("\r") == 101 and terminal.getvalue().endswith("s\n")


def test_the_trainer_counts_epochs_from_1_in_its_bar_history_and_callbacks(capsys) -> None:
    X, y = datasets.make_moons(120, noise=0.1, seed=0)
    model = nn.MLP(2, [4, 1], activation="tanh", rng=0)
    seen = []

    class Epochs:
        def on_epoch(self, trainer, epoch, logs):
            seen.append((epoch, logs["epoch"]))

    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy")
    history = trainer.fit((X, y), (X, y), epochs=3, batch_size=40, callbacks=[Epochs()])
    shown = capsys.readouterr().err
    assert shown.count("\r") == 1 and "epoch [" in shown and "3/3 100%" in shown  # one line in a log
    assert history.epochs == [1, 2, 3] and seen == [(1, 1), (2, 2), (3, 3)]
    assert 1 <= history.best_epoch <= 3
    assert history.dev_metric[history.best_epoch - 1] == history.best_value


def test_the_sweep_and_the_demo_use_the_same_bar() -> None:
    from graphdl import demo

    assert demo.ProgressBar is ProgressBar
