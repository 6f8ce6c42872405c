"""The package's shape: every module importable under its name, no name hiding a module, imports one way.

In the spirit of PyPortfolioOpt's ``tests/test_imports.py``, plus a static check of the import
graph (module-level *and* function-level imports, read with ``ast``): no cycles, layers pointing
down, and no private name imported from another module unless that module is private itself
(``riskbudget._random``, ``_progress``... are written to be shared).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import riskbudget as rb

SRC = Path(rb.__file__).resolve().parent

#: Layers from the bottom up. A module may import from its own layer's package or from lower layers only;
#: ``report``-like leaves (reporting, plotting, widgets, cli) import from anything below and nothing imports them
#: (except the package's __init__, which re-exports verbs).
LAYERS: list[set[str]] = [
    {"_version", "exceptions", "_random", "_progress", "_memory", "_allocator", "_files", "_parse", "_package_data", "_options", "_quadrature",
     "formatting", "metrics"},
    {"distributions"},
    {"fair"},
    {"insurance"},
    {"simulation"},
    {"_rows"},  # flat register rows <-> scenarios, shared by layouts, excel and io
    {"layouts"},
    {"excel"},
    {"appetite", "io"},
    {"portfolio", "controls"},
    {"optimization", "gordon_loeb", "datasets"},
    {"voi", "bayes", "review", "scorecard"},
    {"plotting", "reporting"},
    {"widgets", "cli", "__main__"},
]


def _top(module: str) -> str:
    """The first component below ``riskbudget`` (``optimization.solver`` -> ``optimization``)."""
    return module.split(".")[0]


def _rank(module: str) -> int:
    top = _top(module)
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"riskbudget.{module} is in no layer of tests/test_imports.py; place it")


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported riskbudget module, names imported from it, line) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("riskbudget"):
                target = node.module.removeprefix("riskbudget").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            if node.module is None:  # from . import x, y  -> each is a module
                for a in names:
                    found.append((".".join(p for p in (target, a) if p), [], node.lineno))
            else:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("riskbudget."):
                    found.append((a.name.removeprefix("riskbudget."), [], node.lineno))
    return found


MODULES = _modules()


def _resolve(target: str) -> str:
    """The module a target names (``controls.FUNCTIONS`` -> ``controls``)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for target, _names, _line in _imports(name, path):
            dep = _resolve(target)
            if dep and dep != name and not name.startswith(dep + ".") and dep != "":
                graph[name].add(dep)
    return graph


def test_every_public_module_imports_under_its_own_name():
    for name in rb.MODULES:
        module = importlib.import_module(f"riskbudget.{name}")
        assert isinstance(module, types.ModuleType), name
        assert getattr(rb, name) is module, name
    import riskbudget.optimization as ro
    import riskbudget.reporting as rr
    import riskbudget.simulation as rs

    assert callable(ro.precompute) and callable(rs.simulate) and callable(rr.report)
    assert rb.optimize is ro.optimize and rb.simulate is rs.simulate and rb.report is rr.report


def test_no_package_attribute_hides_a_submodule():
    submodules = {m.name for m in pkgutil.iter_modules(rb.__path__)}
    for name in submodules:
        value = getattr(rb, name, None)
        assert value is None or isinstance(value, types.ModuleType), (
            f"riskbudget.{name} is a {type(value).__name__}, which hides the module riskbudget.{name}"
        )
    for package in ("optimization", "simulation", "portfolio", "controls", "bayes", "widgets"):
        mod = importlib.import_module(f"riskbudget.{package}")
        for sub in pkgutil.iter_modules(mod.__path__):
            value = getattr(mod, sub.name, None)
            assert value is None or isinstance(value, types.ModuleType), f"riskbudget.{package}.{sub.name}"


def test_every_name_in_all_resolves():
    for name in rb.__all__:
        assert getattr(rb, name) is not None, name
    for mod_name in rb.MODULES:
        if mod_name == "widgets":
            continue  # needs ipywidgets; its __all__ is checked in tests/test_widgets.py
        mod = importlib.import_module(f"riskbudget.{mod_name}")
        for name in getattr(mod, "__all__", ()):
            assert hasattr(mod, name), f"riskbudget.{mod_name}.__all__ lists {name!r}, which it lacks"


def test_renamed_top_level_names_warn_and_still_work():
    with pytest.warns(DeprecationWarning, match="riskbudget.validate is now riskbudget.validate_plan"):
        assert rb.validate is rb.validate_plan
    with pytest.warns(DeprecationWarning, match="riskbudget.from_dict is now riskbudget.distribution_from_dict"):
        assert rb.from_dict(3) == rb.Constant(3)


def test_the_import_graph_has_no_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(f"riskbudget.{m}" for m in cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_imports_point_down_the_layers():
    bad = []
    for name, deps in _graph().items():
        if name == "":  # the package __init__ re-exports from every layer
            continue
        for dep in deps:
            if _top(dep) == _top(name):
                continue  # within one package
            if _rank(dep) > _rank(name):
                bad.append(f"riskbudget.{name} (layer {_rank(name)}) imports riskbudget.{dep} (layer {_rank(dep)})")
    assert not bad, "\n".join(sorted(bad))


def test_no_private_name_crosses_a_module_boundary():
    bad = []
    for name, path in MODULES.items():
        for target, names, line in _imports(name, path):
            source = _resolve(target)
            if not source or source == name:
                continue
            private_source = any(part.startswith("_") for part in source.split(".") if part != "__init__")
            if private_source:
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    bad.append(f"{path.relative_to(SRC)}:{line}: {n} from riskbudget.{source}")
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_import_riskbudget_loads_only_numpy():
    code = (
        "import sys, riskbudget; "
        "heavy = [m for m in ('scipy', 'pandas', 'pymc', 'arviz', 'pytensor', 'matplotlib', 'ipywidgets', 'yaml', "
        "'jinja2', 'openpyxl', 'tqdm') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
