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


def package_modules(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by its dotted name in it ("" for the package itself)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def package_imports(package: Path) -> dict[str, set[str]]:
    """Each module of ``package`` and the package's modules it imports."""
    modules = package_modules(package)

    def known(dotted: list[str]) -> str:
        """The longest prefix of ``dotted`` that is a module (the rest names something in it)."""
        while dotted and ".".join(dotted) not in modules:
            dotted = dotted[:-1]
        return ".".join(dotted)

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        # The package a relative import starts from: the module's own, or itself for an __init__.
        here = module.split(".") if path.name == "__init__.py" and module else module.split(".")[:-1]
        imported = set()
        for node in _runtime_statements(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[: len(here) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
                imported.update(known(target + [alias.name]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package.name:
                target = (node.module or "").split(".")[1:]
                imported.update(known(target + [alias.name]) for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == package.name:
                        imported.add(known(alias.name.split(".")[1:]))
        graph[module] = {other for other in imported if other in modules} - {module}
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
    (package / "c.py").write_text("from .sub.d import y\n")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "d.py").write_text("from .. import a\n")
    assert import_cycle(package_imports(package)) == ["a", "b", "c", "sub.d", "a"]


def test_no_module_is_over_500_lines():
    lengths = {
        name or "__init__": len(path.read_text(encoding="utf-8").splitlines())
        for name, path in package_modules(PACKAGE).items()
    }
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_over_80_lines():
    long = []
    for path in package_modules(PACKAGE).values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
