"""Exceptions raised by riskbudget.

Every error a user can cause is a :class:`RiskBudgetError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working. The subclasses say
*where* the problem is, and every message names the object, the field, the
value and the rule it breaks.

This module also holds the few rules every input passes through, so they are
decided once: :func:`check_finite` (what counts as a number, and the ceilings
:data:`MONEY` and :data:`EVENTS_PER_YEAR` on magnitudes), :func:`check_text`
(what counts as a name or a text field) and :func:`shown` (how a value is
quoted in a message). ``docs/errors.md`` states the policy and the limits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RiskBudgetError",
    "InvalidParameterError",
    "ScenarioError",
    "RegisterError",
    "MissingDependencyError",
    "MemoryLimitError",
    "DatasetError",
    "Ceiling",
    "MONEY",
    "EVENTS_PER_YEAR",
    "check_finite",
    "check_text",
    "subject",
    "MAX_NAME_CHARS",
]


class RiskBudgetError(ValueError):
    """Base class of every error riskbudget raises for bad input.

    ``field`` names the parameter or column at fault when one is (readers use
    it to point at the file's column without reading the message).
    """

    def __init__(self, *args: Any, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


class InvalidParameterError(RiskBudgetError):
    """A distribution or model parameter breaks a rule (e.g. ``low > high``)."""


class ScenarioError(RiskBudgetError):
    """A scenario's factor tree is incomplete or contradictory."""


class RegisterError(RiskBudgetError):
    """A register file (CSV, Excel, YAML, JSON) has a bad row, column or value."""


class MissingDependencyError(RiskBudgetError, ImportError):
    """An optional dependency is needed; the message says how to install it."""


class MemoryLimitError(RiskBudgetError):
    """A run would need more memory than the machine has; raised before it starts."""


class DatasetError(RiskBudgetError, LookupError):
    """A bundled file or table that does not exist; the message lists those that do.

    Raised by :mod:`riskbudget.datasets` (and importable from there).
    """


class TooManyCombinationsError(RiskBudgetError):
    """A scenario is touched by so many decisions that precomputing every combination is refused."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the error raised when an optional package is not installed."""
    return MissingDependencyError(
        f"{purpose} needs the optional package '{package}', which is not installed. "
        f"Install it with: pip install 'riskbudget[{extra}]'"
    )


@dataclass(frozen=True)
class Ceiling:
    """The largest magnitude riskbudget accepts for one kind of quantity.

    Far above any real value, far below where 64-bit floats overflow, so sums
    over events, scenarios and years stay exact enough and finite.
    """

    #: The largest accepted absolute value.
    value: float
    #: The value as the messages write it, e.g. "1e15 (one quadrillion)".
    label: str
    #: What is limited, e.g. "amount of money".
    what: str
    #: The likely fix, e.g. "is the unit right?".
    fix: str


#: The largest amount of money riskbudget accepts (a loss, a cost, a value, a limit): one
#: quadrillion, about ten times the world's annual GDP and far above any company's possible loss.
MONEY = Ceiling(1e15, "1e15 (one quadrillion)", "amount of money",
                "is the unit right (dollars, not cents or micro-dollars)?")
#: The largest event rate riskbudget accepts: a million events a year (one every 30 seconds),
#: far above any loss-event frequency; a higher rate is a unit mistake (per second, per transaction).
EVENTS_PER_YEAR = Ceiling(1e6, "1e6 (a million a year)", "event rate (events per year)",
                          "is the unit right (events per year, not per second or per transaction)?")

_SHOWN_CHARS = 80


def shown(value: Any, *, limit: int = _SHOWN_CHARS) -> str:
    """``repr(value)`` for a message, shortened to about ``limit`` characters (80).

    Long text and huge integers are cut with a note of their length, so a
    message never grows with the input (or fails on Python's limit on
    converting huge integers to text).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"<an integer of about {digits} digits>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails must not hide the real error
        text = f"<a {type(value).__name__}>"
    if len(text) > limit:
        return f"{text[:max(limit - 20, 8)]}...{text[-12:]} ({len(text):,} characters)"
    return text


def subject(where: str, name: str, value: Any) -> str:
    """How a message names a value: ``"where: name (value)"``.

    An empty ``where`` leaves the prefix out; an empty ``name`` shows the
    value alone (``"'-6e6'"``, for a command-line option whose name argparse
    adds). Used by :func:`check_finite` and the parsers of
    :mod:`riskbudget._parse`, so their messages read alike.
    """
    prefix = f"{where}: " if where else ""
    return f"{prefix}{name} ({shown(value)})" if name else f"{prefix}{shown(value)}"


def check_finite(
    where: str,
    name: str,
    value: Any,
    error: type[RiskBudgetError] = InvalidParameterError,
    *,
    ceiling: Ceiling | None = None,
    hint: str = "",
    written: Any = None,
) -> float:
    """``float(value)``, or ``error`` naming where, the parameter, its value and the rule.

    The one place that decides what counts as a number in riskbudget: booleans
    are refused, text that is not a number is refused, NaN and infinities are
    refused, and so are integers too large for a float. With ``ceiling``
    (:data:`MONEY`, :data:`EVENTS_PER_YEAR`) values beyond it in either
    direction are refused too. ``hint`` is added to the "must be a number"
    message (e.g. how to write numbers in a file). An empty ``where`` leaves
    the prefix out (for callers that add their own); an empty ``name`` shows
    the value alone (``'-6e6' must be ...``, for command-line options, whose
    name the caller adds). ``written`` is the value as the user wrote it, shown
    in messages instead of ``value`` when a parser passes a normalised
    spelling (``"6e6"`` for ``"$6M"``; see :mod:`riskbudget._parse`).
    """

    def what() -> str:  # built only for a message: most values pass
        return subject(where, name, value if written is None else written)

    if isinstance(value, bool):
        raise error(f"{what()} must be a number, not a boolean", field=name)
    try:
        x = float(value)
    except OverflowError:
        x = -math.inf if isinstance(value, int) and value < 0 else math.inf
    except (TypeError, ValueError):
        raise error(f"{what()} must be a number{hint}", field=name) from None
    if math.isinf(x):
        # an integer, or digits such as "1e400", that overflow, as opposed to an infinity written as such
        spelled = isinstance(value, str) and value.strip().lower().lstrip("+-") in ("inf", "infinity")
        if isinstance(value, int) or (isinstance(value, str) and not spelled):
            raise error(f"{what()} is too large for a 64-bit float (at most about 1.8e308); is the number right?", field=name)
    if not math.isfinite(x):
        raise error(f"{what()} must be finite, not NaN or inf", field=name)
    if ceiling is not None and abs(x) > ceiling.value:
        bound = f"exceeds {ceiling.label}" if x > 0 else f"is below -{ceiling.label}"
        raise error(f"{what()} {bound}, the largest {ceiling.what} riskbudget accepts; {ceiling.fix}", field=name)
    return x


# C0 and C1 control characters, DEL, lone surrogates (not encodable text), and the
# bidirectional overrides and isolates that make text display in another order than it is.
#: The longest name or label (scenario, control and project names, ids, categories, owners) accepted.
MAX_NAME_CHARS = 200
_OTHER_BAD = "\\x7f-\\x9f\\ud800-\\udfff\\u202a-\\u202e\\u2066-\\u2069"
_BAD_IN_NAME = re.compile(f"[\\x00-\\x1f{_OTHER_BAD}\\u2028\\u2029]")
_BAD_IN_TEXT = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f{_OTHER_BAD}]")


def check_text(
    where: str, name: str, value: Any, error: type[RiskBudgetError] = InvalidParameterError, *, multiline: bool = False
) -> str:
    """The text of a name or text field, or ``error`` naming where, the field, the value and the rule.

    The one place that decides what counts as text in riskbudget: ``None`` is
    empty text; strings and numbers (an id such as ``42``) are text; booleans,
    lists and mappings are not (YAML reads an unquoted ``yes`` or ``no`` as a
    boolean). Control characters (NUL, escape, ...), lone surrogates and
    bidirectional overrides are refused: they corrupt reports, spreadsheets
    and terminals. ``multiline`` text (descriptions) may hold tabs and line
    breaks; other text is a name or a label, at most :data:`MAX_NAME_CHARS`
    characters long (it appears in tables, plots and messages).
    """
    if value is None:
        return ""
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        kind = "a boolean (quote yes/no/true/false in YAML)" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise error(f"{prefix}{name} ({shown(value)}) must be text, not {kind}", field=name)
    text = value if isinstance(value, str) else str(value)
    if not multiline and len(text) > MAX_NAME_CHARS:
        raise error(
            f"{prefix}{name} ({shown(text)}) is longer than {MAX_NAME_CHARS} characters, the most a name or label may "
            f"have; shorten it (put longer text in the description)", field=name
        )
    bad = (_BAD_IN_TEXT if multiline else _BAD_IN_NAME).search(text)
    if bad is not None:
        ch = bad.group()
        what = "text" if multiline else "a name or label"
        allowed = " (tabs and line breaks are allowed only in descriptions)" if not multiline and ch in "\t\n\r" else ""
        raise error(
            f"{prefix}{name} ({shown(text)}) holds the control character U+{ord(ch):04X} at position {bad.start() + 1}, "
            f"but {what} may not hold control characters{allowed}; remove it", field=name
        )
    return text
