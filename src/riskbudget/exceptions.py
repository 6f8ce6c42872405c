"""Exceptions raised by riskbudget.

Every error a user can cause is a :class:`RiskBudgetError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working. The subclasses say
*where* the problem is, and every message names the object, the field, the
value and the rule it breaks.
"""

from __future__ import annotations

__all__ = [
    "RiskBudgetError",
    "InvalidParameterError",
    "ScenarioError",
    "RegisterError",
    "MissingDependencyError",
]


class RiskBudgetError(ValueError):
    """Base class of every error riskbudget raises for bad input."""


class InvalidParameterError(RiskBudgetError):
    """A distribution or model parameter breaks a rule (e.g. ``low > high``)."""


class ScenarioError(RiskBudgetError):
    """A scenario's factor tree is incomplete or contradictory."""


class RegisterError(RiskBudgetError):
    """A register file (CSV, Excel, YAML, JSON) has a bad row, column or value."""


class MissingDependencyError(RiskBudgetError, ImportError):
    """An optional dependency is needed; the message says how to install it."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the error raised when an optional package is not installed."""
    return MissingDependencyError(
        f"{purpose} needs the optional package '{package}', which is not installed. "
        f"Install it with: pip install 'riskbudget[{extra}]'"
    )
