"""Fuzzing the loaders with damaged copies of valid files (issue: files from strangers).

Every mutated checkpoint or graph file must either load correctly or be refused with
the loader's own error naming the file; never another exception type, never more than
a small multiple of the file's size in memory, and a refused checkpoint never changes
the model or the optimiser.
"""

from __future__ import annotations

import copy
import json
import tracemalloc
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphdl as gd
from graphdl import io as checkpoints
from graphdl.graph_io import GraphFormatError, graph_to_dict, load_graph, save_graph
from graphdl.optim import Adam

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Memory a load may use: this many times the file's size, plus a fixed allowance for
#: the interpreter's own bookkeeping (imports are done before measuring).
MEMORY_FACTOR = 16
MEMORY_ALLOWANCE = 64 << 10


def _model():
    w = [gd.Variable(0.1 * (k + 1), name=f"w{k}") for k in range(3)]
    batch = gd.Variable(np.array([0.5, -0.5]), name="batch")
    return w, batch


def _snapshot(params, optimizer):
    values = [np.array(p.value, copy=True) for p in params]
    return values, json.dumps(optimizer.state_dict(), sort_keys=True)


def _same(before, params, optimizer):
    values, state = before
    return all(np.array_equal(v, np.asarray(p.value)) for v, p in zip(values, params)) and state == json.dumps(
        optimizer.state_dict(), sort_keys=True
    )


# ------------------------------------------------------------------ mutations
def _truncate(data: bytes, draw) -> bytes:
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def _flip(data: bytes, draw) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(buffer) - 1))
        buffer[position] ^= draw(st.integers(1, 255))
    return bytes(buffer)


ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        "false",
        "nan",
        float("nan"),
        float("inf"),
        -1,
        0,
        7,
        0.7,
        -1000.0,
        10**400,
        [],
        [1],
        [[1.0]],
        {},
        {"a": 1},
        "",
        "\ud800",
        "x" * 300,
    ]
)


def _paths(document):
    """Every (container, key) position in a JSON document."""
    stack = [document]
    found = []
    while stack:
        node = stack.pop()
        keys = list(node.keys()) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            found.append((node, key))
            stack.append(node[key])
    return found


def _mutate_json(document, draw):
    """A random type swap, deletion or insertion somewhere in ``document``."""
    document = copy.deepcopy(document)
    positions = _paths(document)
    container, key = draw(st.sampled_from(positions))
    action = draw(st.sampled_from(["swap", "swap", "delete", "insert"]))
    if action == "swap":
        container[key] = draw(ODD_VALUES)
    elif action == "delete":
        del container[key]
    elif isinstance(container, dict):
        container[draw(st.sampled_from(["extra", "parents", "value", "options", "trainable"]))] = draw(ODD_VALUES)
    else:
        container.insert(key, draw(ODD_VALUES))
    return document


def _dump(document) -> bytes:
    return json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")


def _repack_npz(data: bytes, draw) -> bytes:
    """Rewrite one .npy header of the archive (shape, dtype or version swapped)."""
    source = zipfile.ZipFile(BytesIO(data))
    names = source.namelist()
    victim = draw(st.sampled_from(names))
    replacement = draw(
        st.sampled_from(
            [
                (b"'shape': (", b"'shape': (1000000000000, "),
                (b"'descr': '<f8'", b"'descr': '|O'"),
                (b"'descr': '<f8'", b"'descr': '<i8'"),
                (b"'descr': '<U", b"'descr': '<f8', 'x': '<U"),
                (b"'fortran_order': False", b"'fortran_order': True"),
                (b"\x93NUMPY\x01\x00", b"\x93NUMPY\x03\x00"),
                (b"'shape': (", b"'shape': (2, "),
            ]
        )
    )
    out = BytesIO()
    with zipfile.ZipFile(out, "w", compression=draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))) as zw:
        for name in names:
            payload = source.read(name)
            if name == victim:
                payload = payload.replace(*replacement)
            zw.writestr(name, payload)
    return out.getvalue()


# ---------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def valid_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    w, batch = _model()
    optimizer = Adam(w, lr=0.01)
    files = {}
    for suffix in (".json", ".npz"):
        files[suffix] = checkpoints.save(folder / f"model{suffix}", w, optimizer).read_bytes()
    files["batch.npz"] = checkpoints.save(folder / "batch.npz", [*w, batch]).read_bytes()
    return files


def _load_checkpoint(path: Path, with_batch: bool):
    w, batch = _model()
    params = [*w, batch] if with_batch else w
    optimizer = Adam(w, lr=0.01)
    before = _snapshot(params, optimizer)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        checkpoints.load(path, params, None if with_batch else optimizer)
    except checkpoints.CheckpointError as error:
        peak = tracemalloc.get_traced_memory()[1]
        assert str(error).startswith(str(path)), error
        assert _same(before, params, optimizer), f"refused ({error}) but the model changed"
    else:
        peak = tracemalloc.get_traced_memory()[1]
        stored = checkpoints.read(path)["parameters"]
        for param in params:
            assert np.array_equal(np.asarray(param.value), np.asarray(stored[param.name]))
        # what was loaded is what the constructor accepts
        hyper = {name: getattr(optimizer, name) for name in optimizer.hyperparameters}
        Adam(w, lr=optimizer.lr, weight_decay=optimizer.weight_decay, **hyper)
        assert isinstance(optimizer.step_count, int) and 0 <= optimizer.step_count <= 2**53
        assert np.isfinite(optimizer.state["m"]).all() and (optimizer.state["v"] >= 0).all()
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_FACTOR * size + MEMORY_ALLOWANCE, f"{peak} bytes for a {size}-byte file"


@FUZZ
@given(data=st.data(), kind=st.sampled_from([".json", ".npz", "batch.npz"]), how=st.sampled_from(["cut", "flip"]))
def test_damaged_checkpoint_bytes_load_or_are_refused_naming_the_file(valid_checkpoints, tmp_path, data, kind, how):
    original = valid_checkpoints[kind]
    damaged = (_truncate if how == "cut" else _flip)(original, data.draw)
    path = tmp_path / f"fuzzed{kind[-5:] if kind != '.json' else kind}"
    path.write_bytes(damaged)
    _load_checkpoint(path, kind == "batch.npz")


@FUZZ
@given(data=st.data())
def test_mutated_json_checkpoints_load_or_are_refused_naming_the_file(valid_checkpoints, tmp_path, data):
    document = json.loads(valid_checkpoints[".json"])
    path = tmp_path / "mutated.json"
    path.write_bytes(_dump(_mutate_json(document, data.draw)))
    _load_checkpoint(path, False)


@FUZZ
@given(data=st.data(), kind=st.sampled_from([".npz", "batch.npz"]))
def test_npz_with_swapped_headers_load_or_are_refused_naming_the_file(valid_checkpoints, tmp_path, data, kind):
    path = tmp_path / "swapped.npz"
    path.write_bytes(_repack_npz(valid_checkpoints[kind], data.draw))
    _load_checkpoint(path, kind == "batch.npz")


# --------------------------------------------------------------------- graphs
@pytest.fixture(scope="module")
def valid_graph(tmp_path_factory):
    x = gd.Variable(0.3, name="x", trainable=False)
    label = gd.Variable(1.0, name="label", trainable=False)
    w = gd.Variable(0.5, name="w")
    hidden = gd.LeakyRelu([x * w + 0.1], negative_slope=0.2, name="act")
    loss = gd.LogLoss([label, gd.Sigmoid([hidden])], eps=1e-9, name="loss")
    path = save_graph(tmp_path_factory.mktemp("graph") / "graph.json", loss)
    return path.read_bytes()


def _load_graph_file(path: Path) -> None:
    size = path.stat().st_size
    graph = None
    tracemalloc.start()
    try:
        graph = load_graph(path)
    except GraphFormatError as error:
        assert str(error).startswith(str(path)), error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= MEMORY_FACTOR * size + MEMORY_ALLOWANCE, f"{peak} bytes for a {size}-byte file"
    if graph is not None:  # a correct load: a graph that saves again and reloads to the same document
        again = save_graph(path.with_name("again.json"), *graph.outputs)
        assert json.loads(again.read_text()) == graph_to_dict(*load_graph(again).outputs)


@FUZZ
@given(data=st.data(), how=st.sampled_from(["cut", "flip"]))
def test_damaged_graph_bytes_load_or_are_refused_naming_the_file(valid_graph, tmp_path, data, how):
    path = tmp_path / "fuzzed.json"
    path.write_bytes((_truncate if how == "cut" else _flip)(valid_graph, data.draw))
    _load_graph_file(path)


@FUZZ
@given(data=st.data())
def test_mutated_graph_documents_load_or_are_refused_naming_the_file(valid_graph, tmp_path, data):
    path = tmp_path / "mutated.json"
    document = json.loads(valid_graph)
    for _ in range(data.draw(st.integers(1, 3))):
        document = _mutate_json(document, data.draw)
    path.write_bytes(_dump(document))
    _load_graph_file(path)
