"""Flat register rows <-> scenarios: the one conversion every flat reader and writer shares.

A flat register (CSV, Excel, a DataFrame, another tool's layout) is a table of
one scenario per row; :mod:`riskbudget.io` documents its columns. This private
module holds what the readers and writers of every flat format share, so that
none of them imports another to get it: the column groups, :data:`CSV_COLUMNS`
and :data:`TEXT_COLUMNS`, the row context that names file, line, scenario and
column in errors, :func:`scenario_from_row` and :func:`scenario_to_row`,
:func:`check_columns` and :func:`register_from_rows`. It sits below
:mod:`riskbudget.layouts`, :mod:`riskbudget.excel` and :mod:`riskbudget.io`,
which import it; ``riskbudget.io`` re-exports its public names.

Numbers in cells are read by :mod:`riskbudget._parse`: amounts of money
(``loss_*``, ``secondary_loss_*``) by ``parse_money``, so ``250000``,
``2.5e5``, ``250K`` and ``$250,000`` are the same amount; every other column
(rates, probabilities, percentiles) by ``parse_number``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._parse import parse_money, parse_number
from .distributions import PERT, Constant, Distribution, LogNormal
from .exceptions import EVENTS_PER_YEAR, MONEY, Ceiling, RegisterError, RiskBudgetError, check_text, shown
from .fair import LossForms, Register, Scenario

__all__ = [
    "OPTIONAL_TEXT",
    "GROUPS",
    "FREQUENCY_GROUPS",
    "CEILINGS",
    "CSV_COLUMNS",
    "TEXT_COLUMNS",
    "NUMBER_HINT",
    "RowContext",
    "scenario_from_row",
    "scenario_to_row",
    "check_columns",
    "register_from_rows",
]

#: Optional text columns (besides ``name``).
OPTIONAL_TEXT: tuple[str, ...] = ("id", "category", "owner", "description")
#: The numeric columns by group: each group is one estimate (a constant, a PERT, a 90% interval).
GROUPS: dict[str, tuple[str, ...]] = {
    "frequency": ("frequency",),
    "frequency_pert": ("frequency_low", "frequency_mode", "frequency_high"),
    "annual_probability": ("annual_probability",),
    "tef": ("tef_low", "tef_mode", "tef_high"),
    "susceptibility": ("susceptibility_low", "susceptibility_mode", "susceptibility_high"),
    "tcap": ("tcap_low", "tcap_mode", "tcap_high"),
    "rs": ("rs_low", "rs_mode", "rs_high"),
    "loss": ("loss_low", "loss_mode", "loss_high"),
    "secondary_probability": ("secondary_probability",),
    "secondary_loss": ("secondary_loss_low", "secondary_loss_mode", "secondary_loss_high"),
}
#: Every column a flat register may have, in the order they are written.
CSV_COLUMNS: tuple[str, ...] = ("name",) + OPTIONAL_TEXT + tuple(c for g in GROUPS.values() for c in g)
#: The groups that state a frequency (a row fills exactly one).
FREQUENCY_GROUPS: tuple[str, ...] = ("frequency", "frequency_pert", "annual_probability", "tef")
#: The ceiling on each column holding money or an event rate.
CEILINGS: dict[str, Ceiling] = {
    **{c: MONEY for g in ("loss", "secondary_loss") for c in GROUPS[g]},
    **{c: EVENTS_PER_YEAR for g in ("frequency", "frequency_pert", "tef") for c in GROUPS[g]},
}
#: Columns holding text (neutralised against formula injection in CSV and Excel files).
TEXT_COLUMNS: tuple[str, ...] = ("name",) + OPTIONAL_TEXT


class RowContext:
    """Where a row comes from (file, line, scenario) and the file's names for riskbudget's columns, for errors."""

    def __init__(self, source: str, line: int | str, name: str | None, aliases: Mapping[str, str] | None = None) -> None:
        self.source, self.line, self.name = source, line, name
        self.aliases = aliases or {}

    def where(self, column: str | None = None) -> str:
        parts = [self.source, f"line {self.line}" if isinstance(self.line, int) else str(self.line)]
        if self.name:
            parts.append(f"scenario {shown(self.name)}")
        if column:
            labels = ", ".join(self.aliases.get(c.strip(), c.strip()) for c in column.replace("/", ",").split(","))
            parts.append(f"column {labels}")
        return ", ".join(p for p in parts if p)

    def error(self, column: str | None, message: str) -> RegisterError:
        return RegisterError(f"{self.where(column)}: {message}")

    def label(self, column: str) -> str:
        """The file's name for a riskbudget column (its own header in another tool's layout)."""
        return self.aliases.get(column, column)

    def has(self, column: str) -> bool:
        """Whether the file's layout has the column (riskbudget's own layout has them all)."""
        return not self.aliases or column in self.aliases


#: How to write a number that is not an amount of money, as the messages show it.
NUMBER_HINT = " (write plain numbers such as 250000 or 2.5e5)"


def _number(ctx: RowContext, column: str, raw: Any) -> float | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None  # NaN: an empty spreadsheet cell
    if not isinstance(raw, (int, float)) or isinstance(raw, bool):
        raw = str(raw).strip()
        if raw == "":
            return None
    ceiling = CEILINGS.get(column)
    if ceiling is MONEY:  # negative amounts reach the estimate's own rule (a lognormal needs positive bounds)
        return parse_money(raw, where=ctx.where(column), name="value", allow_negative=True, error=RegisterError)
    return parse_number(raw, where=ctx.where(column), name="value", ceiling=ceiling, error=RegisterError,
                        hint=NUMBER_HINT)


def _group(ctx: RowContext, row: Mapping[str, Any], group: str) -> dict[str, float] | None:
    cols = GROUPS[group]
    values = {c: _number(ctx, c, row.get(c)) for c in cols}
    filled = {c: v for c, v in values.items() if v is not None}
    return filled or None


def _build(ctx: RowContext, columns: tuple[str, ...], build: Callable[[], Distribution]) -> Distribution:
    try:
        return build()
    except RiskBudgetError as exc:
        raise ctx.error("/".join(columns), str(exc)) from None


def _pert(ctx: RowContext, group: str, values: dict[str, float]) -> Distribution:
    cols = GROUPS[group]
    missing = [c for c in cols if c not in values]
    if missing:
        raise ctx.error(
            ", ".join(missing),
            f"missing; a PERT estimate needs all of {', '.join(cols)} (got {', '.join(f'{k}={v:g}' for k, v in values.items())})",
        )
    return _build(ctx, cols, lambda: PERT(values[cols[0]], values[cols[1]], values[cols[2]]))


def _loss(ctx: RowContext, group: str, values: dict[str, float]) -> Distribution:
    low_c, mode_c, high_c = GROUPS[group]
    pert_hint = f" or add {ctx.label(mode_c)} for PERT" if ctx.has(mode_c) else ""
    for c in (low_c, high_c):
        if c not in values:
            raise ctx.error(c, f"missing; give {ctx.label(low_c)} and {ctx.label(high_c)} (a 90% interval){pert_hint}")
    low, high = values[low_c], values[high_c]
    if high < low:
        raise ctx.error(high_c, f"value {high:g} must exceed {ctx.label(low_c)} ({low:g}) for a 90% interval; swapped?")
    if mode_c in values:
        return _build(ctx, (low_c, mode_c, high_c), lambda: PERT(low, values[mode_c], high))
    if low <= 0:
        raise ctx.error(low_c, f"value {low:g} must be > 0: a lognormal 90% interval needs positive bounds{pert_hint.replace(' or', ' (or', 1) + ')' if pert_hint else ''}")
    return _build(ctx, (low_c, high_c), lambda: LogNormal.from_ci(low, high))


def _constant(ctx: RowContext, column: str, value: float, *, probability: bool = False) -> Distribution:
    if value < 0:
        raise ctx.error(column, f"value {value:g} must be >= 0")
    if probability and value > 1:
        raise ctx.error(column, f"value {value:g} is a probability and must lie in [0, 1]")
    return Constant(value)


def scenario_from_row(
    row: Mapping[str, Any], *, source: str = "", line: int | str = "", aliases: Mapping[str, str] | None = None
) -> Scenario:
    """Build a :class:`Scenario` from one flat register row (a mapping column -> value).

    ``aliases`` maps riskbudget column names to the names shown in errors
    (for files in another tool's layout).
    """
    raw_name = row.get("name")
    name = "" if raw_name is None or (isinstance(raw_name, float) and math.isnan(raw_name)) else str(raw_name).strip()
    ctx = RowContext(source, line, name or None, aliases)
    if not name:
        raise ctx.error("name", "is empty; every scenario needs a unique name")
    name = check_text(ctx.where("name"), "value", name, RegisterError)
    groups = {g: _group(ctx, row, g) for g in GROUPS}

    freq_given = [g for g in FREQUENCY_GROUPS if groups[g]]
    if not freq_given:
        raise ctx.error(
            None,
            "no frequency; fill exactly one of: frequency, frequency_low/mode/high, annual_probability, "
            "or tef_low/mode/high with susceptibility_* or tcap_* and rs_*",
        )
    if len(freq_given) > 1:
        cols = [", ".join(GROUPS[g]) for g in freq_given]
        raise ctx.error(None, f"competing frequencies in columns ({') and ('.join(cols)}); fill only one")
    kwargs: dict[str, Any] = {}
    fg = freq_given[0]
    vals = groups[fg]
    assert vals is not None
    if fg == "frequency":
        kwargs["loss_event_frequency"] = _constant(ctx, "frequency", vals["frequency"])
    elif fg == "frequency_pert":
        kwargs["loss_event_frequency"] = _pert(ctx, fg, vals)
    elif fg == "annual_probability":
        kwargs["annual_probability"] = _constant(ctx, "annual_probability", vals["annual_probability"], probability=True)
    else:
        kwargs["threat_event_frequency"] = _pert(ctx, fg, vals)

    susc = [g for g in ("susceptibility", "tcap", "rs") if groups[g]]
    if fg != "tef" and susc:
        filled = ", ".join(c for g in susc for c in GROUPS[g] if c in (groups[g] or {}))
        raise ctx.error(filled, f"susceptibility columns apply only with tef_low/mode/high, not with {', '.join(GROUPS[fg])}")
    if fg == "tef":
        if not susc:
            raise ctx.error(None, "tef_* needs susceptibility_low/mode/high, or tcap_* and rs_*")
        if "susceptibility" in susc and len(susc) > 1:
            raise ctx.error(None, "competing susceptibility: fill susceptibility_* or tcap_* with rs_*, not both")
        if "susceptibility" in susc:
            kwargs["susceptibility"] = _pert(ctx, "susceptibility", groups["susceptibility"])  # type: ignore[arg-type]
        else:
            for g, key in (("tcap", "threat_capability"), ("rs", "resistance_strength")):
                if not groups[g]:
                    raise ctx.error(", ".join(GROUPS[g]), "missing; capability vs resistance needs both tcap_* and rs_*")
                kwargs[key] = _pert(ctx, g, groups[g])  # type: ignore[arg-type]

    if not groups["loss"]:
        raise ctx.error("loss_low, loss_high", "missing; give the loss per event as a 90% interval (or add loss_mode for PERT)")
    kwargs["primary_loss"] = _loss(ctx, "loss", groups["loss"])
    sp, sl = groups["secondary_probability"], groups["secondary_loss"]
    if sp and not sl:
        raise ctx.error("secondary_loss_low, secondary_loss_high", "missing; secondary_probability needs a secondary loss")
    if sl and not sp:
        raise ctx.error("secondary_probability", "missing; a secondary loss needs the share of loss events that have one")
    if sp and sl:
        kwargs["secondary_loss_probability"] = _constant(ctx, "secondary_probability", sp["secondary_probability"], probability=True)
        kwargs["secondary_loss"] = _loss(ctx, "secondary_loss", sl)
    for col in OPTIONAL_TEXT:
        value = row.get(col)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            kwargs[col] = check_text(ctx.where(col), "value", str(value).strip(), RegisterError,
                                     multiline=col == "description")
    try:
        return Scenario(name, **kwargs)
    except RiskBudgetError as exc:
        raise ctx.error(None, str(exc)) from None


def _fmt(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() or abs(x) >= 1e16 else str(int(x))


def scenario_to_row(scenario: Scenario) -> dict[str, str]:
    """The flat-register row of a scenario; raises if the scenario needs YAML/JSON."""

    def fail(what: str) -> RegisterError:
        return RegisterError(
            f"Scenario {scenario.name!r}: {what} has no column in the flat CSV layout; "
            f"write the register as YAML or JSON to keep the full factor tree"
        )

    if scenario.adjustments:
        raise fail("an adjustment from a control or project")
    row: dict[str, str] = {"name": scenario.name}
    for col in OPTIONAL_TEXT:
        if getattr(scenario, col):
            row[col] = getattr(scenario, col)

    def pert_cols(group: str, d: Distribution | None, what: str) -> None:
        if not isinstance(d, PERT) or d.lam != 4.0:
            raise fail(f"{what} {d}")
        for c, v in zip(GROUPS[group], (d.low, d.mode, d.high)):
            row[c] = _fmt(v)

    def loss_cols(group: str, d: Any, what: str) -> None:
        low_c, mode_c, high_c = GROUPS[group]
        if isinstance(d, PERT) and d.lam == 4.0:
            row[low_c], row[mode_c], row[high_c] = _fmt(d.low), _fmt(d.mode), _fmt(d.high)
        elif isinstance(d, LogNormal) and d.ci is not None and d.ci[2] == 0.90:
            row[low_c], row[high_c] = _fmt(d.ci[0]), _fmt(d.ci[1])
        else:
            raise fail(f"{what} {d}")

    kind = scenario.frequency_kind
    if kind == "loss_event_frequency":
        d = scenario.loss_event_frequency
        if isinstance(d, Constant):
            row["frequency"] = _fmt(d.value)
        else:
            pert_cols("frequency_pert", d, "loss_event_frequency")
    elif kind == "annual_probability":
        if not isinstance(scenario.annual_probability, Constant):
            raise fail(f"annual_probability {scenario.annual_probability}")
        row["annual_probability"] = _fmt(scenario.annual_probability.value)
    elif kind == "threat_event_frequency":
        pert_cols("tef", scenario.threat_event_frequency, "threat_event_frequency")
        if scenario.susceptibility is not None:
            pert_cols("susceptibility", scenario.susceptibility, "susceptibility")
        else:
            pert_cols("tcap", scenario.threat_capability, "threat_capability")
            pert_cols("rs", scenario.resistance_strength, "resistance_strength")
    else:
        raise fail("contact_frequency x probability_of_action")
    if isinstance(scenario.primary_loss, LossForms):
        raise fail("primary_loss by forms of loss")
    loss_cols("loss", scenario.primary_loss, "primary_loss")
    if scenario.secondary_loss is not None:
        if not isinstance(scenario.secondary_loss_probability, Constant):
            raise fail(f"secondary_loss_probability {scenario.secondary_loss_probability}")
        row["secondary_probability"] = _fmt(scenario.secondary_loss_probability.value)
        if isinstance(scenario.secondary_loss, LossForms):
            raise fail("secondary_loss by forms of loss")
        loss_cols("secondary_loss", scenario.secondary_loss, "secondary_loss")
    return row


def check_columns(source: str, columns: Iterable[str], allowed: Iterable[str] = CSV_COLUMNS) -> None:
    """Refuse unknown or repeated columns and a missing ``name``, naming ``source`` and the allowed columns."""
    columns = list(columns)
    allowed = tuple(allowed)
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise RegisterError(
            f"{source}: unknown column(s) {shown(unknown, limit=400)}; the allowed columns are {', '.join(allowed)}"
        )
    if "name" not in columns:
        raise RegisterError(f"{source}: the required column 'name' is missing (found {shown(columns, limit=400)})")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise RegisterError(f"{source}: column(s) {dupes} appear more than once")


def register_from_rows(
    rows: Iterable[tuple[int | str, Mapping[str, Any]]], *, source: str, aliases: Mapping[str, str] | None = None
) -> Register:
    """Build a register from (line, row) pairs, checking names are unique."""
    scenarios: list[Scenario] = []
    first_line: dict[str, int | str] = {}
    id_line: dict[str, int | str] = {}
    for line, row in rows:
        s = scenario_from_row(row, source=source, line=line, aliases=aliases)
        if s.name in first_line:
            raise RegisterError(
                f"{source}, line {line}, column name: scenario {s.name!r} already appears on line "
                f"{first_line[s.name]}; names must be unique"
            )
        first_line[s.name] = line
        if s.id:
            if s.id in id_line:
                raise RegisterError(
                    f"{source}, line {line}, scenario {s.name!r}, column id: id {s.id!r} is already used on line "
                    f"{id_line[s.id]}; ids must be unique (controls may name scenarios by id)"
                )
            id_line[s.id] = line
        scenarios.append(s)
    if not scenarios:
        raise RegisterError(f"{source}: the register has no scenarios")
    return Register(scenarios, source=source)


