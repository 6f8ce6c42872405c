"""`import riskbudget` stays light and exposes the public names."""

from __future__ import annotations

import subprocess
import sys

import riskbudget as rb


def test_import_does_not_load_heavy_packages():
    code = (
        "import sys, riskbudget; "
        "heavy = [m for m in ('pymc', 'arviz', 'pytensor', 'matplotlib', 'ipywidgets', 'scipy.stats') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_are_exported():
    for name in ("PERT", "LogNormal", "Triangular", "Uniform", "Constant", "Beta", "Gamma", "Scenario", "Register",
                 "simulate", "SimulationResult", "read_register", "write_register", "RiskBudgetError", "Appetite",
                 "ToleranceCurve", "Adjustment", "LossForms"):
        assert hasattr(rb, name), name
    assert issubclass(rb.RiskBudgetError, ValueError)
