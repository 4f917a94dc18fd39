"""The shape of `sereno.verify`'s imports: no module depends on itself, however indirectly.

Every import counts, those under `if TYPE_CHECKING:` and inside functions too: a cycle hidden
from the interpreter is still a cycle for the reader and for the type checker.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sereno.verify

PACKAGE = "sereno.verify"
ROOT = Path(sereno.verify.__file__).parent


def verify_imports(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of the package in `root` (by short name) → the modules of the package it
    imports (the package being `sereno.verify`)."""
    modules = {path.stem: path for path in root.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path.name}:{node.lineno}: relative import (use {PACKAGE}.…)")
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module]
                if node.module == PACKAGE:  # from sereno.verify import ports
                    found = [f"{PACKAGE}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                continue
            for module in found:
                if module.startswith(f"{PACKAGE}."):
                    targets.add(module.removeprefix(f"{PACKAGE}.").split(".")[0])
        graph[name] = targets & modules.keys()
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None when it is acyclic."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_graph_counts_type_checking_and_function_level_imports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from sereno.verify.b import B\n"
        "def f():\n    import sereno.verify.c\n"
    )
    (tmp_path / "b.py").write_text("from sereno.verify import c, a\nimport sereno.verify.clock\n")
    (tmp_path / "c.py").write_text("import json\n")
    assert verify_imports(tmp_path) == {"a": {"b", "c"}, "b": {"a", "c"}, "c": set()}
    assert find_cycle(verify_imports(tmp_path)) == ["a", "b", "a"]


def test_the_real_graph_is_read() -> None:
    graph = verify_imports()
    assert {"model", "incidents"} <= graph["ports"] and "ports" in graph["desk"]


def test_verify_has_no_import_cycle() -> None:
    cycle = find_cycle(verify_imports())
    assert cycle is None, "import cycle in sereno.verify: " + " → ".join(cycle or [])


def test_the_desk_imports_neither_the_publisher_nor_training() -> None:
    """The desk calls its decision hooks; the composition root wires them to those services."""
    assert not {"publishing", "training"} & verify_imports()["desk"]


def defined_names(path: Path) -> set[str]:
    """The names a module defines at its top level (classes, functions, assignments), not
    those it imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_names_of_verify_are_imported_from_the_module_that_defines_them() -> None:
    """One way to reach each record: `from sereno.verify.roster import Role` would work only
    because roster imports it from `sereno.verify.members`."""
    project = Path(__file__).resolve().parents[2]
    defined = {path.stem: defined_names(path) for path in ROOT.glob("*.py")}
    wrong = []
    for folder in ("sereno", "tests", "bench"):
        for path in sorted((project / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}."):
                    module = (node.module or "").removeprefix(f"{PACKAGE}.")
                    wrong += [
                        f"{path.relative_to(project)}:{node.lineno}: {alias.name} from {module}"
                        for alias in node.names
                        if module in defined and alias.name not in defined[module]
                    ]
    assert not wrong, "imported from a module that does not define them:\n" + "\n".join(wrong)
