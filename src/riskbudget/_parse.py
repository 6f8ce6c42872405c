"""Reading the numbers people type: plain numbers, amounts of money, shares and whole numbers.

One parser per kind of quantity, shared by every reader of typed values: the
register, controls, projects and appetite files, the library's constructors,
the command line's options and the explorers' text boxes. What counts as a
number stays decided by :func:`riskbudget.exceptions.check_finite` (no
booleans, no NaN or infinities, the ceilings :data:`~riskbudget.exceptions.MONEY`
and :data:`~riskbudget.exceptions.EVENTS_PER_YEAR`); these functions only add
the spellings people use for each kind, and turn them into that rule's input:

* :func:`parse_number` - a number: ``250000``, ``2.5e5``, ``0.3``;
* :func:`parse_money` - an amount of money: also ``6M``, ``6m``, ``$6,000,000``,
  ``6 000 000`` (with plain, thin or no-break spaces), ``2.5K``, ``1.2B``,
  ``$1.5 M``, ``-$2M`` where negative amounts are allowed, and every text
  :func:`riskbudget.formatting.money` writes (``$12.3M``, ``$1000T``);
* :func:`parse_share` - a share in [0, 1]: ``0.15`` or ``15%``;
* :func:`parse_whole` - a whole number, exactly: ``100000``, ``1e5``,
  ``100_000``, ``100,000`` (``2.5`` is refused).

Digits may be grouped by threes with commas or spaces (``1,5`` is refused, not
read as 15 or 1.5) or joined by underscores as in Python. Suffixes scale by a
thousand (``K``), a million (``M``), a billion (``B``) or a trillion (``T``),
in either case; anything else after the number (``6 MB``, ``6MM``) is
refused. Scaled and percent values are exact decimal arithmetic rounded once,
so ``"1.1M"`` is the float nearest 1,100,000 and ``"14.1%"`` is ``0.141``.

Every refusal is a :class:`~riskbudget.exceptions.RiskBudgetError` (of the
caller's class) naming where, the name, the value as written and the rule, and
for text that is not a number at all, examples of what is accepted.

Examples
--------
>>> from riskbudget._parse import parse_money, parse_share, parse_whole
>>> parse_money("$6,000,000", where="budget", name="total"), parse_money("2.5K", where="", name="cost")
(6000000.0, 2500.0)
>>> parse_share("15%", where="", name="share"), parse_whole("1e5", where="", name="years")
(0.15, 100000)
>>> parse_money("6 MB", where="Budget", name="total")
Traceback (most recent call last):
...
riskbudget.exceptions.InvalidParameterError: Budget: total ('6 MB') must be a number (an amount of money such as ...
"""

from __future__ import annotations

import numbers
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .exceptions import MONEY, Ceiling, InvalidParameterError, RiskBudgetError, check_finite, subject

__all__ = [
    "SCALES",
    "MONEY_EXAMPLES",
    "SHARE_EXAMPLES",
    "WHOLE_EXAMPLES",
    "MAX_WHOLE_DIGITS",
    "parse_number",
    "parse_money",
    "parse_share",
    "parse_whole",
]

#: Suffixes of amounts of money and the power of ten each stands for (case does not matter).
SCALES: dict[str, int] = {"k": 3, "m": 6, "b": 9, "t": 12}
#: How amounts of money may be written, as the messages show it.
MONEY_EXAMPLES = "250000, 2.5e5, 250K, 1.2M or $250,000"
#: How shares may be written, as the messages show it.
SHARE_EXAMPLES = "0.15 or 15%"
#: How whole numbers may be written, as the messages show it.
WHOLE_EXAMPLES = "100000, 1e5, 100_000 or 100,000"
#: The most digits a whole number may have (a float holds at most 309; more is a typing mistake, and
#: turning such text into an int would take memory and time without bound).
MAX_WHOLE_DIGITS = 309

# Spaces that group digits: the plain space, no-break, figure, punctuation, thin and narrow no-break spaces.
_SPACES = str.maketrans({c: " " for c in "\u00a0\u2007\u2008\u2009\u202f"})
_DIGITS = r"\d+(?:_\d+)*"  # Python's underscores between digits
_INTEGER = rf"(?:\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?: \d{{3}})+|{_DIGITS})"  # 6,000,000 | 6 000 000 | 6000000
_NUMBER = rf"(?:{_INTEGER}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?\d+)?"
_MONEY_RE = re.compile(
    rf"(?P<sign>[+-]?)(?P<currency>\$?) *(?P<sign2>[+-]?)(?P<number>{_NUMBER}) *(?P<scale>[kKmMbBtT]?)", re.ASCII
)
_SHARE_RE = re.compile(rf"(?P<sign>[+-]?)(?P<number>{_NUMBER}) *(?P<percent>%?)", re.ASCII)
_WHOLE_RE = re.compile(rf"(?P<sign>[+-]?)(?P<number>{_NUMBER})", re.ASCII)


def _plain(sign: str, number: str, shift: int = 0) -> str:
    """``sign number`` without separators and times ``10**shift``, as text ``float()`` reads exactly."""
    digits = number.replace(",", "").replace(" ", "").replace("_", "")
    if not shift:
        return sign + digits
    mantissa, _, exponent = digits.lower().partition("e")
    if len(exponent.lstrip("+-")) > 9:  # far beyond any float either way: the shift changes nothing
        return sign + digits
    return f"{sign}{mantissa}e{int(exponent or 0) + shift}"


def parse_number(
    value: Any,
    *,
    where: str,
    name: str,
    ceiling: Ceiling | None = None,
    error: type[RiskBudgetError] = InvalidParameterError,
    hint: str = "",
) -> float:
    """A number (a float), or ``error`` naming where, the name, the value and the rule.

    Exactly :func:`~riskbudget.exceptions.check_finite`: numbers and numeric
    text (``"2.5e5"``, surrounding spaces allowed); no booleans, NaN or
    infinities; with ``ceiling``, nothing beyond it in either direction.
    ``hint`` is added to the "must be a number" message (how to write one).

    Examples
    --------
    >>> parse_number(" 2.5e5 ", where="", name="rate")
    250000.0
    """
    return check_finite(where, name, value, error, ceiling=ceiling, hint=hint)


def parse_money(
    value: Any,
    *,
    where: str,
    name: str,
    allow_negative: bool = False,
    ceiling: Ceiling | None = MONEY,
    error: type[RiskBudgetError] = InvalidParameterError,
) -> float:
    """An amount of money (a float), from a number or text such as ``"6M"`` or ``"$6,000,000"``.

    Parameters
    ----------
    value : number or str
        A number, or text: digits (grouped by threes with commas or spaces,
        or with underscores), an optional decimal part and exponent, an
        optional ``$`` and sign before, an optional ``K``, ``M``, ``B`` or
        ``T`` after (a space between is allowed).
    where, name : str
        Where the value comes from and its name, for messages (either may be
        empty: the command line adds the option's name itself).
    allow_negative : bool, default False
        Accept negative amounts (where a later rule decides, or a loss may be
        negative); otherwise they are refused.
    ceiling : Ceiling, default MONEY
        The largest magnitude accepted (1e15).
    error : type of RiskBudgetError
        The class of the error raised.

    Returns
    -------
    float
        Exactly ``float(text)`` for plain numbers; scaled amounts are the float
        nearest the exact decimal value (``"1.1M"`` is ``1100000.0``).

    Raises
    ------
    RiskBudgetError
        Of class ``error``: text that is no amount (``"6 MB"``, ``"six"``,
        ``"1,5"``), NaN, infinities, amounts too large for a float
        (``"1e400"``) or beyond ``ceiling``, and negative amounts unless
        ``allow_negative``.

    Examples
    --------
    >>> [parse_money(t, where="", name="budget") for t in ("6M", "$6,000,000", "6e6", "6 000 000", "$1.5 M")]
    [6000000.0, 6000000.0, 6000000.0, 6000000.0, 1500000.0]
    >>> parse_money("-$2M", where="", name="budget")
    Traceback (most recent call last):
    ...
    riskbudget.exceptions.InvalidParameterError: budget ('-$2M') must be a finite amount >= 0 (such as 0, 250K or 1.2M)
    """
    hint = f" (an amount of money such as {MONEY_EXAMPLES})"
    text = value
    if isinstance(value, str):
        m = _MONEY_RE.fullmatch(value.translate(_SPACES).strip())
        if m is not None and not (m["sign"] and m["sign2"]):
            text = _plain(m["sign"] or m["sign2"], m["number"], SCALES.get(m["scale"].lower(), 0))
    x = check_finite(where, name, text, error, ceiling=ceiling, hint=hint, written=value)
    if x < 0 and not allow_negative:
        raise error(f"{subject(where, name, value)} must be a finite amount >= 0 (such as 0, 250K or 1.2M)", field=name)
    return x


def parse_share(
    value: Any, *, where: str, name: str, error: type[RiskBudgetError] = InvalidParameterError
) -> float:
    """A share in [0, 1], from a number (``0.15``) or text (``"0.15"``, ``"15%"``).

    A percentage is divided by 100 exactly (``"14.1%"`` is ``0.141``). Shares
    outside [0, 1] (0%..100%) are refused, like anything that is not a number.

    Examples
    --------
    >>> parse_share("15%", where="", name="share"), parse_share(0.15, where="", name="share")
    (0.15, 0.15)
    """
    text = value
    if isinstance(value, str):
        m = _SHARE_RE.fullmatch(value.translate(_SPACES).strip())
        if m is not None:
            text = _plain(m["sign"], m["number"], -2 if m["percent"] else 0)
    x = check_finite(where, name, text, error, hint=f" (a share such as {SHARE_EXAMPLES})", written=value)
    if not 0.0 <= x <= 1.0:
        raise error(f"{subject(where, name, value)} must lie in [0, 1] (or 0%..100%), e.g. {SHARE_EXAMPLES}", field=name)
    return x


def parse_whole(
    value: Any,
    *,
    where: str,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type[RiskBudgetError] = InvalidParameterError,
) -> int:
    """A whole number (an int), read exactly: ``100000``, ``"1e5"``, ``"100_000"``, ``"100,000"``.

    Text is read as a decimal, never through a float, so ``"1e30"`` is
    ``10**30`` and ``"2.5e0"`` is refused. Floats are accepted when whole
    (``1e5``), booleans never. ``minimum`` and ``maximum`` bound the value;
    more than :data:`MAX_WHOLE_DIGITS` digits are refused in any case.

    Examples
    --------
    >>> [parse_whole(t, where="", name="years") for t in ("100000", "1e5", "100_000", "100,000", 1e5)]
    [100000, 100000, 100000, 100000, 100000]
    >>> parse_whole("2.5", where="", name="years")
    Traceback (most recent call last):
    ...
    riskbudget.exceptions.InvalidParameterError: years ('2.5') must be a whole number, such as 100000, 1e5, ...
    """
    whole = f"must be a whole number, such as {WHOLE_EXAMPLES}"
    what = subject(where, name, value)
    number: Decimal | None = None
    if isinstance(value, str):
        m = _WHOLE_RE.fullmatch(value.translate(_SPACES).strip())
        if m is not None:
            try:
                number = Decimal(_plain(m["sign"], m["number"]))
            except InvalidOperation:  # an exponent beyond what a decimal holds
                raise error(f"{what} has an exponent beyond any number riskbudget reads; is the number right?", field=name) from None
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = Decimal(int(value))
    if number is None:  # booleans, NaN, text that is no number, and numbers of other types
        number = Decimal(check_finite(where, name, value, error, hint=f" ({whole.removeprefix('must be ')})"))
    if number and number.adjusted() >= MAX_WHOLE_DIGITS:
        raise error(f"{what} has more than {MAX_WHOLE_DIGITS} digits; is the number right?", field=name)
    if number != number.to_integral_value():
        raise error(f"{what} {whole}", field=name)
    n = int(number)
    if minimum is not None and n < minimum:
        raise error(f"{what} must be at least {minimum}", field=name)
    if maximum is not None and n > maximum:
        raise error(f"{what} must be at most {maximum}", field=name)
    return n
