"""`import riskbudget` stays light and exposes the public names."""

from __future__ import annotations

import subprocess
import sys

import riskbudget as rb


def _fresh(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (where nothing of riskbudget is imported yet)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_does_not_load_heavy_packages():
    code = (
        "import sys, riskbudget; "
        "heavy = [m for m in ('pymc', 'arviz', 'pytensor', 'matplotlib', 'ipywidgets', 'scipy.stats') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    assert _fresh(code) == ""


def test_public_names_are_exported():
    for name in ("PERT", "LogNormal", "Triangular", "Uniform", "Constant", "Beta", "Gamma", "Scenario", "Register",
                 "simulate", "SimulationResult", "read_register", "write_register", "RiskBudgetError", "Appetite",
                 "ToleranceCurve", "Adjustment", "LossForms"):
        assert hasattr(rb, name), name
    assert issubclass(rb.RiskBudgetError, ValueError)


def test_names_load_their_modules_on_first_use():
    code = (
        "import sys, riskbudget as rb; "
        "before = sorted(m for m in sys.modules if m.startswith('riskbudget.') and m != 'riskbudget._version'); "
        "rb.simulate; rb.Scenario; rb.PERT; "
        "after = [m for m in ('riskbudget.optimization', 'riskbudget.reporting', 'riskbudget.plotting', "
        "'riskbudget.controls') if m in sys.modules]; "
        "print(before, after)"
    )
    assert _fresh(code) == "[] []"


def test_every_public_name_is_its_modules_object():
    import importlib

    for name in rb.__all__:
        value = getattr(rb, name)
        if name in rb.MODULES:
            assert value is importlib.import_module(f"riskbudget.{name}"), name
        elif name in rb._NAMES:
            module, attr = rb._NAMES[name]
            assert value is getattr(importlib.import_module(f"riskbudget.{module}"), attr), name
    assert set(rb._NAMES) <= set(rb.__all__)
    assert set(rb._NAMES) <= set(dir(rb))


def test_renamed_names_warn_and_answer_the_new_object():
    import pytest

    with pytest.warns(DeprecationWarning, match="validate_plan"):
        assert rb.validate is rb.validate_plan
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        rb.nonexistent  # noqa: B018


def test_the_names_type_checkers_see_are_the_names_loaded_on_use():
    """The ``TYPE_CHECKING`` imports and ``_NAMES`` list the same (module, name) pairs, so they cannot drift apart."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(rb.__file__).read_text())
    [block] = [n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]
    seen = {
        alias.asname or alias.name: (node.module, alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == rb._NAMES
