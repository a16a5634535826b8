"""The package's shape: no module over 500 lines, no function over 80, no import cycle.

Read with ``ast``, nothing imported. Imports under ``if TYPE_CHECKING:`` do not count (they
never run); imports inside functions do (a cycle that runs later is still a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_rangevideo

PACKAGE = Path(jupyter_rangevideo.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _runtime_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Every statement below ``body`` that may run, leaving out ``if TYPE_CHECKING:`` blocks."""
    found = []
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found += _runtime_statements(node.orelse)
            continue
        found.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            found += _runtime_statements(getattr(node, field, []))
    return found


def package_imports(package: Path) -> dict[str, set[str]]:
    """Each module of ``package`` (by its name in the package) and the package's modules it imports."""
    name = package.name
    modules = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, tree in modules.items():
        imported = set()
        for node in _runtime_statements(tree.body):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    imported.add(node.module.split(".")[0])
                else:
                    imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(name + "."):
                imported.add((node.module or "").split(".")[1])
            elif isinstance(node, ast.Import):
                imported.update(
                    alias.name.split(".")[1] for alias in node.names if alias.name.startswith(name + ".")
                )
        graph[module] = {other for other in imported if other in modules and other != module}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first repeated last), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        for other in sorted(graph[module]):
            if other in path:
                return path[path.index(other) :] + [other]
            if other not in done:
                cycle = visit(other, path + [other])
                if cycle:
                    return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    assert import_cycle(package_imports(PACKAGE)) is None


def test_the_cycle_check_finds_a_cycle_and_leaves_type_checking_imports_out(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def later():\n    from .c import x\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
    )
    assert import_cycle(package_imports(package)) is None
    (package / "c.py").write_text("import pkg.a\n")
    assert import_cycle(package_imports(package)) == ["a", "b", "c", "a"]


def test_no_module_is_over_500_lines():
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_over_80_lines():
    long = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
