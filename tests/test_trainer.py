import gc
import io as stdio
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import graphdl
from graphdl import Log, SquaredLoss, Variable, datasets, nn, optim
from graphdl import io as checkpoints
from graphdl.train import TextBar, Trainer, TrainingDiverged

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def moons():
    X, y = datasets.make_moons(1000, noise=0.1, seed=0)
    return datasets.train_dev_test_split(X, y, (640, 160, 200), seed=0)


def moons_trainer(**options):
    model = nn.MLP(2, [8, 8, 1], activation="tanh", rng=0)
    trainer = Trainer(
        model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False, **options
    )
    return model, trainer


def test_learns_moons_to_95_percent(moons, tmp_path):
    train, dev, test = moons
    model, trainer = moons_trainer()
    history = trainer.fit(train, dev, epochs=20, batch_size=32, seed=0, checkpoint=tmp_path / "best.npz")
    assert trainer.evaluate(test)["accuracy"] >= 0.95
    assert len(history.train_loss) == len(history.dev_metric) == len(history.train_metric) == 20
    assert len(history.step_loss) == 20 * 20  # 640 samples / 32 per batch
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.best_value == max(history.dev_metric)
    assert history.dev_metric[history.best_epoch - 1] == history.best_value
    saved = checkpoints.read(tmp_path / "best.npz")
    assert saved["metadata"]["epoch"] == history.best_epoch
    assert set(saved["parameters"]) == set(model.named_parameters())


def test_restore_best_loads_the_best_checkpoint(moons, tmp_path):
    train, dev, _ = moons
    model, trainer = moons_trainer()
    history = trainer.fit(
        train, dev, epochs=6, checkpoint=tmp_path / "best.json", restore_best=True, monitor="dev_loss"
    )
    assert history.best_value == min(history.dev_loss)
    assert trainer.evaluate(dev)["loss"] == pytest.approx(history.best_value, abs=1e-12)
    saved = checkpoints.read(tmp_path / "best.json")["parameters"]
    assert all(saved[name] == p.value for name, p in model.named_parameters().items())


def test_predict_evaluate_and_shapes(moons):
    train, dev, _ = moons
    model, trainer = moons_trainer()
    trainer.fit(train, epochs=2)
    outputs = trainer.predict(dev[0])
    assert outputs.shape == (160,)
    assert (trainer.predict_classes(dev[0]) == (outputs >= 0.0)).all()  # logits: threshold 0
    result = trainer.evaluate(dev)
    assert set(result) == {"loss", "accuracy"}
    assert result["accuracy"] == np.mean((outputs >= 0) == dev[1])
    with pytest.raises(ValueError, match="shape \\(N, 2\\)"):
        trainer.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="X has 640 samples but y has 3"):
        trainer.fit((train[0], train[1][:3]), epochs=1)


def test_multiclass_iris_with_cross_entropy():
    X, y = datasets.iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    train, dev, test = datasets.train_dev_test_split(X, y, (90, 30, 30), seed=1)
    model = nn.MLP(4, [8, 3], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="cross_entropy", metric="accuracy", progress=False)
    trainer.fit(train, dev, epochs=40, batch_size=16)
    assert trainer.predict(test[0]).shape == (30, 3)
    assert trainer.evaluate(test)["accuracy"] >= 0.9


def test_nan_loss_stops_with_the_step_and_the_node():
    x, label, w = Variable(name="x", trainable=False), Variable(name="label", trainable=False), Variable(1.0, name="w")
    log = Log([x * w], name="log_xw")
    model = nn.Model([x], [log])
    trainer = Trainer(model, optim.SGD(model, lr=0.1), loss=SquaredLoss([label, log]), labels=[label], progress=False)
    X = np.array([1.0, 2.0, -1.0, 3.0])  # the third sample takes log of a negative number
    message = "step 2: the loss .* is nan; first non-finite value at Log 'log_xw'"
    with pytest.raises(TrainingDiverged, match=message) as info:
        trainer.fit((X, np.zeros(4)), epochs=1, batch_size=1, shuffle=False)
    assert info.value.step == 2 and info.value.node == "log_xw"
    assert gc.isenabled()


def test_exploding_training_stops_cleanly(moons):
    train, _, _ = moons
    model = nn.MLP(2, [4, 1], activation="relu", rng=0)
    trainer = Trainer(model, optim.SGD(model, lr=1e200), loss="mse", progress=False)
    with pytest.raises(TrainingDiverged, match="training stopped at epoch 1, step \\d+") as info:  # epochs count from 1
        trainer.fit(train, epochs=3, batch_size=64)
    assert info.value.step >= 0
    assert all(np.isfinite(p.value) for p in model.parameters())  # no half-applied step


def test_callbacks_plain_and_object(moons):
    train, dev, _ = moons
    model, trainer = moons_trainer()
    steps = []

    class Recorder:
        def __init__(self):
            self.epochs, self.started, self.ended = [], 0, 0

        def on_fit_start(self, trainer):
            self.started += 1

        def on_epoch(self, trainer, epoch, logs):
            self.epochs.append((epoch, logs["dev_accuracy"]))
            if epoch == 2:
                trainer.stop_training = True

        def on_fit_end(self, trainer, history):
            self.ended += 1

    recorder = Recorder()
    callbacks = [lambda s, loss: steps.append((s, loss)), recorder]
    history = trainer.fit(train, dev, epochs=5, batch_size=128, callbacks=callbacks)
    assert [s for s, _ in steps] == list(range(10))  # 2 epochs of 5 steps, then stopped
    assert [loss for _, loss in steps] == history.step_loss
    assert [e for e, _ in recorder.epochs] == [1, 2] and recorder.started == recorder.ended == 1
    with pytest.raises(TypeError, match="callback"):
        trainer.fit(train, epochs=1, callbacks=[42])


def test_dropout_masks_change_in_training_and_vanish_in_evaluation(moons):
    train, dev, _ = moons
    model = nn.MLP(2, [16, 1], activation="relu", dropout=0.5, rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.01), loss="bce_logits", metric="accuracy", progress=False)
    masks = []
    mask = model.layers[1].masks[0]
    trainer.fit(train, epochs=1, batch_size=64, callbacks=[lambda s, loss: masks.append(mask.value)])
    assert all(set(np.unique(m).tolist()) <= {0.0, 2.0} for m in masks)
    assert not all((m == masks[0]).all() for m in masks[1:])
    first, second = trainer.predict(dev[0]), trainer.predict(dev[0])
    assert (first == second).all()
    assert model.layers[1].masks[0].value == 1.0


def test_compiled_graph_is_used_when_available(moons, monkeypatch):
    """A stand-in for graphdl.compile (same contract, run by the interpreter)."""
    calls = []

    class FakeCompiled:
        def __init__(self, target, inputs, backend="numpy"):
            assert backend == "auto"  # the Trainer asks for the fastest backend
            self.target, self.inputs = target, inputs

        def backward(self, feed):
            calls.append(sorted(v.name for v in feed))
            for var, value in feed.items():
                var.set_value(value)
            self.target.backward()
            return float(np.mean(self.target.value))

    train, dev, _ = moons
    _, reference = moons_trainer(compile=False)
    expected = reference.fit(train, dev, epochs=2)
    monkeypatch.setattr(graphdl.compiler.compiled, "compile", FakeCompiled)  # what the Trainer calls
    _, trainer = moons_trainer()
    history = trainer.fit(train, dev, epochs=2)
    assert len(calls) == 40 and calls[0] == ["label", "x[0]", "x[1]"]
    assert history.step_loss == expected.step_loss and history.dev_metric == expected.dev_metric


def test_text_progress_bar():
    stream = stdio.StringIO()
    bar = TextBar(4, stream=stream, width=8)
    bar.update({"loss": 0.5})
    bar.close()  # stopped early: the line shows where
    assert stream.getvalue().startswith("\repoch [##......] 1/4  25%  loss=0.5  ")
    assert stream.getvalue().endswith("s\n")


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train_moons.py"])
    runpy.run_path(str(ROOT / "examples" / "train_moons.py"), run_name="__main__")
    out = capsys.readouterr().out
    accuracy = float(out.split("'accuracy': ")[1].split("}")[0])
    assert accuracy >= 0.95 and (tmp_path / "best_moons.npz").exists()


def test_gradients_are_stored_at_each_step_only_for_an_on_step_hook(moons, monkeypatch):
    """Storing every parameter's .grad is a loop over the parameters; with no on_step hook
    nothing reads them between steps, so the compiled steps leave it to the end of the epoch."""
    train, dev, _ = moons
    stores = []
    store = graphdl.core.node.Node.store_gradients
    monkeypatch.setattr(graphdl.core.node.Node, "store_gradients", lambda *a: stores.append(1) or store(*a))

    def fit(each_step: bool):
        stores.clear()
        model, trainer = moons_trainer()
        at_epochs, at_steps = [], []

        class Epochs:
            def on_epoch(self, trainer, epoch, logs):
                at_epochs.append([p.grad for p in model.parameters()])

        def step(s, loss):
            at_steps.append([p.grad for p in model.parameters()])

        trainer.fit(train, dev, epochs=2, batch_size=128, callbacks=[Epochs(), *([step] if each_step else [])])
        return model, at_epochs, at_steps, [p.grad for p in model.parameters()], len(stores)

    model, at_epochs, at_steps, at_end, stored = fit(each_step=True)
    assert len(at_steps) == stored == 10 and at_steps[0] != at_steps[1] and None not in at_steps[0]
    lazy_model, lazy_at_epochs, _, lazy_at_end, lazy_stored = fit(each_step=False)
    assert lazy_stored == 2  # once an epoch
    assert lazy_at_epochs == at_epochs and lazy_at_end == at_end
    assert [p.value for p in lazy_model.parameters()] == [p.value for p in model.parameters()]
