"""Excel registers (``.xlsx``): a register sheet with the same columns as the flat CSV.

Reading uses openpyxl in read-only mode. Cell *values* are what Excel saved:
a formula is never evaluated (not by riskbudget, not by openpyxl), so a
formula cell must carry the value Excel computed when the file was last
saved; one without a saved value is an error naming the sheet, row and
column. Every row is validated exactly as a CSV row is (the same
:func:`riskbudget.io.scenario_from_row`, from the private ``riskbudget._rows``), and errors name the file, the sheet,
the row, the scenario and the column (its header and letter).

Writing produces a ``register`` sheet (numbers as numbers, text as text, a
frozen header row) and an ``about`` sheet describing the columns; the file is
written atomically. Text cells that start with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return are written with a leading ``'`` (as OWASP advises
against formula injection, and as in CSV files, so a sheet saved as CSV stays
safe); reading removes it again, so the register read back is equal. Files
larger than 50 MB are refused before openpyxl opens them.

Examples
--------
>>> import tempfile, pathlib
>>> import riskbudget as rb
>>> reg = rb.read_register(rb.io.example_path())
>>> path = pathlib.Path(tempfile.mkdtemp()) / "register.xlsx"
>>> _ = rb.write_register(reg, path)
>>> rb.read_register(path) == reg
True
"""

from __future__ import annotations

import io as _io
import os
from pathlib import Path
from typing import Any

from . import _files, layouts
from ._rows import CSV_COLUMNS, TEXT_COLUMNS, register_from_rows, scenario_to_row
from .exceptions import RegisterError, RiskBudgetError, missing_dependency, shown
from .fair import Register, as_register

__all__ = ["read_excel_register", "write_excel_register", "DEFAULT_SHEET"]

#: The sheet read by default (else the first sheet) and written.
DEFAULT_SHEET = "register"


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise missing_dependency("openpyxl", "excel", "Reading or writing Excel registers") from None
    return openpyxl


def _pick_sheet(path: Path, names: list[str], sheet: str | int | None) -> str:
    if sheet is None:
        return DEFAULT_SHEET if DEFAULT_SHEET in names else names[0]
    if isinstance(sheet, bool):
        raise RegisterError(f"{path}: sheet must be a sheet name or a 0-based index, not {sheet!r}")
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise RegisterError(f"{path}: sheet index {sheet} is out of range; the workbook has {len(names)} sheet(s): {names}")
        return names[sheet]
    if sheet not in names:
        raise RegisterError(f"{path}: no sheet named {sheet!r}; the sheets are {names}")
    return sheet


def _cell_value(where: str, value_cell: Any, formula_cell: Any) -> Any:
    """The saved value of a cell; errors for formulas without a saved value and for Excel error values."""
    value = getattr(value_cell, "value", None)
    formula = getattr(formula_cell, "value", None)
    is_formula = getattr(formula_cell, "data_type", None) == "f" or (isinstance(formula, str) and formula.startswith("="))
    if is_formula and value is None:
        raise RegisterError(
            f"{where}: the cell holds the formula {str(formula)!r} but no saved value. riskbudget never evaluates "
            f"formulas; open the file in Excel (or LibreOffice) and save it so the computed value is stored, or type "
            f"the number"
        )
    if getattr(value_cell, "data_type", None) == "e":
        raise RegisterError(f"{where}: the cell shows the Excel error {value!r}; fix the cell so it holds a number")
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return None
    # dates, times and anything else: show it as text so the row validation names it
    return str(value)


def read_excel_register(
    path: str | os.PathLike[str], *, layout: str = "riskbudget", sheet: str | int | None = None
) -> Register:
    """Read a register from an Excel workbook.

    Parameters
    ----------
    path : str or path-like
        An ``.xlsx`` (or ``.xlsm``) file.
    layout : str, default "riskbudget"
        Column layout (see :mod:`riskbudget.layouts`): the first row of the
        sheet holds that layout's column names.
    sheet : str or int, optional
        Sheet name or 0-based index; by default the sheet called
        ``register``, else the first sheet.

    Returns
    -------
    Register

    Raises
    ------
    RegisterError
        Naming the file, sheet, row, scenario and column of the first problem.
    """
    openpyxl = _openpyxl()
    from openpyxl.utils import get_column_letter

    path = _files.check_file(path, RegisterError, what="register")
    spec = layouts.get(layout)
    try:
        values_wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas_wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException for bad files
        raise RegisterError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc})") from None
    source = str(path)
    try:
        name = _pick_sheet(path, list(values_wb.sheetnames), sheet)
        source = f"{path}, sheet {name!r}"
        value_rows = values_wb[name].iter_rows()
        formula_rows = formulas_wb[name].iter_rows()
        header_cells = next(value_rows, None)
        header_formulas = next(formula_rows, None)
        if header_cells is None:
            raise RegisterError(f"{source}: the sheet is empty; expected a header row with at least 'name'")
        header: list[str | None] = []
        for k, (vc, fc) in enumerate(zip(header_cells, header_formulas or header_cells), start=1):
            v = _cell_value(f"{source}, row 1, column {get_column_letter(k)}", vc, fc)
            header.append(None if v is None else str(v).strip())
        while header and header[-1] is None:
            header.pop()
        named = [h for h in header if h is not None]
        spec.check_columns(source, named)
        if len(set(named)) != len(named):
            dupes = sorted({h for h in named if named.count(h) > 1})
            raise RegisterError(f"{source}: column(s) {dupes} appear more than once in the header row")
        letters = {h: get_column_letter(k) for k, h in enumerate(header, start=1) if h is not None}
        text_columns = set(spec.text_columns(named))

        rows: list[tuple[int | str, dict[str, Any]]] = []
        for r, (vcells, fcells) in enumerate(zip(value_rows, formula_rows), start=2):
            record: dict[str, Any] = {}
            for k, (vc, fc) in enumerate(zip(vcells, fcells), start=1):
                col = header[k - 1] if k - 1 < len(header) else None
                where = f"{source}, row {r}, column {col + ' (' + get_column_letter(k) + ')' if col else get_column_letter(k)}"
                value = _cell_value(where, vc, fc)
                if col is None:
                    if value is not None:
                        raise RegisterError(
                            f"{source}, row {r}, column {get_column_letter(k)}: the cell holds {value!r} but the column "
                            f"has no header; name the column or clear it"
                        )
                    continue
                record[col] = _files.unescape_cell(value) if col in text_columns and isinstance(value, str) else value
            if all(v is None for v in record.values()):
                continue  # a blank row holds no data
            rows.append((f"row {r}", record))
    except RiskBudgetError:
        raise
    except Exception as exc:  # openpyxl parses the sheet's XML lazily, while the rows are read
        raise RegisterError(f"{source}: the sheet could not be read ({type(exc).__name__}: {exc})") from None
    finally:
        values_wb.close()
        formulas_wb.close()

    if spec.name == "riskbudget":
        aliases = {c: f"{c} ({letters[c]})" if c in letters else c for c in CSV_COLUMNS}
        mapped = rows
    else:
        aliases = {v: f"{k} ({letters[k]})" for k, v in spec.mapping.items() if k in letters}
        mapped = [(line, {spec.mapping[k]: v for k, v in rec.items()}) for line, rec in rows]
    if not mapped:
        raise RegisterError(f"{source}: the register has no scenarios (no data rows below the header)")
    first: dict[str, Any] = {}
    name_label = aliases.get("name", "name")
    for line, rec in mapped:
        nm = rec.get("name")
        key = str(nm).strip() if nm is not None else ""
        if key and key in first:
            raise RegisterError(
                f"{source}, {line}, column {name_label}: scenario {shown(key)} already appears in {first[key]}; "
                f"names must be unique"
            )
        first.setdefault(key, line)
    return register_from_rows(mapped, source=source, aliases=aliases)


def _typed(column: str, text: str) -> Any:
    if column in TEXT_COLUMNS:
        return _files.escape_cell(text)
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def write_excel_register(register: Any, path: str | os.PathLike[str]) -> Path:
    """Write a register to an ``.xlsx`` workbook (atomically); :func:`read_excel_register` reads it back.

    The ``register`` sheet has the flat CSV columns, numbers stored as
    numbers. Text is stored as text, never as a formula, and text that starts
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    ``'`` (removed again on reading). Scenarios that need the full factor tree
    (forms of loss, adjustments) raise the same error as CSV: write YAML or
    JSON instead.
    """
    openpyxl = _openpyxl()
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    reg = as_register(register)
    rows = [scenario_to_row(s) for s in reg]
    used = [c for c in CSV_COLUMNS if any(c in r for r in rows)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = DEFAULT_SHEET
    ws.append(used)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(rows, start=2):
        for k, col in enumerate(used, start=1):
            text = row.get(col, "")
            if text == "":
                continue
            cell = ws.cell(row=r, column=k, value=_typed(col, text))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # literal text, even if it starts with "="
    for k, col in enumerate(used, start=1):
        width = max([len(col)] + [len(str(row.get(col, ""))) for row in rows])
        ws.column_dimensions[get_column_letter(k)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = "B2"

    about = wb.create_sheet("about")
    about.append(["riskbudget register", f"{len(reg)} scenarios; read it with riskbudget.read_register(path)"])
    about.append([])
    about.append(["column", "meaning"])
    for cell in about[3]:
        cell.font = Font(bold=True)
    for col in used:
        about.append([col, _COLUMN_HELP.get(col, "")])
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100

    buf = _io.BytesIO()
    wb.save(buf)
    return _files.atomic_write(path, buf.getvalue())


_COLUMN_HELP = {
    "name": "unique scenario name",
    "id": "your identifier",
    "category": "grouping, e.g. ransomware",
    "owner": "who owns the risk",
    "description": "free text",
    "frequency": "loss events per year (a constant Poisson rate)",
    "frequency_low": "loss events per year, PERT minimum",
    "frequency_mode": "loss events per year, PERT most likely",
    "frequency_high": "loss events per year, PERT maximum",
    "annual_probability": "chance of the loss event in a year (at most one a year)",
    "tef_low": "threat events per year, PERT minimum",
    "tef_mode": "threat events per year, PERT most likely",
    "tef_high": "threat events per year, PERT maximum",
    "susceptibility_low": "P(threat event becomes a loss event), PERT minimum",
    "susceptibility_mode": "P(threat event becomes a loss event), PERT most likely",
    "susceptibility_high": "P(threat event becomes a loss event), PERT maximum",
    "tcap_low": "threat capability percentile, PERT minimum",
    "tcap_mode": "threat capability percentile, PERT most likely",
    "tcap_high": "threat capability percentile, PERT maximum",
    "rs_low": "resistance strength percentile, PERT minimum",
    "rs_mode": "resistance strength percentile, PERT most likely",
    "rs_high": "resistance strength percentile, PERT maximum",
    "loss_low": "loss per event: 5th percentile (lognormal 90% interval), or PERT minimum with loss_mode",
    "loss_mode": "loss per event, PERT most likely (leave empty for a lognormal)",
    "loss_high": "loss per event: 95th percentile (lognormal 90% interval), or PERT maximum with loss_mode",
    "secondary_probability": "share of loss events with secondary losses",
    "secondary_loss_low": "secondary loss per event, 5th percentile (or PERT minimum)",
    "secondary_loss_mode": "secondary loss per event, PERT most likely",
    "secondary_loss_high": "secondary loss per event, 95th percentile (or PERT maximum)",
}

