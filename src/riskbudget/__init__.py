"""riskbudget: quantitative cyber-risk decisions in one currency.

Open FAIR scenarios from calibrated estimates, aggregate annual loss by Monte
Carlo, and the metrics a board understands (ALE, VaR, TVaR, loss exceedance
curves). Importing the package loads only numpy, scipy and pandas; plotting,
widgets and PyMC are imported when first used.

>>> import riskbudget as rb
>>> s = rb.Scenario("Phishing", threat_event_frequency=rb.PERT(2, 6, 20),
...                 susceptibility=rb.PERT(0.05, 0.1, 0.3),
...                 primary_loss=rb.LogNormal.from_ci(10_000, 400_000))
>>> rb.simulate(s, years=20_000, seed=3).summary().columns[:4].tolist()
['ale', 'ale_se', 'sd', 'p_loss']
"""

from __future__ import annotations

from . import gordon_loeb, voi
from ._version import __version__
from .appetite import Appetite, AppetiteStatus, Limit, ToleranceCurve, read_appetite
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
    from_dict,
)
from .exceptions import (
    InvalidParameterError,
    MissingDependencyError,
    RegisterError,
    RiskBudgetError,
    ScenarioError,
)
from .fair import FORMS_OF_LOSS, Adjustment, LossForms, Register, Scenario
from .io import read_register, write_register
from .optimize import Frontier, Funding, OutOfSample, Plan, evaluate, frontier, optimize, plot_frontier, validate
from .portfolio import CommonShock, Dependence
from .report import report
from .simulate import SimulationResult, simulate

__all__ = [
    "PERT",
    "LogNormal",
    "Triangular",
    "Uniform",
    "Constant",
    "Beta",
    "Gamma",
    "Distribution",
    "from_dict",
    "Scenario",
    "LossForms",
    "Adjustment",
    "Register",
    "FORMS_OF_LOSS",
    "simulate",
    "SimulationResult",
    "ToleranceCurve",
    "Appetite",
    "AppetiteStatus",
    "Limit",
    "read_appetite",
    "Dependence",
    "CommonShock",
    "report",
    "read_register",
    "write_register",
    "RiskBudgetError",
    "InvalidParameterError",
    "ScenarioError",
    "RegisterError",
    "MissingDependencyError",
    "Control",
    "Project",
    "ResponseSLA",
    "RiskChange",
    "SecurityByDesign",
    "read_controls",
    "read_projects",
    "optimize",
    "evaluate",
    "validate",
    "frontier",
    "plot_frontier",
    "Plan",
    "Frontier",
    "Funding",
    "OutOfSample",
    "gordon_loeb",
    "voi",
    "datasets",
    "__version__",
]

#: Modules imported on first attribute access (``rb.bayes``, ``rb.datasets``), so that
#: ``import riskbudget`` stays light.
_LAZY_SUBMODULES = {"bayes", "datasets"}


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
