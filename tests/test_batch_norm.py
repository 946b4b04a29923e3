"""nn.BatchNorm: against PyTorch's BatchNorm1d (training mode with gradients, running
statistics, evaluation mode), names, the Trainer's mode switch, compiled training, drawing."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl import nn, optim
from graphdl.train import Trainer

GAMMA = [1.0, 1.3, 0.7]
BETA = [0.0, -0.2, 0.5]


def _layer(batch: np.ndarray, **options):
    n = batch.shape[1]
    xs = [gd.Variable(np.ascontiguousarray(batch[:, j]), name=f"x[{j}]", trainable=False) for j in range(n)]
    layer = nn.BatchNorm(n, name="bn1", **options)
    for j in range(n):
        layer.gamma[j].set_value(GAMMA[j])
        layer.beta[j].set_value(BETA[j])
    return xs, layer, layer(xs)


def _weighted_sum(outputs, weights: np.ndarray):
    """Σ_j y_j · G[:, j] per sample: its batch mean is what graphdl differentiates."""
    columns = [gd.Variable(np.ascontiguousarray(weights[:, j]), trainable=False) for j in range(weights.shape[1])]
    return gd.Add([gd.Mul([y, g]) for y, g in zip(outputs, columns)])


def _batch(seed: int, size: int = 6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(size, 3)) * [1.0, 3.0, 0.2] + [0.0, 2.0, -1.0], rng.normal(size=(size, 3))


def test_names_and_parameters() -> None:
    _, layer, outputs = _layer(_batch(0)[0])
    assert [p.name for p in layer.parameters()] == [
        "bn1.gamma[0]", "bn1.gamma[1]", "bn1.gamma[2]", "bn1.beta[0]", "bn1.beta[1]", "bn1.beta[2]"
    ]  # fmt: skip
    assert [y.name for y in outputs] == ["bn1.y[0]", "bn1.y[1]", "bn1.y[2]"]
    assert layer.means[1].name == "bn1.mean[1]" and layer.variances[2].name == "bn1.var[2]"
    assert layer.running_var[0].name == "bn1.running_var[0]" and not layer.running_var[0].trainable
    assert [type(node).__name__ for node in layer.means] == ["BatchMean"] * 3


def test_batch_of_one_in_training_is_a_clear_error_and_fine_in_evaluation() -> None:
    xs, layer, outputs = _layer(np.array([[1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"BatchMean 'bn1.mean\[0\]': batch statistics need at least 2 samples"):
        outputs[0].forward()
    layer.eval()
    assert layer.use_batch.value == 0.0
    # running statistics 0 and 1: y = gamma · x / sqrt(1 + eps) + beta
    assert outputs[0].forward()[0] == pytest.approx(GAMMA[0] * 1.0 / np.sqrt(1 + 1e-5) + BETA[0], rel=1e-12)


def test_layer_gradients_pass_gradcheck() -> None:
    batch, weights = _batch(1)
    xs, layer, outputs = _layer(batch)
    sink = _weighted_sum(outputs, weights)
    assert gd.gradcheck(gd.Tanh([sink]), [*layer.parameters(), *xs]) < 1e-6


torch = pytest.importorskip("torch", reason="PyTorch is not installed: the BatchNorm1d comparison needs it")


def _torch_layer(momentum: float = 0.1):
    layer = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        layer.weight[:] = torch.tensor(GAMMA, dtype=torch.float64)
        layer.bias[:] = torch.tensor(BETA, dtype=torch.float64)
    return layer


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_mode_matches_torch_batchnorm1d_with_gradients(seed: int) -> None:
    batch, weights = _batch(seed, size=[5, 8, 2][seed])
    xs, layer, outputs = _layer(batch)
    sink = _weighted_sum(outputs, weights)
    sink.backward()
    grads_x = np.stack([x.get_grad(sink) for x in xs], axis=1)

    reference = _torch_layer()
    tx = torch.tensor(batch, requires_grad=True)
    ty = reference(tx)
    (ty * torch.tensor(weights)).sum().div(len(batch)).backward()  # the batch mean, as graphdl
    # PyTorch's float64 CPU kernel differs from the textbook formula by ~1e-7; graphdl is exact
    np.testing.assert_allclose(np.stack([y.value for y in outputs], axis=1), ty.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose([g.grad for g in layer.gamma], reference.weight.grad.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose([b.grad for b in layer.beta], reference.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads_x, tx.grad.numpy(), rtol=1e-5, atol=1e-8)

    layer.update_running(layer.batch_statistics())
    np.testing.assert_allclose([v.value for v in layer.running_mean], reference.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose([v.value for v in layer.running_var], reference.running_var.numpy(), rtol=1e-12)


def test_evaluation_mode_matches_torch_after_training_steps() -> None:
    xs, layer, outputs = _layer(_batch(3)[0], momentum=0.3)
    reference = _torch_layer(momentum=0.3)
    for seed in (4, 5, 6):
        batch = _batch(seed)[0]
        for j, x in enumerate(xs):
            x.set_value(np.ascontiguousarray(batch[:, j]))
        layer.update_running(layer.batch_statistics())
        reference(torch.tensor(batch))
    layer.eval()
    reference.eval()
    test = _batch(7, size=4)[0]
    for j, x in enumerate(xs):
        x.set_value(np.ascontiguousarray(test[:, j]))
    expected = reference(torch.tensor(test)).detach().numpy()
    np.testing.assert_allclose(np.stack([y.forward() for y in outputs], axis=1), expected, rtol=1e-6, atol=1e-9)


def _bn_model(seed: int = 0):
    xs = [gd.Variable(name=f"x[{i}]", trainable=False) for i in range(2)]
    hidden = nn.Dense(2, 4, None, "fc1", rng=seed)
    norm = nn.BatchNorm(4, name="bn1", activation="relu")
    head = nn.Dense(4, 1, None, "fc2", rng=seed + 1)
    outputs = head(norm(hidden(xs)))
    return nn.Model(xs, outputs, modules=[hidden, norm, head]), norm


def _moons():
    data = gd.datasets.make_moons(64, noise=0.1, seed=0)
    return data.X, data.y


@pytest.mark.parametrize("compile_mode", [False, "auto"])
def test_trainer_switches_modes_and_tracks_running_statistics(compile_mode) -> None:
    X, y = _moons()
    model, norm = _bn_model()
    trainer = Trainer(model, optim.SGD(model, lr=0.1), loss="bce_logits", metric="accuracy", compile=compile_mode)
    modes = []
    trainer.fit((X, y), epochs=2, batch_size=16, progress=False, callbacks=[_ModeProbe(norm, modes)])
    assert modes == [1.0] * 8  # every training step saw batch statistics
    assert norm.training and norm.use_batch.value == 1.0  # back to training after the evaluations
    # 8 steps moved the running mean from 0 towards the batch means of fc1.z[0]
    assert norm.running_mean[0].value != 0.0 and norm.running_var[0].value != 1.0
    single = trainer.predict(X[:1])  # evaluation mode: one sample works
    assert single.shape == (1,)
    assert norm.use_batch.value == 1.0


def test_compiled_and_interpreted_training_agree() -> None:
    X, y = _moons()
    results = []
    for compile_mode in (False, True):
        model, norm = _bn_model(seed=3)
        trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", compile=compile_mode)
        history = trainer.fit((X, y), epochs=2, batch_size=16, progress=False)
        results.append((history.step_loss, [p.value for p in model.parameters()], norm.running_var[2].value))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    # the biases before the normalisation have a zero gradient: their values (~1e-10) are rounding
    # noise Adam amplifies, and the compiled matrix products round in another order
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-8)
    assert results[0][2] == pytest.approx(results[1][2], rel=1e-10)


def test_trainer_refuses_a_training_batch_of_one() -> None:
    X, y = _moons()
    model, _ = _bn_model()
    trainer = Trainer(model, optim.SGD(model, lr=0.1), loss="bce_logits", progress=False)
    with pytest.raises(ValueError, match=r"BatchNorm 'bn1' needs at least 2 samples per training batch: 64 samples "):
        trainer.fit((X, y), epochs=1, batch_size=21)


class _ModeProbe:
    def __init__(self, norm, modes):
        self.norm, self.modes = norm, modes

    def on_step(self, trainer, step, loss):
        self.modes.append(self.norm.use_batch.value)


def test_renders_with_its_own_cluster_and_labels() -> None:
    from graphdl.viz import to_dot

    _, layer, outputs = _layer(_batch(0)[0])
    dot = to_dot(gd.Graph(*outputs))
    assert dot.count("subgraph cluster_") == 1 and 'label="bn1"' in dot  # every node of the layer in one box
    assert dot.count("mean over batch") == 6  # bn1.mean[j] and bn1.var[j], three units
    assert "bn1.gamma[2]" in dot


def test_records_and_animates_like_every_other_layer(tmp_path) -> None:
    """A 1-input net with BatchNorm trained by the Trainer, recorded over a grid and animated
    with the tutorial's panels (BatchNorm's outputs as the hidden units)."""
    from graphdl.viz import Animator, TrainingRecorder

    x = gd.Variable(name="x", trainable=False)
    fc1 = nn.Dense(1, 2, None, "fc1", rng=0)
    norm = nn.BatchNorm(2, name="bn1", activation="leaky_relu")
    fc2 = nn.Dense(2, 1, None, "fc2", rng=1)
    model = nn.Model([x], fc2(norm(fc1([x]))), modules=[fc1, norm, fc2])
    recorder = TrainingRecorder(x, model.outputs[0], np.linspace(-0.5, 2.5, 31), every=5)
    recorder.start()
    data = gd.datasets.quadratic(64, seed=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="mse", callbacks=[recorder], progress=False)
    trainer.fit((data.X, data.y), epochs=2, batch_size=16)
    recorder.finish()
    assert [snapshot.step for snapshot in recorder.snapshots] == [0, 5, 8]
    # each snapshot is one forward pass over the grid as a batch: the batch mean of the grid
    grid_z = recorder.series("fc1.z[0]")
    np.testing.assert_allclose(
        recorder.series("bn1.mean[0]"), np.broadcast_to(grid_z.mean(axis=1, keepdims=True), grid_z.shape)
    )
    animator = Animator(
        recorder,
        hidden=("bn1.a[0]", "bn1.a[1]"),
        weighted=("fc2.mul[0,0]", "fc2.mul[1,0]"),
        output="fc2.z[0]",
        kinks=(),
        graph_panel=True,
    )
    assert animator.frame_count == 3
    path = tmp_path / "bn_frame.png"
    animator.frame(2).savefig(path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_checkpoints_keep_the_running_statistics(tmp_path) -> None:
    """restore_best brings back the best epoch's running statistics with its parameters."""
    X, y = _moons()
    model, norm = _bn_model(seed=1)
    trainer = Trainer(model, optim.SGD(model, lr=0.2), loss="bce_logits", metric="accuracy", progress=False)
    best = {}

    class Remember:
        def on_epoch(self, trainer, epoch, logs):
            if trainer.history.best_epoch == epoch:
                best["running"] = [v.value for v in norm.buffers()]
                best["params"] = [p.value for p in model.parameters()]

    path = tmp_path / "best.json"
    history = trainer.fit(
        (X, y), (X, y), epochs=4, batch_size=16, checkpoint=path, restore_best=True, callbacks=[Remember()]
    )
    assert history.best_epoch is not None
    assert [v.value for v in norm.buffers()] == best["running"]
    assert [p.value for p in model.parameters()] == best["params"]
    assert "bn1.running_var[3]" in path.read_text(encoding="utf-8")


def test_saved_graph_loads_back_with_its_batch_statistics() -> None:
    from graphdl import graph_io

    batch, weights = _batch(2)
    _, _, outputs = _layer(batch)
    sink = _weighted_sum(outputs, weights)
    expected = sink.forward().copy()
    loaded = graph_io.graph_from_dict(graph_io.graph_to_dict(sink))
    copy = loaded.node(sink.name)
    np.testing.assert_array_equal(copy.forward(), expected)
    assert type(loaded.node("bn1.var[1]")).__name__ == "BatchMean"
