"""No module of the package imports one that imports it back (read with ast, nothing run)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lipmotion_tf"


def _modules(package: Path) -> dict[str, Path]:
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports anywhere in its file (in functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # submodules
    return {module for module in found if module in modules and module != name}


def import_cycles(package: Path = PACKAGE) -> list[list[str]]:
    """Every group of modules that import one another in a circle (Tarjan's components)."""
    modules = _modules(package)
    graph = {name: sorted(_imports(name, path, modules)) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(start: str) -> None:
        # Iterative depth-first search: (node, position in its edge list).
        work = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, position = work[-1]
            edges = graph[node]
            if position < len(edges):
                work[-1] = (node, position + 1)
                target = edges[position]
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    work.append((target, 0))
                elif target in stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_no_module_imports_one_that_imports_it_back():
    assert import_cycles() == []


def test_the_check_finds_a_circle(tmp_path):
    package = tmp_path / "lipmotion_tf"
    (package / "train").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "train" / "__init__.py").write_text("")
    (package / "train" / "a.py").write_text("from lipmotion_tf.train.b import f\n")
    (package / "train" / "b.py").write_text("def f():\n    from . import a\n")
    assert import_cycles(package) == [["lipmotion_tf.train.a", "lipmotion_tf.train.b"]]
