"""Read and write risk registers: flat CSV, and YAML or JSON for full factor trees.

Flat CSV layout (one scenario per row)
--------------------------------------
``name`` is required and unique. Frequency comes from exactly one of

* ``frequency`` - a Poisson rate of loss events per year (a constant);
* ``frequency_low, frequency_mode, frequency_high`` - a PERT rate of loss events;
* ``annual_probability`` - at most one loss event a year, with this probability;
* ``tef_low, tef_mode, tef_high`` - a PERT threat event frequency, with either
  ``susceptibility_low, susceptibility_mode, susceptibility_high`` (PERT) or
  ``tcap_low, tcap_mode, tcap_high`` and ``rs_low, rs_mode, rs_high`` (PERT
  threat capability and resistance strength, in [0, 1]).

Loss per event: ``loss_low, loss_high`` (a lognormal 90% interval) or
``loss_low, loss_mode, loss_high`` (PERT). Optional secondary loss:
``secondary_probability`` (share of loss events with secondary effects) with
``secondary_loss_low, secondary_loss_high`` (lognormal 90% interval; add
``secondary_loss_mode`` for PERT). Optional text: ``id``, ``category``,
``owner``, ``description``.

A bad row raises :class:`~riskbudget.exceptions.RegisterError` naming the
file, the line, the scenario, the column and the value. Unknown columns are an
error that lists the allowed ones. Nothing is silently dropped. Files are
written atomically (a temporary file, then a rename).

Limits (``docs/errors.md``): amounts of money (``loss_*``,
``secondary_loss_*``) are at most :data:`~riskbudget.exceptions.MONEY` (1e15)
and event rates (``frequency*``, ``tef_*``) at most
:data:`~riskbudget.exceptions.EVENTS_PER_YEAR` (1e6 a year); names and text
hold no control characters; files are UTF-8 and at most 50 MB; YAML and JSON
are read without aliases or duplicate keys and nest at most 32 levels.

Spreadsheet formula injection: text cells written to CSV (and Excel) that
start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a
leading ``'``, as OWASP advises, so a spreadsheet shows them as text instead
of running them; the readers remove that ``'`` again, so a register read
back is equal to the one written. Numbers are never changed.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from . import _files
from .distributions import PERT, Constant, Distribution, LogNormal
from .exceptions import (
    EVENTS_PER_YEAR,
    MONEY,
    Ceiling,
    RegisterError,
    RiskBudgetError,
    check_finite,
    check_text,
    missing_dependency,
    shown,
)
from .fair import LossForms, Register, Scenario, as_register

__all__ = [
    "read_register",
    "write_register",
    "register_from_frame",
    "register_to_frame",
    "CSV_COLUMNS",
    "atomic_write",
    "example_path",
]

_TEXT = ("id", "category", "owner", "description")
_GROUPS: dict[str, tuple[str, ...]] = {
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
CSV_COLUMNS: tuple[str, ...] = ("name",) + _TEXT + tuple(c for g in _GROUPS.values() for c in g)
_FREQUENCY_GROUPS = ("frequency", "frequency_pert", "annual_probability", "tef")
#: The ceiling on each column holding money or an event rate.
_CEILINGS: dict[str, Ceiling] = {
    **{c: MONEY for g in ("loss", "secondary_loss") for c in _GROUPS[g]},
    **{c: EVENTS_PER_YEAR for g in ("frequency", "frequency_pert", "tef") for c in _GROUPS[g]},
}
#: Columns holding text (neutralised against formula injection in CSV and Excel files).
TEXT_COLUMNS: tuple[str, ...] = ("name",) + _TEXT


def example_path(name: str = "register.csv") -> Path:
    """Path of a file of the bundled example: an alias of :func:`riskbudget.datasets.example_path`."""
    # datasets sits above io (its loaders call read_register), hence the import here
    from . import datasets

    return datasets.example_path(name)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give the result the mode a plain open() would
        # (the existing file's mode, else 0666 minus the umask)
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(tmp, mode)
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as fb:
                fb.write(data)
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as ft:
                ft.write(data)
                ft.flush()
                os.fsync(ft.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


# --------------------------------------------------------------------------- #
# Flat rows <-> scenarios
# --------------------------------------------------------------------------- #
class _RowContext:
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


def _number(ctx: _RowContext, column: str, raw: Any) -> float | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None  # NaN: an empty spreadsheet cell
    if not isinstance(raw, (int, float)) or isinstance(raw, bool):
        raw = str(raw).strip()
        if raw == "":
            return None
    return check_finite(
        ctx.where(column), "value", raw, RegisterError, ceiling=_CEILINGS.get(column),
        hint=" (write plain numbers such as 250000 or 2.5e5)",
    )


def _group(ctx: _RowContext, row: Mapping[str, Any], group: str) -> dict[str, float] | None:
    cols = _GROUPS[group]
    values = {c: _number(ctx, c, row.get(c)) for c in cols}
    filled = {c: v for c, v in values.items() if v is not None}
    return filled or None


def _build(ctx: _RowContext, columns: tuple[str, ...], build: Callable[[], Distribution]) -> Distribution:
    try:
        return build()
    except RiskBudgetError as exc:
        raise ctx.error("/".join(columns), str(exc)) from None


def _pert(ctx: _RowContext, group: str, values: dict[str, float]) -> Distribution:
    cols = _GROUPS[group]
    missing = [c for c in cols if c not in values]
    if missing:
        raise ctx.error(
            ", ".join(missing),
            f"missing; a PERT estimate needs all of {', '.join(cols)} (got {', '.join(f'{k}={v:g}' for k, v in values.items())})",
        )
    return _build(ctx, cols, lambda: PERT(values[cols[0]], values[cols[1]], values[cols[2]]))


def _loss(ctx: _RowContext, group: str, values: dict[str, float]) -> Distribution:
    low_c, mode_c, high_c = _GROUPS[group]
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


def _constant(ctx: _RowContext, column: str, value: float, *, probability: bool = False) -> Distribution:
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
    ctx = _RowContext(source, line, name or None, aliases)
    if not name:
        raise ctx.error("name", "is empty; every scenario needs a unique name")
    name = check_text(ctx.where("name"), "value", name, RegisterError)
    groups = {g: _group(ctx, row, g) for g in _GROUPS}

    freq_given = [g for g in _FREQUENCY_GROUPS if groups[g]]
    if not freq_given:
        raise ctx.error(
            None,
            "no frequency; fill exactly one of: frequency, frequency_low/mode/high, annual_probability, "
            "or tef_low/mode/high with susceptibility_* or tcap_* and rs_*",
        )
    if len(freq_given) > 1:
        cols = [", ".join(_GROUPS[g]) for g in freq_given]
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
        filled = ", ".join(c for g in susc for c in _GROUPS[g] if c in (groups[g] or {}))
        raise ctx.error(filled, f"susceptibility columns apply only with tef_low/mode/high, not with {', '.join(_GROUPS[fg])}")
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
                    raise ctx.error(", ".join(_GROUPS[g]), "missing; capability vs resistance needs both tcap_* and rs_*")
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
    for col in _TEXT:
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
    for col in _TEXT:
        if getattr(scenario, col):
            row[col] = getattr(scenario, col)

    def pert_cols(group: str, d: Distribution | None, what: str) -> None:
        if not isinstance(d, PERT) or d.lam != 4.0:
            raise fail(f"{what} {d}")
        for c, v in zip(_GROUPS[group], (d.low, d.mode, d.high)):
            row[c] = _fmt(v)

    def loss_cols(group: str, d: Any, what: str) -> None:
        low_c, mode_c, high_c = _GROUPS[group]
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


def _check_columns(source: str, columns: Iterable[str], allowed: Iterable[str] = CSV_COLUMNS) -> None:
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


def _read_csv(path: Path, layout: str) -> Register:
    records = _files.read_csv(path, RegisterError, what="register")
    if not records:
        raise RegisterError(f"{path}: the file is empty; expected a header row with at least 'name'")
    header = [h.strip() for h in records[0]]
    from . import layouts

    spec = layouts.get(layout)
    spec.check_columns(str(path), header)
    text_columns = spec.text_columns(header)
    rows = []
    for line_no, values in enumerate(records[1:], start=2):
        if not any(v.strip() for v in values):
            continue  # a blank line holds no data
        if len(values) != len(header):
            raise RegisterError(
                f"{path}, line {line_no}: {len(values)} values but the header has {len(header)} columns"
            )
        row = dict(zip(header, values))
        for col in text_columns:
            row[col] = _files.unescape_cell(row[col])
        rows.append((line_no, row))
    return spec.build(rows, source=str(path))


def _read_tree(path: Path, data: Any) -> Register:
    source = str(path)
    if isinstance(data, Mapping):
        unknown = set(data) - {"scenarios", "format", "version", "description"}
        if unknown:
            raise RegisterError(
                f"{source}: unknown top-level key(s) {sorted(map(str, unknown))}; expected 'scenarios' "
                f"(and optionally 'format', 'version', 'description')"
            )
        data = data.get("scenarios")
    if not isinstance(data, list) or not data:
        raise RegisterError(
            f"{source}: expected a non-empty list of scenarios under 'scenarios', not {shown(data)}"
        )
    scenarios = []
    for i, item in enumerate(data, start=1):
        name = item.get("name") if isinstance(item, Mapping) else None
        try:
            scenarios.append(Scenario.from_dict(item))
        except RiskBudgetError as exc:
            raise RegisterError(f"{source}, scenario #{i} {shown(name)}: {exc}") from None
    try:
        return Register(scenarios, source=source)
    except RiskBudgetError as exc:
        raise RegisterError(f"{source}: {exc}") from None


def read_register(path: str | os.PathLike[str], *, layout: str = "riskbudget", sheet: str | int | None = None) -> Register:
    """Read a risk register.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` (flat, one scenario per row), ``.yaml``/``.yml`` or ``.json``
        (full factor trees, as written by :func:`write_register`), or
        ``.xlsx`` (a register sheet with the CSV columns).
    layout : str, default "riskbudget"
        Column layout of a flat file. Other tools' layouts are listed in
        :mod:`riskbudget.layouts`.
    sheet : str or int, optional
        Excel sheet (default: the sheet named ``register``, else the first).

    Returns
    -------
    Register

    Raises
    ------
    RegisterError
        Naming the file, line, scenario, column and value of the first problem.

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.read_register(rb.io.example_path("register.csv"))
    >>> len(reg) >= 10
    True
    """
    path = _files.check_file(path, RegisterError, what="register")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, layout)
    if suffix in (".xlsx", ".xlsm"):
        from . import excel

        return excel.read_excel_register(path, layout=layout, sheet=sheet)
    if layout != "riskbudget":
        raise RegisterError(f"{path}: layout {layout!r} applies to flat CSV or Excel registers only")
    if suffix == ".json":
        return _read_tree(path, _files.load_json(path, RegisterError, what="register"))
    if suffix in (".yaml", ".yml"):
        data = _files.load_yaml(path, RegisterError, what="register", purpose="Reading a YAML register")
        return _read_tree(path, data)
    raise RegisterError(f"{path}: unknown register format {suffix!r}; use .csv, .xlsx, .yaml, .yml or .json")


def register_to_frame(register: Any) -> Any:
    """The flat-register table of a register, as a DataFrame of strings."""
    import pandas as pd

    reg = as_register(register)
    rows = [scenario_to_row(s) for s in reg]
    used = [c for c in CSV_COLUMNS if any(c in r for r in rows)]
    return pd.DataFrame([{c: r.get(c, "") for c in used} for r in rows], columns=used)


def register_from_frame(frame: Any, *, source: str = "DataFrame", first_line: int = 2, layout: str = "riskbudget") -> Register:
    """Build a register from a DataFrame with the flat columns of ``layout``."""
    from . import layouts

    spec = layouts.get(layout)
    spec.check_columns(source, [str(c) for c in frame.columns])
    rows = [(first_line + i, {str(k): v for k, v in rec.items()}) for i, rec in enumerate(frame.to_dict("records"))]
    return spec.build(rows, source=source)


def write_register(register: Any, path: str | os.PathLike[str]) -> Path:
    """Write a register; the format follows the suffix (``.csv``, ``.yaml``, ``.json``, ``.xlsx``).

    CSV holds only what fits its flat layout (an error says when YAML or JSON
    is needed). YAML and JSON hold any scenario. The file is written
    atomically, and reading it back gives an equal register.
    """
    reg = as_register(register)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = [scenario_to_row(s) for s in reg]
        used = [c for c in CSV_COLUMNS if any(c in r for r in rows)]
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=used, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({c: _files.escape_cell(r[c]) if c in TEXT_COLUMNS and c in r else r.get(c, "") for c in used})
        return atomic_write(path, buf.getvalue())
    if suffix in (".xlsx", ".xlsm"):
        from . import excel

        return excel.write_excel_register(reg, path)
    for s in reg:
        for adj in s.adjustments:
            if not isinstance(adj.multiplier, Distribution):
                raise RegisterError(
                    f"Scenario {s.name!r}: the adjustment from {adj.source!r} on {adj.factor} is a "
                    f"{type(adj.multiplier).__name__}, built from a control or project, which a register file cannot "
                    f"hold; write the inherent register (Scenario.without_adjustments) and keep controls and projects "
                    f"in their own files"
                )
    tree = {"format": "riskbudget-register", "version": 1, "scenarios": [s.to_dict() for s in reg]}
    if suffix == ".json":
        return atomic_write(path, json.dumps(tree, indent=2) + "\n")
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise missing_dependency("pyyaml", "yaml", "Writing a YAML register") from None
        return atomic_write(path, yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
    raise RegisterError(f"{path}: unknown register format {suffix!r}; use .csv, .xlsx, .yaml, .yml or .json")
