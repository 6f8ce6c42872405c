"""Flat register layouts of other tools: riskquant and one-for-one substitution."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import riskbudget as rb
from riskbudget import layouts
from riskbudget.cli import main
from tests.conftest import within_se

YEARS = 40_000


def write(tmp_path, text: str, name: str = "reg.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- #
# riskquant: id,name,freq,low,high
# --------------------------------------------------------------------------- #
def test_riskquant_rows_become_poisson_rate_and_lognormal_interval(tmp_path):
    path = write(tmp_path, "id,name,freq,low,high\nR1,Phishing,2.5,10000,400000\nR2,Outage,0.3,50000,2000000\n")
    reg = rb.read_register(path, layout="riskquant")
    assert reg.names == ("Phishing", "Outage")
    s = reg["Phishing"]
    assert s.id == "R1"
    assert s.frequency_kind == "loss_event_frequency"
    assert s.loss_event_frequency == rb.Constant(2.5)
    assert s.primary_loss == rb.LogNormal.from_ci(10_000, 400_000)
    assert s.primary_loss.ppf(0.05) == pytest.approx(10_000) and s.primary_loss.ppf(0.95) == pytest.approx(400_000)
    assert s.secondary_loss is None and s.susceptibility is None


def test_riskquant_simulates_to_rate_times_lognormal_mean(tmp_path):
    path = write(tmp_path, "name,freq,low,high\nPhishing,2.5,10000,400000\n")
    s = rb.read_register(path, layout="riskquant")["Phishing"]
    mu = (math.log(1e4) + math.log(4e5)) / 2
    sigma = (math.log(4e5) - math.log(1e4)) / (2 * 1.6448536269514722)
    exact = 2.5 * math.exp(mu + sigma**2 / 2)
    assert s.expected_annual_loss() == pytest.approx(exact, rel=1e-12)
    r = rb.simulate(s, years=YEARS, seed=1)
    assert within_se(r.ale(), exact, r.ale_se())
    assert within_se(r.summary().loc["Phishing", "p_loss"], 1 - math.exp(-2.5), math.sqrt(0.92 * 0.08 / YEARS))


def test_riskquant_id_is_optional_and_columns_may_come_in_any_order(tmp_path):
    path = write(tmp_path, "high,low,name,freq\n400000,10000,Phishing,2.5\n")
    s = rb.read_register(path, layout="riskquant")["Phishing"]
    assert s.id == "" and s.primary_loss == rb.LogNormal.from_ci(10_000, 400_000)


# --------------------------------------------------------------------------- #
# one-for-one substitution: name,probability,lower,upper
# --------------------------------------------------------------------------- #
def test_one_for_one_rows_become_annual_probability_and_lognormal(tmp_path):
    path = write(tmp_path, "name,probability,lower,upper\nBreach,0.1,100000,1000000\nFraud,0.3,20000,500000\n")
    reg = rb.read_register(path, layout="one_for_one")
    s = reg["Breach"]
    assert s.frequency_kind == "annual_probability"
    assert s.annual_probability == rb.Constant(0.1)
    assert s.primary_loss == rb.LogNormal.from_ci(1e5, 1e6)
    r = rb.simulate(reg, years=YEARS, seed=2)
    for name, p in (("Breach", 0.1), ("Fraud", 0.3)):
        # at most one event a year: P(loss) is the probability itself
        assert within_se(r.summary().loc[name, "p_loss"], p, math.sqrt(p * (1 - p) / YEARS))
        assert within_se(r.ale(name), reg[name].expected_annual_loss(), r.ale_se(name))
    assert r.counts.to_numpy().max() == 1


def test_layouts_via_register_from_frame():
    frame = pd.DataFrame({"name": ["A"], "probability": [0.2], "lower": [1e3], "upper": [1e5]})
    reg = rb.io.register_from_frame(frame, layout="one_for_one")
    assert reg["A"].annual_probability == rb.Constant(0.2)
    with pytest.raises(rb.RegisterError, match=r"DataFrame, line 2, scenario 'A', column probability"):
        rb.io.register_from_frame(frame.assign(probability=[2.0]), layout="one_for_one")


# --------------------------------------------------------------------------- #
# Errors name the columns as they appear in the file
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "layout,text,match",
    [
        ("riskquant", "name,freq,low,high\nA,abc,10,100\n", r"line 2, scenario 'A', column freq: value \('abc'\) must be a number"),
        ("riskquant", "name,freq,low,high\nA,-1,10,100\n", r"column freq: value -1 must be >= 0"),
        ("riskquant", "name,freq,low,high\nA,1,400000,10000\n", r"column high: value 10000 must exceed low \(400000\).*swapped"),
        ("riskquant", "name,freq,low,high\nA,1,0,100\n", r"column low: value 0 must be > 0: a lognormal 90% interval needs positive bounds$"),
        ("riskquant", "name,freq,low,high\nA,1,,100\n", r"column low: missing; give low and high \(a 90% interval\)$"),
        ("riskquant", "name,freq,low,high\n,1,10,100\n", r"line 2, column name: is empty"),
        ("riskquant", "name,freq,low,high\nA,,10,100\n", r"scenario 'A': no frequency"),
        ("riskquant", "name,freq,low,high\nA,1,10,100\nA,2,10,100\n", r"line 3, column name: scenario 'A' already appears on line 2"),
        ("one_for_one", "name,probability,lower,upper\nA,1.4,1e5,1e6\n", r"column probability: value 1.4 is a probability and must lie in \[0, 1\]"),
        ("one_for_one", "name,probability,lower,upper\nA,0.1,1e6,1e5\n", r"column upper: value 100000 must exceed lower \(1e\+06\)"),
        ("riskquant", "name,freq,low\nA,1,10\n", r"missing column\(s\) \['high'\] for layout 'riskquant'; its columns are name, freq, low, high, id"),
        ("riskquant", "name,freq,low,high,loss_mode\nA,1,10,100,50\n", r"unknown column\(s\) \['loss_mode'\] for layout 'riskquant'"),
        ("one_for_one", "id,name,probability,lower,upper\n1,A,0.1,1,2\n", r"unknown column\(s\) \['id'\] for layout 'one_for_one'"),
        ("riskquant", "name,freq,low,high,high\nA,1,10,100,200\n", r"column\(s\) \['high'\] appear more than once"),
        ("riskquant", "name,freq,low,high\nA,1,10\n", r"line 2: 3 values but the header has 4 columns"),
    ],
)
def test_layout_errors_name_the_file_columns(tmp_path, layout, text, match):
    path = write(tmp_path, text)
    with pytest.raises(rb.RegisterError, match=match):
        rb.read_register(path, layout=layout)


def test_unknown_layout_and_layout_on_a_tree_file(tmp_path):
    path = write(tmp_path, "name,freq,low,high\nA,1,10,100\n")
    with pytest.raises(rb.RegisterError, match=r"unknown register layout 'pyfair'; choose one of \['one_for_one', 'riskbudget', 'riskquant'\]"):
        rb.read_register(path, layout="pyfair")
    tree = write(tmp_path, '{"scenarios": []}', name="reg.json")
    with pytest.raises(rb.RegisterError, match="layout 'riskquant' applies to flat CSV or Excel registers only"):
        rb.read_register(tree, layout="riskquant")


def test_layout_catalogue():
    assert set(layouts.LAYOUTS) == {"riskbudget", "riskquant", "one_for_one"}
    rq = layouts.get("riskquant")
    assert rq.columns == ("name", "freq", "low", "high", "id")
    assert rq.mapping["freq"] == "frequency"
    o4o = layouts.get("one_for_one")
    assert o4o.mapping == {"name": "name", "probability": "annual_probability", "lower": "loss_low", "upper": "loss_high"}
    # every mapped column is a riskbudget column
    for layout in layouts.LAYOUTS.values():
        assert set(layout.mapping.values()) <= set(rb.io.CSV_COLUMNS)


def test_riskbudget_layout_keeps_its_pert_hint(tmp_path):
    path = write(tmp_path, "name,frequency,loss_low,loss_high\nA,1,0,100\n")
    with pytest.raises(rb.RegisterError, match=r"column loss_low: .*positive bounds \(or add loss_mode for PERT\)"):
        rb.read_register(path)


def test_command_line_takes_the_layout(tmp_path, capsys):
    path = write(tmp_path, "id,name,freq,low,high\nR1,Phishing,2.5,10000,400000\n")
    assert main(["simulate", str(path), "--layout", "riskquant", "--years", "2000", "--seed", "1", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"Phishing"' in out
    assert main(["simulate", str(path), "--years", "2000"]) == 1  # riskbudget layout: unknown columns
    assert "unknown column(s)" in capsys.readouterr().err
    assert main(["report", str(path), "--layout", "riskquant", "--years", "2000", "--seed", "1",
                 "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").exists()
