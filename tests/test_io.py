"""Registers: the bundled example, lossless round trips, and errors that name the cell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import riskbudget as rb
from riskbudget.io import CSV_COLUMNS, atomic_write

HEADER = "name,frequency,loss_low,loss_high"


def write(tmp_path: Path, text: str, name: str = "reg.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bundled_example_register(example_register):
    assert 10 <= len(example_register) <= 20
    kinds = {s.frequency_kind for s in example_register}
    assert kinds == {"threat_event_frequency", "loss_event_frequency", "annual_probability"}
    assert {s.susceptibility_kind for s in example_register} == {None, "susceptibility", "capability_vs_resistance"}
    cats = set(example_register.categories)
    for needed in ("ransomware", "bec_fraud", "cloud_misconfiguration", "insider", "third_party", "ddos"):
        assert needed in cats
    erp = example_register["Ransomware on ERP and warehouse systems"]
    assert erp.threat_event_frequency == rb.PERT(0.2, 0.6, 2)
    assert erp.primary_loss == rb.LogNormal.from_ci(500_000, 12_000_000)
    assert erp.secondary_loss_probability == rb.Constant(0.3)
    assert erp.id == "R01" and erp.owner == "CIO"


@pytest.mark.parametrize("suffix", [".csv", ".yaml", ".json"])
def test_round_trip_is_lossless(example_register, tmp_path, suffix):
    path = rb.write_register(example_register, tmp_path / f"copy{suffix}")
    back = rb.read_register(path)
    assert back == example_register
    for a, b in zip(back, example_register):
        assert a.to_dict() == b.to_dict()


def test_yaml_and_json_keep_full_factor_trees(tmp_path, standard_scenario):
    tree = rb.Register(
        [
            standard_scenario,
            rb.Scenario(
                "forms",
                contact_frequency=rb.PERT(5, 10, 20),
                probability_of_action=rb.Beta(2, 5),
                susceptibility=rb.Triangular(0.1, 0.2, 0.4),
                primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 2e4, 9e4), response=rb.Gamma(2, 1e-4)),
                adjustments=(rb.Adjustment("frequency", rb.Uniform(0.5, 0.9), "MFA"),),
            ),
        ]
    )
    for suffix in (".yaml", ".json"):
        assert rb.read_register(rb.write_register(tree, tmp_path / f"t{suffix}")) == tree
    with pytest.raises(rb.RegisterError, match=r"Scenario 'standard': secondary_loss_probability PERT.*has no column in the flat CSV layout; write the register as YAML or JSON"):
        rb.write_register(tree, tmp_path / "t.csv")


def test_every_documented_column_is_allowed():
    for col in ("name", "frequency", "frequency_low", "frequency_mode", "frequency_high", "annual_probability",
                "tef_low", "tef_mode", "tef_high", "susceptibility_low", "susceptibility_mode", "susceptibility_high",
                "tcap_low", "tcap_mode", "tcap_high", "rs_low", "rs_mode", "rs_high", "loss_low", "loss_mode", "loss_high",
                "secondary_probability", "secondary_loss_low", "secondary_loss_high", "id", "category", "owner"):
        assert col in CSV_COLUMNS


def test_flat_columns_build_the_expected_factors(tmp_path):
    p = write(
        tmp_path,
        "name,frequency_low,frequency_mode,frequency_high,loss_low,loss_mode,loss_high,secondary_probability,secondary_loss_low,secondary_loss_high\n"
        "A,1,2,5,100,200,900,0.25,10,1000\n",
    )
    s = rb.read_register(p)["A"]
    assert s.loss_event_frequency == rb.PERT(1, 2, 5)
    assert s.primary_loss == rb.PERT(100, 200, 900)
    assert s.secondary_loss == rb.LogNormal.from_ci(10, 1000)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEADER + ",colour\nA,1,10,100,red\n", r"reg.csv: unknown column\(s\) \['colour'\]; the allowed columns are name, id"),
        ("frequency,loss_low,loss_high\n1,10,100\n", r"the required column 'name' is missing"),
        (HEADER + "\n,1,10,100\n", r"reg.csv, line 2, column name: is empty"),
        (HEADER + "\nA,1,10,100\nB,1,10,100\nA,2,10,100\n", r"reg.csv, line 4, column name: scenario 'A' already appears on line 2"),
        (HEADER + "\nA,often,10,100\n", r"reg.csv, line 2, scenario 'A', column frequency: value \('often'\) must be a number"),
        (HEADER + "\nA,1,50000,5000\n", r"line 2, scenario 'A', column loss_high: value 5000 must exceed loss_low \(50000\) for a 90% interval; swapped\?"),
        (HEADER + "\nA,1,0,100\n", r"column loss_low: value 0 must be > 0: a lognormal 90% interval needs positive bounds"),
        (HEADER + "\nA,-1,10,100\n", r"column frequency: value -1 must be >= 0"),
        (HEADER + "\nA,inf,10,100\n", r"column frequency: value \('inf'\) must be finite"),
        ("name,frequency,loss_low\nA,1,10\n", r"column loss_high: missing; give loss_low and loss_high"),
        ("name,loss_low,loss_high\nA,10,100\n", r"line 2, scenario 'A': no frequency; fill exactly one of"),
        ("name,frequency,annual_probability,loss_low,loss_high\nA,1,0.1,10,100\n", r"competing frequencies in columns \(frequency\) and \(annual_probability\)"),
        ("name,annual_probability,loss_low,loss_high\nA,1.5,10,100\n", r"column annual_probability: value 1.5 is a probability and must lie in \[0, 1\]"),
        ("name,tef_low,tef_high,susceptibility_low,susceptibility_mode,susceptibility_high,loss_low,loss_high\nA,1,3,0.1,0.2,0.3,10,100\n", r"column tef_mode: missing; a PERT estimate needs all of tef_low, tef_mode, tef_high"),
        ("name,tef_low,tef_mode,tef_high,loss_low,loss_high\nA,1,2,3,10,100\n", r"tef_\* needs susceptibility_low/mode/high, or tcap_\* and rs_\*"),
        ("name,tef_low,tef_mode,tef_high,tcap_low,tcap_mode,tcap_high,loss_low,loss_high\nA,1,2,3,0.1,0.5,0.9,10,100\n", r"column rs_low, rs_mode, rs_high: missing; capability vs resistance needs both"),
        ("name,frequency,susceptibility_low,susceptibility_mode,susceptibility_high,loss_low,loss_high\nA,1,0.1,0.2,0.3,10,100\n", r"susceptibility columns apply only with tef_low/mode/high"),
        ("name,tef_low,tef_mode,tef_high,susceptibility_low,susceptibility_mode,susceptibility_high,loss_low,loss_high\nA,1,2,3,0.1,0.5,1.4,10,100\n", r"scenario 'A': Scenario 'A': susceptibility must be a probability in \[0, 1\]"),
        ("name,frequency_low,frequency_mode,frequency_high,loss_low,loss_high\nA,3,2,5,10,100\n", r"column frequency_low, frequency_mode, frequency_high: PERT: mode \(2\) must lie in \[low, high\] = \[3, 5\]"),
        (HEADER + ",secondary_probability\nA,1,10,100,0.3\n", r"column secondary_loss_low, secondary_loss_high: missing; secondary_probability needs a secondary loss"),
        (HEADER + "\nA,1,10\n", r"reg.csv, line 2: 3 values but the header has 4 columns"),
        ("", r"reg.csv: the file is empty"),
        ("name,frequency,frequency,loss_low,loss_high\nA,1,1,10,100\n", r"column\(s\) \['frequency'\] appear more than once"),
    ],
)
def test_bad_rows_name_file_line_scenario_column_and_value(tmp_path, text, match):
    with pytest.raises(rb.RegisterError, match=match):
        rb.read_register(write(tmp_path, text))


def test_blank_lines_hold_nothing_and_are_not_rows(tmp_path):
    reg = rb.read_register(write(tmp_path, HEADER + "\nA,1,10,100\n\n,,,\nB,2,10,100\n"))
    assert reg.names == ("A", "B")


def test_file_level_errors(tmp_path):
    with pytest.raises(rb.RegisterError, match="no such file"):
        rb.read_register(tmp_path / "missing.csv")
    with pytest.raises(rb.RegisterError, match=r"unknown register format '.txt'"):
        rb.read_register(write(tmp_path, "x", "reg.txt"))
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(HEADER.encode() + b"\nCaf\xe9,1,10,100\n")
    with pytest.raises(rb.RegisterError, match="not UTF-8 text"):
        rb.read_register(bad)
    with pytest.raises(rb.RegisterError, match=r"invalid JSON at line 1"):
        rb.read_register(write(tmp_path, "{oops", "reg.json"))
    with pytest.raises(rb.RegisterError, match=r"reg.json, scenario #1 'A': Scenario 'A': no frequency given"):
        rb.read_register(write(tmp_path, '{"scenarios": [{"name": "A", "primary_loss": 5}]}', "reg.json"))
    with pytest.raises(rb.RegisterError, match=r"unknown top-level key\(s\) \['risks'\]"):
        rb.read_register(write(tmp_path, '{"risks": []}', "reg.json"))


def test_atomic_write_never_leaves_a_half_written_file(tmp_path, example_register):
    target = tmp_path / "reg.csv"
    rb.write_register(example_register, target)
    before = target.read_bytes()
    bad = rb.Register([rb.Scenario("forms", loss_event_frequency=1, primary_loss=rb.LossForms(response=rb.PERT(1, 2, 3)))])
    with pytest.raises(rb.RegisterError):
        rb.write_register(bad, target)
    assert target.read_bytes() == before

    class Boom:
        def __str__(self):  # pragma: no cover - never reached
            return ""

    with pytest.raises(TypeError):
        atomic_write(target, Boom())  # type: ignore[arg-type]
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["reg.csv"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("id,name,frequency,loss_low,loss_high\nR1,A,1,10,100\nR1,B,1,10,100\n", r"line 3, scenario 'B', column id: id 'R1' is already used on line 2"),
        (HEADER + "\nTotal,1,10,100\n", r"line 2, scenario 'Total': Scenario name 'Total' is reserved for the portfolio total"),
    ],
)
def test_duplicate_ids_and_the_reserved_name_are_rejected(tmp_path, text, match):
    with pytest.raises(rb.RegisterError, match=match):
        rb.read_register(write(tmp_path, text))


def test_registers_with_control_effects_are_not_written_as_unreadable_files(tmp_path, example_register):
    from riskbudget.controls import apply_controls, read_controls

    residual = apply_controls(example_register, read_controls(rb.io.example_path("controls.csv")))
    with pytest.raises(rb.RegisterError, match=r"is a ControlMultiplier, built from a control or project, which a register file cannot hold"):
        rb.write_register(residual, tmp_path / "residual.yaml")
    assert not (tmp_path / "residual.yaml").exists()
