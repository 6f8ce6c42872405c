"""riskbudget: quantitative cyber-risk decisions in one currency.

Open FAIR scenarios from calibrated estimates, aggregate annual loss by Monte
Carlo, the metrics a board understands (ALE, VaR, TVaR, loss exceedance
curves), and the split of one budget between security controls and IT
projects. Importing the package loads almost nothing: each public name loads
its own module on first use (``rb.simulate`` the simulation, not the
optimiser or the report), SciPy and pandas load when a computation needs
them, and plotting, widgets and PyMC only when their modules are used.

The verbs and nouns of everyday use live here (``rb.simulate``,
``rb.optimize``, ``rb.report``, ``rb.Scenario``, ``rb.PERT``...). Every
module stays importable under its own name, and no name here hides a module:
the modules are ``riskbudget.simulation``, ``riskbudget.optimization`` and
``riskbudget.reporting`` (see docs/architecture.md for the map).

>>> import riskbudget as rb
>>> s = rb.Scenario("Phishing", threat_event_frequency=rb.PERT(2, 6, 20),
...                 susceptibility=rb.PERT(0.05, 0.1, 0.3),
...                 primary_loss=rb.LogNormal.from_ci(10_000, 400_000))
>>> rb.simulate(s, years=20_000, seed=3).summary().columns[:4].tolist()
['ale', 'ale_se', 'sd', 'p_loss']
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # the names as type checkers and IDEs see them
    from .appetite import Appetite, AppetiteStatus, Limit, LimitKind, ToleranceCurve, read_appetite
    from .controls import Control, Project, ResponseSLA, RiskChange, SecurityByDesign, read_controls, read_projects
    from .distributions import (
        PERT,
        Beta,
        Constant,
        Distribution,
        Gamma,
        LogNormal,
        Triangular,
        Uniform,
    )
    from .distributions import from_dict as distribution_from_dict
    from .exceptions import (
        InvalidParameterError,
        MemoryLimitError,
        MissingDependencyError,
        RegisterError,
        RiskBudgetError,
        ScenarioError,
    )
    from .fair import FORMS_OF_LOSS, Adjustment, LossForms, Register, Scenario
    from .insurance import Insurance, read_insurance
    from .io import read_register, write_register
    from .optimization import Frontier, Funding, OutOfSample, Plan, evaluate, frontier, optimize
    from .optimization import validate as validate_plan
    from .plotting import plot_frontier
    from .portfolio import CommonShock, Dependence
    from .reporting import report
    from .review import compare, load_plan
    from .simulation import SimulationResult, simulate

#: Public names and the (module, name) each comes from, imported on first use (PEP 562) and then kept, so that
#: ``import riskbudget`` loads only what the names a program uses need (``import riskbudget`` and ``rb.simulate``:
#: 0.06 s, against 0.2 s when every name was imported up front).
_NAMES: dict[str, tuple[str, str]] = {
    "Appetite": ("appetite", "Appetite"),
    "AppetiteStatus": ("appetite", "AppetiteStatus"),
    "Limit": ("appetite", "Limit"),
    "LimitKind": ("appetite", "LimitKind"),
    "ToleranceCurve": ("appetite", "ToleranceCurve"),
    "read_appetite": ("appetite", "read_appetite"),
    "Control": ("controls", "Control"),
    "Project": ("controls", "Project"),
    "ResponseSLA": ("controls", "ResponseSLA"),
    "RiskChange": ("controls", "RiskChange"),
    "SecurityByDesign": ("controls", "SecurityByDesign"),
    "read_controls": ("controls", "read_controls"),
    "read_projects": ("controls", "read_projects"),
    "PERT": ("distributions", "PERT"),
    "Beta": ("distributions", "Beta"),
    "Constant": ("distributions", "Constant"),
    "Distribution": ("distributions", "Distribution"),
    "Gamma": ("distributions", "Gamma"),
    "LogNormal": ("distributions", "LogNormal"),
    "Triangular": ("distributions", "Triangular"),
    "Uniform": ("distributions", "Uniform"),
    "distribution_from_dict": ("distributions", "from_dict"),
    "InvalidParameterError": ("exceptions", "InvalidParameterError"),
    "MemoryLimitError": ("exceptions", "MemoryLimitError"),
    "MissingDependencyError": ("exceptions", "MissingDependencyError"),
    "RegisterError": ("exceptions", "RegisterError"),
    "RiskBudgetError": ("exceptions", "RiskBudgetError"),
    "ScenarioError": ("exceptions", "ScenarioError"),
    "FORMS_OF_LOSS": ("fair", "FORMS_OF_LOSS"),
    "Adjustment": ("fair", "Adjustment"),
    "LossForms": ("fair", "LossForms"),
    "Register": ("fair", "Register"),
    "Scenario": ("fair", "Scenario"),
    "Insurance": ("insurance", "Insurance"),
    "read_insurance": ("insurance", "read_insurance"),
    "read_register": ("io", "read_register"),
    "write_register": ("io", "write_register"),
    "Frontier": ("optimization", "Frontier"),
    "Funding": ("optimization", "Funding"),
    "OutOfSample": ("optimization", "OutOfSample"),
    "Plan": ("optimization", "Plan"),
    "evaluate": ("optimization", "evaluate"),
    "frontier": ("optimization", "frontier"),
    "optimize": ("optimization", "optimize"),
    "validate_plan": ("optimization", "validate"),
    "plot_frontier": ("plotting", "plot_frontier"),
    "CommonShock": ("portfolio", "CommonShock"),
    "Dependence": ("portfolio", "Dependence"),
    "report": ("reporting", "report"),
    "compare": ("review", "compare"),
    "load_plan": ("review", "load_plan"),
    "SimulationResult": ("simulation", "SimulationResult"),
    "simulate": ("simulation", "simulate"),
}

#: Public modules, imported on first attribute access (``rb.bayes``, ``rb.datasets``) so that
#: ``import riskbudget`` stays light. ``import riskbudget.<name>`` works for each of them.
MODULES = (
    "appetite",
    "bayes",
    "controls",
    "datasets",
    "distributions",
    "excel",
    "exceptions",
    "fair",
    "formatting",
    "gordon_loeb",
    "insurance",
    "io",
    "layouts",
    "metrics",
    "optimization",
    "plotting",
    "portfolio",
    "reporting",
    "review",
    "scorecard",
    "simulation",
    "voi",
    "widgets",
)

#: Old top-level names, still answered with a DeprecationWarning that names the new one.
_RENAMED = {"validate": "validate_plan", "from_dict": "distribution_from_dict"}

__all__ = [
    # calibrated estimates
    "PERT",
    "LogNormal",
    "Triangular",
    "Uniform",
    "Constant",
    "Beta",
    "Gamma",
    "Distribution",
    "distribution_from_dict",
    # scenarios and registers
    "Scenario",
    "LossForms",
    "Adjustment",
    "Register",
    "FORMS_OF_LOSS",
    "read_register",
    "write_register",
    # simulation and dependence
    "simulate",
    "SimulationResult",
    "Dependence",
    "CommonShock",
    # appetite
    "Appetite",
    "AppetiteStatus",
    "Limit",
    "LimitKind",
    "ToleranceCurve",
    "read_appetite",
    # decisions
    "Control",
    "Project",
    "ResponseSLA",
    "RiskChange",
    "SecurityByDesign",
    "read_controls",
    "read_projects",
    "optimize",
    "evaluate",
    "validate_plan",
    "frontier",
    "plot_frontier",
    "Plan",
    "Frontier",
    "Funding",
    "OutOfSample",
    # joint reviews of saved plans
    "load_plan",
    "compare",
    # risk transfer
    "Insurance",
    "read_insurance",
    # the board report
    "report",
    # errors
    "RiskBudgetError",
    "InvalidParameterError",
    "ScenarioError",
    "RegisterError",
    "MissingDependencyError",
    "MemoryLimitError",
    # modules
    *MODULES,
    "__version__",
]


def __getattr__(name: str) -> Any:
    where = _NAMES.get(name)
    if where is not None:
        value = getattr(importlib.import_module(f".{where[0]}", __name__), where[1])
        globals()[name] = value
        return value
    if name in MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"riskbudget.{name} is now riskbudget.{new}", DeprecationWarning, stacklevel=2)
        return __getattr__(new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(MODULES) | set(_NAMES))
