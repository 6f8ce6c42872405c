"""Exceptions raised by riskbudget.

Every error a user can cause is a :class:`RiskBudgetError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working. The subclasses say
*where* the problem is, and every message names the object, the field, the
value and the rule it breaks.
"""

from __future__ import annotations

import math
from typing import Any

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


def check_finite(where: str, name: str, value: Any, error: type[RiskBudgetError] = InvalidParameterError) -> float:
    """``float(value)``, or ``error`` naming where, the parameter, its value and the rule.

    The one place that decides what counts as a number in riskbudget: booleans
    are refused, text that is not a number is refused, NaN and infinities are
    refused.
    """
    if isinstance(value, bool):
        raise error(f"{where}: {name} ({value!r}) must be a number, not a boolean")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(f"{where}: {name} ({value!r}) must be a number") from None
    if not math.isfinite(x):
        raise error(f"{where}: {name} ({value!r}) must be finite, not NaN or inf")
    return x
