"""No text from a node becomes code: node names (and options) reach the compiled source
only as sanitised identifiers or as repr() of a plain string, and every name the
generated code uses for itself is reserved."""

from __future__ import annotations

import ast
import builtins
import json

import numpy as np
import pytest

import graphdl as gd
from graphdl import LeakyRelu, Mul, ValueLoss, Variable
from graphdl.compiler.ir import RESERVED, Names
from graphdl.compiler.symbolic import CALLABLE

CANARY = "graphdl_test_canary"

#: Names that end a comment, a string or a docstring, or that the generated code uses.
HOSTILE = [
    f"x\n__import__('builtins').{CANARY} = 1",
    f"x\r__import__('builtins').{CANARY} = 2",
    f'w"""\n__import__("builtins").{CANARY} = 3\n"""',
    f"b'''\n__import__('builtins').{CANARY} = 4\n'''",
    f"m\u2028__import__('builtins').{CANARY} = 5",
    f"m\u2029\x85\x0c\x0b__import__('builtins').{CANARY} = 6",
    "a\\",
    "# comment",
    "lr",
    "losses",
    "fallback",
    "zip",
    "range",
    "len",
    "float",
    "np",
    "seed",
    "exp",
    "where",
    "batch_sum",
    "inf",
    "nan",
    "forward",
    "backward",
    "sgd",
    "check",
    "__builtins__",
    "__import__",
    "class",
    "match",
    "1st",
    "ünïcode",
    "",  # replaced by a valid name below
]
HOSTILE = [name or "_" for name in HOSTILE]


class _EvilStr(str):
    """A name whose own repr/str would inject code if anything called them."""

    def __repr__(self) -> str:
        return f"'ok'\n__import__('builtins').{CANARY} = 7\n"

    def __str__(self) -> str:
        return self.__repr__()


def _canary_untouched() -> bool:
    return not hasattr(builtins, CANARY)


def _hostile_net(names: list[str]) -> tuple:
    """The seed's 1-2-1 LeakyReLU net with the given names on every node."""
    it = iter(names * 3)
    x = Variable(name=next(it), trainable=False)
    label = Variable(name=next(it), trainable=False)
    weights = [Variable(v, name=next(it)) for v in (0.3, -0.4, 0.5, 0.7, 0.2, -0.1, 0.05)]
    w11, w12, b11, b12, w21, w22, b21 = weights
    h1 = LeakyRelu([gd.Add([Mul([x, w11], name=next(it)), b11], name=next(it))], name=next(it))
    h2 = LeakyRelu([gd.Add([Mul([x, w12], name=next(it)), b12], name=next(it))], name=next(it))
    out = gd.Add([Mul([h1, w21], name=next(it)), Mul([h2, w22], name=next(it)), b21], name=next(it))
    loss = ValueLoss([label, out], name=next(it))
    return x, label, weights, loss


def _interpreter_sgd(loss, x, label, xs, ys, params, lr: float) -> list[float]:
    """The per-sample SGD loop the compiled ``sgd`` must match, run by the interpreter: the
    loss of each sample before its step."""
    losses = []
    for x_value, y_value in zip(xs, ys):
        x.set_value(float(x_value))
        label.set_value(float(y_value))
        loss.backward()
        losses.append(loss.value)
        for p in params:
            p.update(lr)
    return losses


def _assert_safe_source(source: str) -> None:
    """The program parses to function definitions only, every call is a primitive or a
    helper, and no node text survives outside comments except as identifiers."""
    tree = ast.parse(source)
    assert all(isinstance(statement, ast.FunctionDef) for statement in tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = node.func
            if isinstance(called, ast.Attribute):
                assert called.attr == "append" and called.value.id == "losses"
            else:
                assert called.id in {*CALLABLE, "zip", "fallback"}, called.id
        assert not isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value.startswith(("The value of the target", "The target", "Per-sample SGD")), node.value
    for line in source.splitlines():
        assert "__import__(" not in line.split("#", 1)[0]  # the payloads survive only as identifiers


@pytest.mark.parametrize("rotation", [0, 7, 19])
def test_hostile_names_compile_to_the_interpreters_numbers(rotation) -> None:
    names = HOSTILE[rotation:] + HOSTILE[:rotation]
    x, label, weights, loss = _hostile_net(names)
    compiled = gd.compile(loss, inputs=[x, label])
    _assert_safe_source(compiled.source)
    xs, ys = np.linspace(0.0, 2.0, 7), np.linspace(0.0, 2.0, 7) ** 2
    # batch gradient: compiled == interpreted
    mean = compiled.backward({x: xs, label: ys})
    grads = [w.grad for w in weights]
    x.set_value(xs)
    label.set_value(ys)
    loss.backward()
    assert mean == pytest.approx(float(np.mean(loss.value)), abs=1e-12)
    assert grads == pytest.approx([w.grad for w in weights], abs=1e-12)
    # per-sample SGD loop == the interpreter's loop
    start = [w.value for w in weights]
    losses = compiled.sgd({x: xs, label: ys}, lr=0.05)
    _assert_safe_source(compiled.sgd_source)
    trained = [w.value for w in weights]
    for w, value in zip(weights, start):
        w.set_value(value)
    expected = _interpreter_sgd(loss, x, label, xs, ys, weights, 0.05)
    assert losses.tolist() == pytest.approx(expected, abs=1e-12)
    assert trained == pytest.approx([w.value for w in weights], abs=1e-12)
    assert _canary_untouched()


def test_every_name_the_program_uses_for_itself_is_reserved() -> None:
    """A node named like any helper, loop variable or builtin of the generated code is
    renamed, and so is an input called ``<input>_column`` next to the input itself."""
    x = Variable(name="x", trainable=False)
    column = Variable(name="x_column", trainable=False)
    w = Variable(0.5, name="lr")
    b = Variable(0.1, name="fallback")
    z = Variable(0.2, name="zip")
    loss = gd.SquaredLoss([column, Mul([x, w], name="losses") + b + z])
    compiled = gd.compile(loss, inputs=[x, column])
    source = compiled.source
    for name in ("lr", "fallback", "zip", "losses", "x_column"):
        assert f"{name} =" not in source and f"({name}," not in source
    xs, ys = np.array([0.5, 1.0, 1.5]), np.array([0.2, 0.4, 0.9])
    losses = compiled.sgd({x: xs, column: ys}, lr=0.1)
    _assert_safe_source(compiled.sgd_source)
    after = [w.value, b.value, z.value]
    w.set_value(0.5), b.set_value(0.1), z.set_value(0.2)
    expected = _interpreter_sgd(loss, x, column, xs, ys, (w, b, z), 0.1)
    assert losses.tolist() == pytest.approx(expected, abs=1e-12)
    assert after == pytest.approx([w.value, b.value, z.value], abs=1e-12)
    assert {"lr", "losses", "fallback", "zip", "range", "len", "float", "np", "seed"} <= RESERVED


def test_identifiers_are_ascii_and_never_reserved() -> None:
    names = Names()
    claimed = [names.claim(text) for text in [*HOSTILE, *sorted(RESERVED)[:50], "lr", "lr"]]
    assert len(set(claimed)) == len(claimed)
    for identifier in claimed:
        assert identifier.isidentifier() and identifier.isascii()
        assert identifier not in RESERVED and not identifier.startswith("_")


def test_a_str_subclass_name_is_written_as_plain_text() -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(2.0, name=_EvilStr("w"))
    loss = Mul([x, w], name=_EvilStr("loss"))
    assert type(w.name) is str  # stored as a plain str
    w.name = _EvilStr("w")  # even when set afterwards
    loss.name = _EvilStr("loss")
    compiled = gd.compile(loss, inputs=[x])
    _assert_safe_source(compiled.source)
    assert compiled.backward({x: 3.0}) == 6.0 and w.grad == 3.0
    assert _canary_untouched()


def test_hostile_options_never_reach_the_source() -> None:
    x = Variable(name="x", trainable=False)
    act = LeakyRelu([x], negative_slope=0.25)
    act.negative_slope = _EvilStr("0.1")  # tampered after construction
    with pytest.raises(TypeError, match="symbolic value"):
        gd.compile(act, inputs=[x])
    assert _canary_untouched()


def test_a_downloaded_graph_file_with_hostile_names_trains_without_running_code(tmp_path) -> None:
    """graph_io.load_graph + Trainer (which compiles on its own) on a file whose node names
    are code: the names stay names, training equals the interpreter's."""
    x, label, weights, loss = _hostile_net(HOSTILE)
    document = gd.graph_io.graph_to_dict(loss)
    path = tmp_path / "downloaded.json"
    path.write_text(json.dumps(document))
    rng = np.random.default_rng(0)
    features = rng.uniform(0.0, 2.0, size=(32, 1))
    targets = features[:, 0] ** 2
    results = []
    for compile_mode in ("auto", False):
        graph = gd.graph_io.load_graph(path)
        inputs = graph.inputs()
        model = gd.nn.Model(inputs=[inputs[0]], outputs=[graph.outputs[0].parents[1]])
        trainer = gd.train.Trainer(
            model,
            gd.optim.SGD(model.parameters(), lr=0.05),
            loss=graph.outputs[0],
            labels=[inputs[1]],
            compile=compile_mode,
            progress=False,
        )
        history = trainer.fit((features, targets), epochs=2, batch_size=8, shuffle=False)
        if compile_mode == "auto":
            assert trainer._compiled is not None  # noqa: SLF001 - the compiled path really ran
            _assert_safe_source(trainer._compiled.source)  # noqa: SLF001
        results.append(([p.value for p in model.parameters()], history.train_loss))
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-12)
    assert results[0][1] == pytest.approx(results[1][1], abs=1e-12)
    assert _canary_untouched()
