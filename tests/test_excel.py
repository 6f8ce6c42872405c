"""Excel registers: same columns and validation as CSV; formulas never evaluated; errors name sheet, row, column."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

import riskbudget as rb
from riskbudget.excel import read_excel_register, write_excel_register

openpyxl = pytest.importorskip("openpyxl")


def workbook(path: Path, rows: list[list], *, title: str = "register", extra: dict[str, list[list]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for name, sheet_rows in (extra or {}).items():
        other = wb.create_sheet(name)
        for row in sheet_rows:
            other.append(row)
    wb.save(path)
    return path


def patch_cell(path: Path, cell: str, new_xml: str) -> Path:
    """Replace one cell's XML in the first worksheet (to store what openpyxl cannot: cached values, errors)."""
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    name = "xl/worksheets/sheet1.xml"
    xml = items[name].decode("utf-8")
    xml, count = re.subn(rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)', new_xml, xml, count=1)
    assert count == 1, f"cell {cell} not found"
    items[name] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in items.items():
            z.writestr(n, data)
    return path


HEADER = ["name", "frequency", "loss_low", "loss_high"]


# --------------------------------------------------------------------------- #
# Round trips
# --------------------------------------------------------------------------- #
def test_example_register_round_trips_through_excel(tmp_path, example_register):
    path = rb.write_register(example_register, tmp_path / "register.xlsx")
    assert rb.read_register(path) == example_register
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temp file left
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["register", "about"]
    ws = wb["register"]
    header = [c.value for c in ws[1]]
    assert header[0] == "name" and set(header) <= set(rb.io.CSV_COLUMNS)
    col = header.index("loss_low") + 1
    assert ws.cell(row=2, column=col).data_type == "n"  # numbers stored as numbers
    assert isinstance(ws.cell(row=2, column=col).value, int)
    assert ws.freeze_panes == "B2"


def test_excel_and_csv_give_the_same_register(tmp_path, example_register_path):
    csv_reg = rb.read_register(example_register_path)
    text = example_register_path.read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in text]
    # the example has no quoted commas; numbers go in as numbers, blanks as empty cells
    typed = [rows[0]] + [[(float(v) if re.fullmatch(r"[-+0-9.eE]+", v) else (v or None)) for v in r] for r in rows[1:]]
    path = workbook(tmp_path / "r.xlsx", typed)
    assert rb.read_register(path) == csv_reg


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path):
    s = rb.Scenario("=HYPERLINK(\"http://x\")", loss_event_frequency=1, primary_loss=rb.LogNormal.from_ci(1e3, 1e5),
                    description="=1+1")
    path = write_excel_register(rb.Register([s]), tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path)["register"]
    assert ws["A2"].data_type == "s"
    assert rb.read_register(path)["=HYPERLINK(\"http://x\")"].description == "=1+1"


def test_scenarios_that_need_the_factor_tree_are_refused(tmp_path):
    s = rb.Scenario("Forms", loss_event_frequency=1, primary_loss=rb.LossForms(response=rb.PERT(1, 2, 3)))
    with pytest.raises(rb.RegisterError, match="write the register as YAML or JSON"):
        rb.write_register([s], tmp_path / "r.xlsx")
    assert not (tmp_path / "r.xlsx").exists()


# --------------------------------------------------------------------------- #
# Formulas: saved values only, never evaluated
# --------------------------------------------------------------------------- #
def test_formula_without_a_saved_value_is_an_error_naming_sheet_row_column(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [HEADER, ["A", 1, 1000, 100000], ["B", 2, "=C2*2", 100000]])
    with pytest.raises(rb.RegisterError) as err:
        rb.read_register(path)
    msg = str(err.value)
    assert f"{path}, sheet 'register', row 3, column loss_low (C)" in msg
    assert "'=C2*2' but no saved value" in msg and "never evaluates formulas" in msg


def test_formula_with_a_saved_value_uses_the_value(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [HEADER, ["A", 1, 1000, 100000], ["B", 2, "=C2*2", 100000]])
    patch_cell(path, "C3", '<c r="C3"><f>C2*2</f><v>2000</v></c>')
    reg = rb.read_register(path)
    assert reg["B"].primary_loss == rb.LogNormal.from_ci(2000, 100000)


def test_excel_error_value_is_an_error(tmp_path):
    path = workbook(tmp_path / "e.xlsx", [HEADER, ["A", 1, 1000, 100000]])
    patch_cell(path, "B2", '<c r="B2" t="e"><v>#DIV/0!</v></c>')
    with pytest.raises(rb.RegisterError, match=r"sheet 'register', row 2, column frequency \(B\): the cell shows the Excel error '#DIV/0!'"):
        rb.read_register(path)


# --------------------------------------------------------------------------- #
# Row validation is the CSV validation, located by sheet, row, column
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "row,match",
    [
        (["B", "often", 1000, 100000], r"row 3, scenario 'B', column frequency \(B\): value \('often'\) must be a number"),
        (["B", 1, 100000, 1000], r"row 3, scenario 'B', column loss_high \(D\): value 1000 must exceed loss_low \(C\) \(100000\)"),
        (["B", -1, 1000, 100000], r"row 3, scenario 'B', column frequency \(B\): value -1 must be >= 0"),
        (["B", True, 1000, 100000], r"row 3, scenario 'B', column frequency \(B\): value \('True'\) must be a number"),
        (["B", None, 1000, 100000], r"row 3, scenario 'B': no frequency"),
        ([None, 1, 1000, 100000], r"row 3, column name \(A\): is empty"),
        (["A", 1, 1000, 100000], r"row 3, column name \(A\): scenario 'A' already appears in row 2"),
    ],
)
def test_bad_rows_name_sheet_row_scenario_and_column(tmp_path, row, match):
    path = workbook(tmp_path / "b.xlsx", [HEADER, ["A", 1, 1000, 100000], row])
    with pytest.raises(rb.RegisterError, match=re.escape(f"{path}, sheet 'register', ") + match):
        rb.read_register(path)


def test_dates_are_not_numbers(tmp_path):
    import datetime

    path = workbook(tmp_path / "d.xlsx", [HEADER, ["A", datetime.datetime(2024, 1, 1), 1000, 100000]])
    with pytest.raises(rb.RegisterError, match=r"column frequency \(B\): value \('2024-01-01 00:00:00'\) must be a number"):
        rb.read_register(path)


@pytest.mark.parametrize(
    "rows,match",
    [
        ([["name", "freqency", "loss_low", "loss_high"], ["A", 1, 1, 2]], r"sheet 'register': unknown column\(s\) \['freqency'\]"),
        ([["frequency", "loss_low", "loss_high"], [1, 1, 2]], r"the required column 'name' is missing"),
        ([HEADER + ["frequency"], ["A", 1, 1, 2, 1]], r"column\(s\) \['frequency'\] appear more than once"),
        ([HEADER, ["A", 1, 1000, 100000, "stray"]], r"row 2, column E: the cell holds 'stray' but the column has no header"),
        ([HEADER], r"sheet 'register': the register has no scenarios"),
        ([], r"sheet 'register': the sheet is empty"),
    ],
)
def test_sheet_level_errors(tmp_path, rows, match):
    path = workbook(tmp_path / "s.xlsx", rows)
    with pytest.raises(rb.RegisterError, match=match):
        rb.read_register(path)


def test_blank_rows_and_trailing_blank_columns_are_skipped(tmp_path):
    path = workbook(tmp_path / "b.xlsx", [HEADER + [None], ["A", 1, 1000, 100000], [None, None, None, None], ["B", 2, 10, 1000]])
    assert rb.read_register(path).names == ("A", "B")


def test_text_numbers_and_padding_are_read_like_csv(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, ["  A  ", " 1.5 ", "1e3", "1e5"]])
    s = rb.read_register(path)["A"]
    assert s.loss_event_frequency == rb.Constant(1.5) and s.primary_loss == rb.LogNormal.from_ci(1e3, 1e5)


# --------------------------------------------------------------------------- #
# Sheets and layouts
# --------------------------------------------------------------------------- #
def test_sheet_selection(tmp_path):
    good = [HEADER, ["A", 1, 1000, 100000]]
    path = workbook(tmp_path / "m.xlsx", [["notes"]], title="cover", extra={"register": good, "other": [HEADER, ["Z", 1, 1, 2]]})
    assert rb.read_register(path).names == ("A",)  # the sheet called "register" by default
    assert rb.read_register(path, sheet="other").names == ("Z",)
    assert read_excel_register(path, sheet=2).names == ("Z",)
    with pytest.raises(rb.RegisterError, match=r"no sheet named 'risks'; the sheets are \['cover', 'register', 'other'\]"):
        rb.read_register(path, sheet="risks")
    with pytest.raises(rb.RegisterError, match=r"sheet index 5 is out of range; the workbook has 3 sheet\(s\)"):
        rb.read_register(path, sheet=5)
    first = workbook(tmp_path / "f.xlsx", good, title="Risks 2025")
    assert rb.read_register(first).names == ("A",)  # no "register" sheet: the first one
    reg = rb.read_register(first)
    assert reg.source == f"{first}, sheet 'Risks 2025'"


def test_excel_with_another_tools_layout(tmp_path):
    path = workbook(tmp_path / "rq.xlsx", [["id", "name", "freq", "low", "high"], ["R1", "Phishing", 2.5, 1e4, 4e5]])
    s = rb.read_register(path, layout="riskquant")["Phishing"]
    assert s.id == "R1" and s.loss_event_frequency == rb.Constant(2.5)
    bad = workbook(tmp_path / "rq2.xlsx", [["id", "name", "freq", "low", "high"], ["R1", "Phishing", 2.5, 4e5, 1e4]])
    with pytest.raises(rb.RegisterError, match=r"row 2, scenario 'Phishing', column high \(E\): value 10000 must exceed low \(D\)"):
        rb.read_register(bad, layout="riskquant")


def test_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("name,frequency\n")
    with pytest.raises(rb.RegisterError, match="not a readable Excel workbook"):
        rb.read_register(path)
    with pytest.raises(rb.RegisterError, match="no such file"):
        read_excel_register(tmp_path / "missing.xlsx")
