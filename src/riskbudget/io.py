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
``owner``, ``description``. Amounts of money may be written as people type
them: ``250000``, ``2.5e5``, ``250K``, ``1.2M`` and ``$250,000`` are read
alike (digits grouped by threes; ``1,5`` is refused); other columns hold
plain numbers.

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

Modules: the row <-> scenario conversion shared by every flat format lives in
the private ``riskbudget._rows`` (re-exported here: :data:`CSV_COLUMNS`,
:data:`TEXT_COLUMNS`, :func:`scenario_from_row`, :func:`scenario_to_row`,
:func:`register_from_rows`); other tools' column layouts in
:mod:`riskbudget.layouts`; Excel in :mod:`riskbudget.excel`; safe reading and
:func:`atomic_write` in ``riskbudget._files``; the bundled example's paths
(:func:`example_path`) in ``riskbudget._package_data``. This module chooses
among them by the file's suffix.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import _files, excel, layouts
from ._files import atomic_write
from ._package_data import example_path
from ._rows import CSV_COLUMNS, TEXT_COLUMNS, register_from_rows, scenario_from_row, scenario_to_row
from .distributions import Distribution
from .exceptions import RegisterError, RiskBudgetError, missing_dependency, shown
from .fair import Register, Scenario, as_register

__all__ = [
    "read_register",
    "write_register",
    "register_from_frame",
    "register_to_frame",
    "CSV_COLUMNS",
    "atomic_write",
    "example_path",
    "TEXT_COLUMNS",
    "scenario_from_row",
    "scenario_to_row",
    "register_from_rows",
]


def _read_csv(path: Path, layout: str) -> Register:
    records = _files.read_csv(path, RegisterError, what="register")
    if not records:
        raise RegisterError(f"{path}: the file is empty; expected a header row with at least 'name'")
    header = [h.strip() for h in records[0]]
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
