"""The import graph matches docs/architecture.md: every module sits in a layer of
``graphdl._layers.LAYERS``, imports nothing from a layer above its own, and no imports go
round in a circle. Imports are read from the source with ``ast``, function-level and
``TYPE_CHECKING`` ones included, so an import hidden in a function still counts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from graphdl import _layers
from graphdl._layers import LAYERS, PACKAGE, layer_of

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / PACKAGE


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def imported_modules(name: str, path: Path) -> set[str]:
    """The graphdl modules ``name`` imports: ``from P import x`` counts as importing the
    module ``P.x`` when there is one, else ``P``; ``from graphdl import ...`` also counts as
    importing the package face ``graphdl`` (whatever it names, it reads as the face)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            targets = [target if target in MODULES else source for target in submodules]
            if source == PACKAGE:
                targets.append(PACKAGE)
        else:
            continue
        for target in targets:
            while target not in MODULES and "." in target:  # `import graphdl.viz.render.x` -> its module
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != name:
                found.add(target)
    return found


IMPORTS = {name: imported_modules(name, path) for name, path in MODULES.items()}


def describe(module: str) -> str:
    index = layer_of(module)
    return f"{module} (layer {'?' if index is None else f'{index + 1}. {LAYERS[index].name}'})"


def test_every_module_is_in_a_layer() -> None:
    missing = [name for name in MODULES if layer_of(name) is None]
    assert not missing, f"modules in no layer: {missing}; add them to LAYERS in graphdl/_layers.py"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        f"{describe(name)} imports {describe(target)}"
        for name, targets in IMPORTS.items()
        for target in sorted(targets)
        if (layer_of(target) or 0) > (layer_of(name) or 0)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_core_rows_are_in_order() -> None:
    """Within a layer, the table's finer rows are in order too: a row's modules import
    nothing listed in a later row."""
    for layer in LAYERS:
        row_of = {module: row for row, (modules, _) in enumerate(layer.details) for module in modules}
        for module, row in row_of.items():
            assert module in MODULES and layer_of(module) == LAYERS.index(layer), f"{module}: not in {layer.name}"
            later = sorted(t for t in IMPORTS[module] if row_of.get(t, -1) > row)
            assert not later, f"{module} imports {later}, listed after it in the {layer.name} rows"


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                circle = visit(target)
                if circle:
                    return circle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            circle = visit(module)
            if circle:
                return circle
    return None


def all_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each group of modules that import one another, found one by one:
    each circle found loses its last edge before the next search."""
    remaining = {module: set(targets) for module, targets in graph.items()}
    circles = []
    while (circle := find_circle(remaining)) is not None:
        circles.append(circle)
        remaining[circle[-2]].discard(circle[-1])
    return circles


def test_no_import_circles() -> None:
    circles = all_circles(IMPORTS)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(circle) for circle in circles)


def test_the_checks_catch_an_upward_import_and_a_circle() -> None:
    """The checks above are not vacuous: the import reader sees a function-level import,
    and the circle finder finds a circle."""
    assert "graphdl.viz.render" in IMPORTS[PACKAGE]  # imported inside _repr_svg_
    assert "graphdl.demo" in IMPORTS["graphdl.cli"]  # imported inside main()
    assert (layer_of("graphdl.viz.render") or 0) > (layer_of("graphdl.ops") or 0)
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None
    assert len(all_circles({"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"c"}})) == 2


def test_the_layer_table_in_the_docs_is_generated_from_the_list() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert _layers.with_table(text) == text, "run: python -m graphdl._layers --write"


def test_the_operator_sugar_works_after_any_import() -> None:
    """In a fresh interpreter, after ``from graphdl import Variable`` or after importing
    only the core's node module (both run in parallel)."""
    use = "\nprint((x + 1) * x - x / 2 + x**2, -x, x.relu().value, x.leaky_relu().value, x.exp().kind)"
    programs = [
        "from graphdl import Variable\nx = Variable(2.0)" + use,
        "import graphdl.core.node as node\nx = node.Variable(2.0)" + use,
    ]
    runs = [
        subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for program in programs
    ]
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert out.startswith("<Add ") and "<Neg " in out and out.endswith("2.0 2.0 Exp\n")


def test_the_core_registers_operators_by_kind() -> None:
    from graphdl.core.node import Operator, operator_classes
    from graphdl.nn import Dropout
    from graphdl.ops import Add, Loss

    class RegistryCheckTwice(Operator):
        def formula(self, F, x):
            return 2.0 * x

        def derivative(self, F, index, out, x):
            return 2.0

    classes = operator_classes()
    assert classes["Add"] is Add and classes["Dropout"] is Dropout
    assert classes["RegistryCheckTwice"] is RegistryCheckTwice
    assert Loss.kind not in classes  # a marker base computes nothing
