"""Reading controls and projects from CSV files.

Files are read through :mod:`riskbudget._files` (UTF-8, at most 50 MB, CSV
fields within the csv module's limit); amounts of money (``cost_per_year``,
``sbd_cost_per_year``, ``value_*``, ``cost_per_hour_*``) are at most
:data:`~riskbudget.exceptions.MONEY` and may be written as in a register
(``250000``, ``2.5e5``, ``250K``, ``$250,000``; :mod:`riskbudget._parse`), and
names and text hold no control characters. Every error names the file, the
line, the item and the column.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _files
from .._parse import parse_money, parse_number
from .._rows import CSV_COLUMNS as REGISTER_COLUMNS
from .._rows import NUMBER_HINT, scenario_from_row
from ..distributions import PERT, Constant, Distribution
from ..exceptions import MONEY, Ceiling, RiskBudgetError, shown
from ._common import FUNCTIONS, ControlError, ProjectError, _share_estimate
from .control import Control
from .effects import ResponseSLA
from .project import Project, RiskChange, SecurityByDesign

# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
_TRIPLE = ("low", "mode", "high")
_CONTROL_TEXT = ("applies_to", "loss_factor", "sla_factor", "requires", "excludes", "category", "owner", "description")
_CONTROL_NUMBERS = (
    "cost_per_year",
    "coverage",
    "lapses_per_year",
    "days_per_lapse",
    "strength_when_lapsed",
    "disruption_share",
    "one_off_cost",
    "lead_time_months",
)
_CONTROL_ESTIMATES = tuple(FUNCTIONS) + ("contain_hours", "contain_hours_with_control", "cost_per_hour")
#: Every column a controls file may have.
CONTROL_COLUMNS: tuple[str, ...] = (
    ("name",)
    + _CONTROL_NUMBERS[:1]
    + _CONTROL_TEXT[:1]
    + tuple(f"{e}_{t}" for e in _CONTROL_ESTIMATES for t in _TRIPLE)
    + _CONTROL_NUMBERS[1:]
    + _CONTROL_TEXT[1:]
)

_PROJECT_TEXT = ("adds_risk_to", "risk_factor", "requires", "excludes", "category", "owner", "description")
_PROJECT_NUMBERS = ("cost_per_year", "probability_of_failure", "sbd_cost_per_year", "sbd_delay_months",
                    "one_off_cost", "lead_time_months")
_PROJECT_ESTIMATES = ("value", "risk_increase", "sbd_risk_removed")
_NEW_PREFIX = "new_"


def _new_scenario_columns() -> dict[str, str]:
    """projects-file column -> register column, for a project's new scenario."""
    out = {"new_scenario": "name"}
    for c in REGISTER_COLUMNS:
        if c != "name":
            out[_NEW_PREFIX + c] = c
    return out


#: Every column a projects file may have (``new_*`` columns describe a new scenario as in a register).
PROJECT_COLUMNS: tuple[str, ...] = (
    ("name",)
    + _PROJECT_NUMBERS[:2]
    + tuple(f"{e}_{t}" for e in _PROJECT_ESTIMATES for t in _TRIPLE)
    + _PROJECT_NUMBERS[2:]
    + _PROJECT_TEXT
)


#: Columns (and column prefixes) holding money, capped at MONEY.
_MONEY_COLUMNS = ("cost_per_year", "sbd_cost_per_year", "one_off_cost")
_MONEY_PREFIXES = ("value_", "cost_per_hour_")


def _ceiling(column: str) -> Ceiling | None:
    return MONEY if column in _MONEY_COLUMNS or column.startswith(_MONEY_PREFIXES) else None


class _Row:
    def __init__(self, source: str, line: int, kind: str, name: str | None, err: type[RiskBudgetError]) -> None:
        self.source, self.line, self.kind, self.name, self.err = source, line, kind, name, err

    def where(self, column: str | None) -> str:
        parts = [self.source, f"line {self.line}"]
        if self.name:
            parts.append(f"{self.kind} {shown(self.name)}")
        if column:
            parts.append(f"column {column}")
        return ", ".join(parts)

    def error(self, column: str | None, message: str) -> RiskBudgetError:
        return self.err(f"{self.where(column)}: {message}")

    def number(self, row: Mapping[str, str], column: str) -> float | None:
        raw = row.get(column)
        if raw is None or str(raw).strip() == "":
            return None
        ceiling = _ceiling(column)
        if ceiling is MONEY:  # "250K" and "$250,000" as in registers; the sign is the item's own rule
            return parse_money(str(raw).strip(), where=self.where(column), name="value", allow_negative=True,
                               error=self.err)
        return parse_number(str(raw).strip(), where=self.where(column), name="value", ceiling=ceiling,
                            error=self.err, hint=NUMBER_HINT)

    def estimate(self, row: Mapping[str, str], prefix: str) -> Distribution | None:
        cols = [f"{prefix}_{t}" for t in _TRIPLE]
        values = [self.number(row, c) for c in cols]
        if all(v is None for v in values):
            return None
        missing = [c for c, v in zip(cols, values) if v is None]
        if missing:
            raise self.error(
                ", ".join(missing),
                f"missing; an estimate needs all of {', '.join(cols)} (equal values for a known number)",
            )
        low, mode, high = values  # type: ignore[misc]
        if low == mode == high:
            return Constant(low)  # type: ignore[arg-type]
        try:
            return PERT(low, mode, high)  # type: ignore[arg-type]
        except RiskBudgetError as exc:
            raise self.error(", ".join(cols), f"values ({low:g}, {mode:g}, {high:g}): {exc}") from None

    def wrap(self, column: str | None, build: Any) -> Any:
        try:
            return build()
        except RiskBudgetError as exc:
            raise self.error(column, str(exc)) from None


def _read_rows(
    path: str | os.PathLike[str], allowed: Sequence[str], err: type[RiskBudgetError], what: str, extra_ok: Any = None
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    p = _files.check_file(path, err, what=what)
    source = str(p)
    if p.suffix.lower() != ".csv":
        raise err(f"{source}: a {what} file must be CSV (.csv), not {p.suffix or 'no suffix'!r}")
    records = _files.read_csv(p, err, what=what)
    if not records:
        raise err(f"{source}: the file is empty; expected a header row with at least 'name' and 'cost_per_year'")
    header = [h.strip() for h in records[0]]
    unknown = [h for h in header if h not in allowed and not (extra_ok and extra_ok(h))]
    if unknown:
        raise err(
            f"{source}: unknown column(s) {shown(unknown, limit=400)}; the allowed columns are {', '.join(allowed)}"
        )
    for required in ("name", "cost_per_year"):
        if required not in header:
            raise err(f"{source}: the required column {required!r} is missing (found {header})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise err(f"{source}: column(s) {dupes} appear more than once")
    rows = []
    for line_no, values in enumerate(records[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise err(f"{source}, line {line_no}: {len(values)} values but the header has {len(header)} columns")
        rows.append((line_no, dict(zip(header, values))))
    if not rows:
        raise err(f"{source}: the file has a header but no {what}s")
    return source, rows


def _unique_names(source: str, rows: list[tuple[int, Any]], err: type[RiskBudgetError], kind: str) -> None:
    first: dict[str, int] = {}
    for line, item in rows:
        if item.name in first:
            raise err(
                f"{source}, line {line}, column name: {kind} {item.name!r} already appears on line {first[item.name]}; names must be unique"
            )
        first[item.name] = line


def read_controls(path: str | os.PathLike[str]) -> tuple[Control, ...]:
    """Read security controls from a CSV file, one control per row.

    Columns: ``name``, ``cost_per_year`` and ``applies_to`` (scenario names, ids
    or categories separated by ``;``, or ``*``); effects as shares removed, each
    a PERT ``<function>_low, <function>_mode, <function>_high`` (equal values
    for a known number) for ``avoidance``, ``deterrence``, ``resistance``,
    ``detection`` and ``response``; ``loss_factor`` for detection and response;
    an incident-response SLA with ``contain_hours_*`` (today),
    ``contain_hours_with_control_*``, ``cost_per_hour_*`` or
    ``disruption_share``, and ``sla_factor``; imperfection with ``coverage``,
    ``lapses_per_year``, ``days_per_lapse`` and ``strength_when_lapsed``;
    ``requires`` and ``excludes`` (names separated by ``;``); ``category``,
    ``owner``, ``description``; for multi-year plans ``one_off_cost`` (paid in
    year 1) and ``lead_time_months`` (the effect starts after it).

    Returns
    -------
    tuple of Control

    Raises
    ------
    ControlError
        Naming the file, line, control, column and value of the first problem.

    Examples
    --------
    >>> import riskbudget as rb
    >>> controls = read_controls(rb.io.example_path("controls.csv"))
    >>> len(controls) >= 10
    True
    """
    source, rows = _read_rows(path, CONTROL_COLUMNS, ControlError, "control")
    out = []
    for line, row in rows:
        name = (row.get("name") or "").strip()
        ctx = _Row(source, line, "control", name or None, ControlError)
        if not name:
            raise ctx.error("name", "is empty; every control needs a unique name")
        kwargs: dict[str, Any] = {"name": name}
        cost = ctx.number(row, "cost_per_year")
        if cost is None:
            raise ctx.error("cost_per_year", "is empty; give the annual cost (0 for a free control)")
        kwargs["cost_per_year"] = cost
        applies = (row.get("applies_to") or "").strip()
        if not applies:
            raise ctx.error(
                "applies_to", "is empty; name the scenarios or categories it covers, separated by ';' ('*' for all)"
            )
        kwargs["applies_to"] = applies
        for fn in FUNCTIONS:
            d = ctx.estimate(row, fn)
            if d is not None:
                kwargs[fn] = ctx.wrap(
                    f"{fn}_low, {fn}_mode, {fn}_high",
                    lambda d=d, fn=fn, name=name: _share_estimate(f"Control {name!r}", fn, d, ControlError),
                )
        h0 = ctx.estimate(row, "contain_hours")
        h1 = ctx.estimate(row, "contain_hours_with_control")
        cph = ctx.estimate(row, "cost_per_hour")
        share = ctx.number(row, "disruption_share")
        sla_factor = (row.get("sla_factor") or "").strip()
        if h0 is not None or h1 is not None or cph is not None or share is not None or sla_factor:
            if h0 is None or h1 is None:
                missing = "contain_hours_low/mode/high" if h0 is None else "contain_hours_with_control_low/mode/high"
                raise ctx.error(
                    missing, "missing; an incident-response SLA needs hours to contain today and with the control"
                )
            sla_kwargs: dict[str, Any] = {"cost_per_hour": cph, "disruption_share": share}
            if sla_factor:
                sla_kwargs["factor"] = sla_factor
            kwargs["response_sla"] = ctx.wrap(
                "contain_hours_*, contain_hours_with_control_*, cost_per_hour_*, disruption_share, sla_factor",
                lambda h0=h0, h1=h1, kw=sla_kwargs: ResponseSLA(h0, h1, **kw),
            )
        for col in ("coverage", "lapses_per_year", "days_per_lapse", "strength_when_lapsed", "one_off_cost",
                    "lead_time_months"):
            v = ctx.number(row, col)
            if v is not None:
                kwargs[col] = v
        for col in ("loss_factor", "requires", "excludes", "category", "owner", "description"):
            text = (row.get(col) or "").strip()
            if text:
                kwargs[col] = text
        control = _build_item(ctx, Control, kwargs)
        out.append((line, control))
    _unique_names(source, out, ControlError, "control")
    return tuple(c for _, c in out)


def _build_item(ctx: _Row, cls: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except RiskBudgetError as exc:
        column = exc.field if exc.field in kwargs else None  # the field the constructor names, not parsed text
        if column is not None:
            raise ctx.error(column, f"value {kwargs[column]!r}: {exc}") from None
        raise ctx.error(None, str(exc)) from None


def read_projects(path: str | os.PathLike[str]) -> tuple[Project, ...]:
    """Read IT projects from a CSV file, one project per row.

    Columns: ``name``, ``cost_per_year``, ``value_low/mode/high`` (PERT value
    per year if delivered), ``probability_of_failure``; added risk with
    ``adds_risk_to`` (scenario names, ids or categories separated by ``;``),
    ``risk_factor`` (default ``frequency``) and ``risk_increase_low/mode/high``
    (relative increase); a security-by-design option with
    ``sbd_cost_per_year``, ``sbd_delay_months`` and
    ``sbd_risk_removed_low/mode/high``; a new scenario with ``new_scenario``
    (its name) and any register column prefixed ``new_`` (``new_category``,
    ``new_frequency_low``, ``new_loss_low``, ...); ``requires``, ``excludes``,
    ``category``, ``owner``, ``description``; for multi-year plans
    ``one_off_cost`` (paid in year 1) and ``lead_time_months`` (value and added
    risk start after it; a security-by-design delay postpones the value).

    Returns
    -------
    tuple of Project

    Raises
    ------
    ProjectError
        Naming the file, line, project, column and value of the first problem.

    Examples
    --------
    >>> import riskbudget as rb
    >>> projects = read_projects(rb.io.example_path("projects.csv"))
    >>> len(projects) >= 5
    True
    """
    new_cols = _new_scenario_columns()
    source, rows = _read_rows(path, PROJECT_COLUMNS, ProjectError, "project", extra_ok=lambda h: h in new_cols)
    out = []
    for line, row in rows:
        name = (row.get("name") or "").strip()
        ctx = _Row(source, line, "project", name or None, ProjectError)
        if not name:
            raise ctx.error("name", "is empty; every project needs a unique name")
        kwargs: dict[str, Any] = {"name": name}
        cost = ctx.number(row, "cost_per_year")
        if cost is None:
            raise ctx.error("cost_per_year", "is empty; give the project's spend in the budget year")
        kwargs["cost_per_year"] = cost
        value = ctx.estimate(row, "value")
        if value is None:
            raise ctx.error(
                "value_low, value_mode, value_high", "missing; give the business value per year if delivered"
            )
        kwargs["value_per_year"] = value
        for col in ("probability_of_failure", "one_off_cost", "lead_time_months"):
            v = ctx.number(row, col)
            if v is not None:
                kwargs[col] = v
        targets = (row.get("adds_risk_to") or "").strip()
        increase = ctx.estimate(row, "risk_increase")
        factor = (row.get("risk_factor") or "").strip() or "frequency"
        if targets and increase is None:
            raise ctx.error(
                "risk_increase_low, risk_increase_mode, risk_increase_high",
                f"missing; adds_risk_to ({targets!r}) needs the relative increase",
            )
        if increase is not None and not targets:
            raise ctx.error("adds_risk_to", "is empty; name the scenarios or categories whose risk the project raises")
        if targets:
            kwargs["risk_changes"] = (
                ctx.wrap(
                    "adds_risk_to, risk_factor, risk_increase_*",
                    lambda t=targets, inc=increase, f=factor: RiskChange(t, inc, f),
                ),
            )
        sbd_cost = ctx.number(row, "sbd_cost_per_year")
        sbd_delay = ctx.number(row, "sbd_delay_months")
        sbd_removed = ctx.estimate(row, "sbd_risk_removed")
        if sbd_cost is not None or sbd_delay is not None or sbd_removed is not None:
            if sbd_cost is None or sbd_removed is None:
                missing = (
                    "sbd_cost_per_year"
                    if sbd_cost is None
                    else "sbd_risk_removed_low, sbd_risk_removed_mode, sbd_risk_removed_high"
                )
                raise ctx.error(
                    missing,
                    "missing; a security-by-design option needs its cost and the share of added risk it removes",
                )
            kwargs["security_by_design"] = ctx.wrap(
                "sbd_cost_per_year, sbd_delay_months, sbd_risk_removed_*",
                lambda c=sbd_cost, d=sbd_delay, r=sbd_removed: SecurityByDesign(c, d or 0.0, r),
            )
        new_values = {new_cols[c]: v for c, v in row.items() if c in new_cols and str(v).strip()}
        if new_values:
            if "name" not in new_values:
                raise ctx.error(
                    "new_scenario", "is empty, but other new_* columns are filled; name the project's new scenario"
                )
            aliases = {reg: col for col, reg in new_cols.items()}
            try:
                scenario = scenario_from_row(new_values, source=source, line=line, aliases=aliases)
            except RiskBudgetError as exc:
                raise ProjectError(f"project {name!r}: new scenario: {exc}") from None
            kwargs["new_scenarios"] = (scenario,)
        for col in ("requires", "excludes", "category", "owner", "description"):
            text = (row.get(col) or "").strip()
            if text:
                kwargs[col] = text
        out.append((line, _build_item(ctx, Project, kwargs)))
    _unique_names(source, out, ProjectError, "project")
    return tuple(p for _, p in out)
