"""Display formatting: money ($250K, $12M), percentages and rounded tables.

Computation returns raw numbers; only these helpers round, and only for display.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["money", "percent", "format_summary"]

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def money(x: Any, *, digits: int = 3, currency: str = "$") -> str:
    """Compact money: ``money(250_000) == '$250K'``, ``money(12.3e6) == '$12.3M'``.

    ``digits`` significant digits, trailing zeros dropped.
    """
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return f"{'-' if value < 0 else ''}{currency}inf"
    sign = "-" if value < 0 else ""
    v = abs(value)
    for scale, suffix in _UNITS:
        if v >= scale * 0.9995:
            return f"{sign}{currency}{_sig(v / scale, digits)}{suffix}"
    return f"{sign}{currency}{_sig(v, digits)}"


def _sig(v: float, digits: int) -> str:
    if v == 0:
        return "0"
    decimals = max(digits - 1 - int(math.floor(math.log10(v))), 0)
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def percent(p: Any, *, digits: int = 1) -> str:
    """``percent(0.0512) == '5.1%'``.

    A value that would round to 0% or to 100% without being 0 or 1 says so:
    ``percent(0.0004) == '<0.1%'`` and ``percent(0.9996) == '>99.9%'`` (a
    chance of 99.96% is not a certainty).
    """
    p = float(p)
    if math.isnan(p):
        return "n/a"
    half = 0.5 * 10 ** (-digits) / 100
    if 0 < p < half:
        return f"<{10 ** (-digits):g}%"
    if 1 - half <= p < 1:
        return f">{100 - 10 ** (-digits):g}%"
    return f"{100 * p:.{digits}f}%"


def money_axis(ax: Any, axis: str = "x") -> Any:
    """Format a matplotlib axis with :func:`money` tick labels."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: money(v, digits=2))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)
    return ax


def format_summary(summary: Any, columns: tuple[str, ...] | None = None) -> Any:
    """A display copy of ``SimulationResult.summary()``: money and percentages as text."""
    out = summary.copy() if columns is None else summary[list(columns)].copy()
    for col in out.columns:
        if col in ("p_loss",):
            out[col] = out[col].map(percent)
        elif col == "loss_events":
            out[col] = out[col].map(lambda v: f"{v:.3g}")
        else:
            out[col] = out[col].map(money)
    return out
