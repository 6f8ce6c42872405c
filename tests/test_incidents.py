"""Incident histories: reading, exposure, counting per year and group, and every bad-input rule."""

from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pandas as pd
import pytest

from riskbudget.bayes import IncidentData, IncidentDataError, read_incidents

from .conftest import EXAMPLE, ROOT

EXPOSURE = {2019: 0.70, 2020: 0.75, 2021: 0.82, 2022: 0.88, 2023: 0.94, 2024: 1.00}


def _script():
    spec = importlib.util.spec_from_file_location("make_incidents", ROOT / "scripts" / "make_incidents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> IncidentData:
    return read_incidents(
        EXAMPLE / "incidents.csv", threshold=10_000, start="2019-07-01", end="2024-12-31", exposure=EXPOSURE
    )


def _csv(tmp_path, body: str, name: str = "incidents.csv"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body).lstrip())
    return p


# --------------------------------------------------------------------------- #
# The example file
# --------------------------------------------------------------------------- #
def test_example_file_reads(example):
    f = example.frame
    assert len(example) == 45
    assert list(f.columns[:5]) == ["id", "date", "unit", "category", "loss"]
    assert f["date"].dtype.kind == "M" and f["loss"].dtype == float
    assert example.units == ("Corporate IT", "Freight forwarding", "Road freight", "Warehousing")
    assert "ransomware" in example.categories and "bec_fraud" in example.categories
    assert (f["loss"] >= 10_000).all()
    assert example.start == pd.Timestamp("2019-07-01") and example.end == pd.Timestamp("2024-12-31")


def test_example_file_is_what_the_script_generates():
    """data/example/incidents.csv is reproducible from the stated parameters and seed."""
    script = _script()
    generated = script.generate()
    on_disk = pd.read_csv(EXAMPLE / "incidents.csv", dtype={"loss": "int64"})
    pd.testing.assert_frame_equal(generated.reset_index(drop=True), on_disk, check_dtype=False)
    truth = script.truth()
    assert truth["threshold"] == 10_000 and truth["exposure"] == EXPOSURE


def test_observed_fraction_counts_partial_years(example):
    frac = example.observed_fraction()
    assert frac[2019] == pytest.approx(184 / 365)  # 1 July to 31 December
    assert (frac.loc[2020:2024] == 1.0).all()
    assert example.observed_years() == pytest.approx(5 + 184 / 365)


def test_periods_pooled_and_per_unit(example):
    total = example.periods()
    assert list(total["group"].unique()) == ["all"]
    assert total["events"].sum() == 45
    assert total.set_index("year")["exposure"][2019] == pytest.approx(184 / 365 * 0.70)
    assert total.set_index("year")["exposure"][2023] == pytest.approx(0.94)
    per_unit = example.periods("unit")
    assert len(per_unit) == 4 * 6
    assert per_unit["events"].sum() == 45
    counts = per_unit.groupby("group")["events"].sum().to_dict()
    assert counts == example.frame["unit"].value_counts().to_dict()
    by_cat = example.periods("category")
    assert by_cat["events"].sum() == 45 and set(by_cat["group"]) == set(example.categories)


def test_default_window_is_whole_calendar_years():
    data = read_incidents(EXAMPLE / "incidents.csv", threshold=10_000)
    assert data.start == pd.Timestamp("2019-01-01") and data.end == pd.Timestamp("2024-12-31")
    assert data.observed_years() == pytest.approx(6.0)


def test_per_unit_exposure_table(example):
    rows = [{"year": y, "unit": u, "exposure": 2.0 if u == "Road freight" else 1.0} for y in EXPOSURE for u in example.units]
    data = read_incidents(EXAMPLE / "incidents.csv", threshold=10_000, start="2019-07-01", exposure=pd.DataFrame(rows))
    per_unit = data.periods("unit").set_index(["group", "year"])
    assert per_unit.loc[("Road freight", 2022), "exposure"] == 2.0
    assert per_unit.loc[("Warehousing", 2022), "exposure"] == 1.0
    # The company as a whole adds the units' weights.
    assert data.periods().set_index("year").loc[2022, "weight"] == 5.0


def test_units_without_incidents_are_kept(tmp_path):
    p = _csv(tmp_path, "date,unit,loss,category\n2023-02-01,Ops,20000,ddos\n")
    data = read_incidents(p, units=["Ops", "Finance"], categories=["ddos", "ransomware"])
    per_unit = data.periods("unit")
    assert per_unit.loc[per_unit["group"] == "Finance", "events"].sum() == 0
    assert set(per_unit["group"]) == {"Ops", "Finance"}


def test_filter_by_category_and_unit(example):
    rw = example.filter(category="ransomware")
    assert len(rw) == (example.frame["category"] == "ransomware").sum()
    assert rw.categories == ("ransomware",) and rw.start == example.start
    both = example.filter(category=["ransomware", "ddos"], unit="Road freight")
    assert set(both.frame["category"]) <= {"ransomware", "ddos"} and set(both.frame["unit"]) == {"Road freight"}
    with pytest.raises(IncidentDataError, match=r"unknown category 'malware'"):
        example.filter(category="malware")
    with pytest.raises(IncidentDataError, match=r"unknown unit 'Mars'"):
        example.filter(unit="Mars")


def test_dataframe_input_and_extra_columns_are_kept():
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-05", "2024-03-01"]),
            "unit": ["Ops", "IT"],
            "loss": [15_000, 22_500.5],
            "category": ["bec_fraud", "ddos"],
            "ticket": ["T-1", "T-2"],
        }
    )
    data = read_incidents(df, threshold=10_000)
    assert list(data.frame["ticket"]) == ["T-1", "T-2"]
    assert data.losses().tolist() == [15_000.0, 22_500.5]
    assert data.losses("IT").tolist() == [22_500.5]
    assert "2 incidents" in repr(data)


# --------------------------------------------------------------------------- #
# Bad input: every rule names the line (or row), the column, the value and the rule
# --------------------------------------------------------------------------- #
GOOD = "2023-04-17,Ops,25000,bec_fraud"


@pytest.mark.parametrize(
    "row, match",
    [
        (",Ops,25000,bec_fraud", r"incidents\.csv: line 3, column date: missing date"),
        ("2023-13-01,Ops,25000,bec_fraud", r"line 3, column date: '2023-13-01' is not a date; write ISO dates like 2023-04-17"),
        ("03/04/2023,Ops,25000,bec_fraud", r"line 3, column date: '03/04/2023' is not a date"),
        ("yesterday,Ops,25000,bec_fraud", r"line 3, column date: 'yesterday' is not a date"),
        ("2023-05-01,Ops,,bec_fraud", r"line 3, column loss: missing loss"),
        ("2023-05-01,Ops,-2500,bec_fraud", r"line 3, column loss: -2500 is negative; a loss is a positive amount"),
        ("2023-05-01,Ops,abc,bec_fraud", r"line 3, column loss: 'abc' is not a number$"),
        ('2023-05-01,Ops,"12,000",bec_fraud', r"line 3, column loss: '12,000' is not a number; write plain numbers without thousands separators"),
        ("2023-05-01,Ops,$12000,bec_fraud", r"line 3, column loss: '\$12000' is not a number; write plain numbers"),
        ("2023-05-01,Ops,nan,bec_fraud", r"line 3, column loss: 'nan' is not a finite amount"),
        ("2023-05-01,Ops,0,bec_fraud", r"line 3, column loss: 0 is not a loss"),
        ("2023-05-01,Ops,5000,bec_fraud", r"line 3, column loss: 5000 is below the reporting threshold \(10000\)"),
        ("2023-05-01,,25000,bec_fraud", r"line 3, column unit: missing unit"),
        ("2023-05-01,Ops,25000,", r"line 3, column category: missing category"),
    ],
)
def test_bad_rows_name_line_column_value_and_rule(tmp_path, row, match):
    p = _csv(tmp_path, f"date,unit,loss,category\n{GOOD}\n{row}\n")
    with pytest.raises(IncidentDataError, match=match):
        read_incidents(p, threshold=10_000)


def test_unknown_unit_and_category(tmp_path):
    p = _csv(tmp_path, f"date,unit,loss,category\n{GOOD}\n2023-05-01,Opps,25000,bec_fraud\n")
    with pytest.raises(IncidentDataError, match=r"line 3, column unit: unknown unit 'Opps'; expected one of \['Ops', 'IT'\]"):
        read_incidents(p, units=["Ops", "IT"])
    with pytest.raises(IncidentDataError, match=r"line 2, column category: unknown category 'bec_fraud'; expected one of \['ddos'\]"):
        read_incidents(p, units=["Ops", "Opps"], categories=["ddos"])


def test_all_problems_are_listed_at_once(tmp_path):
    p = _csv(tmp_path, "date,unit,loss,category\n2023-13-01,Ops,25000,x\n2023-01-02,Ops,-5,x\n2023-01-03,Ops,1,x\n")
    with pytest.raises(IncidentDataError) as err:
        read_incidents(p, threshold=10)
    msg = str(err.value)
    assert msg.startswith("incidents.csv: 3 problems:")
    assert "line 2, column date" in msg and "line 3, column loss: -5 is negative" in msg
    assert "line 4, column loss: 1 is below the reporting threshold (10)" in msg


def test_dataframe_rows_are_named_by_index_label():
    df = pd.DataFrame({"date": ["2024-01-05", None], "unit": ["Ops", "Ops"], "loss": [1.0, 2.0], "category": ["a", "a"]},
                      index=["first", "second"])
    with pytest.raises(IncidentDataError, match=r"DataFrame: row 'second', column date: missing date"):
        read_incidents(df)
    df2 = pd.DataFrame({"date": ["2024-01-05"], "unit": ["Ops"], "loss": ["lots"], "category": ["a"]})
    with pytest.raises(IncidentDataError, match=r"DataFrame: row 0, column loss: 'lots' is not a number"):
        read_incidents(df2)


def test_missing_columns(tmp_path):
    p = _csv(tmp_path, "when,unit,loss\n2023-01-01,Ops,5\n")
    with pytest.raises(IncidentDataError, match=r"missing column\(s\) \['date', 'category'\]; an incident table needs"):
        read_incidents(p)


def test_window_rules(tmp_path):
    p = _csv(tmp_path, f"date,unit,loss,category\n{GOOD}\n")
    with pytest.raises(IncidentDataError, match=r"line 2, column date: 2023-04-17 is outside the observation window 2023-06-01 to 2023-12-31"):
        read_incidents(p, start="2023-06-01", end="2023-12-31")
    with pytest.raises(IncidentDataError, match=r"end \(2022-01-01\) is before start \(2023-01-01\); swapped\?"):
        read_incidents(p, start="2023-01-01", end="2022-01-01")
    with pytest.raises(IncidentDataError, match=r"start \('someday'\) is not a date"):
        read_incidents(p, start="someday")
    empty = _csv(tmp_path, "date,unit,loss,category\n", name="empty.csv")
    with pytest.raises(IncidentDataError, match=r"there are no incidents, so give the observation window"):
        read_incidents(empty)
    data = read_incidents(empty, start="2023-01-01", end="2023-12-31", units=["Ops"])
    assert len(data) == 0 and data.periods()["events"].sum() == 0


@pytest.mark.parametrize(
    "exposure, match",
    [
        ({2023: 1.0}, r"exposure is missing for year 2024"),
        ({2023: 1.0, 2024: 0.0}, r"exposure for 2024 \(0\.0\) must be a finite number > 0"),
        ({2023: 1.0, 2024: "x"}, r"exposure for 2024 \('x'\) must be a number"),
        (-1.0, r"exposure \(constant\) \(-1\.0\) must be a finite number > 0"),
        (pd.DataFrame({"year": [2023, 2024], "unit": ["Ops", "Mars"], "exposure": [1, 1]}), r"exposure row 1, column unit: unknown unit 'Mars'"),
        (pd.DataFrame({"year": [2023], "unit": ["Ops"], "exposure": [1]}), r"exposure is missing for year 2024 and unit 'Ops'"),
        (pd.DataFrame({"yr": [2023], "exposure": [1]}), r"an exposure table needs columns 'year' and 'exposure'"),
        ("lots", r"exposure \(constant\) \('lots'\) must be a number"),
    ],
)
def test_exposure_rules(tmp_path, exposure, match):
    p = _csv(tmp_path, f"date,unit,loss,category\n{GOOD}\n")
    with pytest.raises(IncidentDataError, match=match):
        read_incidents(p, start="2023-01-01", end="2024-12-31", exposure=exposure)


def test_threshold_and_label_list_rules(tmp_path):
    p = _csv(tmp_path, f"date,unit,loss,category\n{GOOD}\n")
    with pytest.raises(IncidentDataError, match=r"threshold \(-1\) must be a finite amount >= 0"):
        read_incidents(p, threshold=-1)
    with pytest.raises(IncidentDataError, match=r"units must be a list of names, not the single string 'Ops'"):
        read_incidents(p, units="Ops")
    with pytest.raises(IncidentDataError, match=r"units lists 'Ops' twice"):
        read_incidents(p, units=["Ops", "Ops"])
    with pytest.raises(FileNotFoundError, match=r"no file at"):
        read_incidents(tmp_path / "missing.csv")


def test_duplicate_column_and_whitespace(tmp_path):
    p = _csv(tmp_path, "date, unit ,loss,category,Unit\n2023-01-01,Ops,20000,x,Ops\n")
    with pytest.raises(IncidentDataError, match=r"column 'unit' appears more than once"):
        read_incidents(p)
    q = _csv(tmp_path, "Date, Unit , Loss ,Category\n2023-01-01, Ops , 20000 , x \n", name="q.csv")
    data = read_incidents(q)
    assert data.units == ("Ops",) and data.categories == ("x",) and data.losses().tolist() == [20000.0]


def test_iso_datetimes_with_time_and_timezone_are_accepted(tmp_path):
    p = _csv(tmp_path, "date,unit,loss,category\n2023-01-01T10:30:00Z,Ops,20000,x\n2023-01-02 08:00,Ops,30000,x\n")
    data = read_incidents(p)
    assert data.frame["date"].dt.day.tolist() == [1, 2]
    assert np.all(data.frame["date"].dt.year == 2023)
