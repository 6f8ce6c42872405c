"""Controls and projects: effects on FAIR factors, imperfection, layering, files, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskbudget as rb
from riskbudget.controls import (
    ControlError,
    ControlMultiplier,
    ProjectError,
    ResponseSLA,
    RiskChange,
    SecurityByDesign,
    apply_controls,
    apply_projects,
    read_controls,
    read_projects,
)

from .conftest import EXAMPLE, within_se


def lef_scenario(name: str = "A", rate: float = 3.0, category: str = "web", **kw) -> rb.Scenario:
    return rb.Scenario(name, loss_event_frequency=rate, primary_loss=rb.PERT(1e4, 5e4, 2e5), category=category, **kw)


def tef_scenario(name: str = "T", category: str = "ransomware") -> rb.Scenario:
    return rb.Scenario(
        name,
        threat_event_frequency=rb.PERT(1, 4, 10),
        susceptibility=rb.PERT(0.1, 0.3, 0.6),
        primary_loss=rb.LogNormal.from_ci(5e4, 2e6),
        secondary_loss_probability=0.3,
        secondary_loss=rb.PERT(1e4, 5e4, 3e5),
        category=category,
    )


# --------------------------------------------------------------------------- #
# Imperfection and the multiplier
# --------------------------------------------------------------------------- #
def test_reliability_and_effective_strength_follow_the_formula():
    c = rb.Control(
        "EDR",
        1,
        applies_to="*",
        resistance=rb.PERT(0.3, 0.5, 0.7),
        coverage=0.9,
        lapses_per_year=6,
        days_per_lapse=3,
        strength_when_lapsed=0.1,
    )
    rel = (1 - 6 / 365) ** 3
    assert c.reliability == pytest.approx(rel, rel=1e-15)
    assert c.effective_strength("resistance") == pytest.approx(0.9 * (rel * 0.5 + (1 - rel) * 0.1), rel=1e-15)


def test_multiplier_sample_mean_and_support():
    c = rb.Control(
        "X",
        1,
        applies_to="*",
        avoidance=rb.PERT(0.2, 0.4, 0.9),
        deterrence=rb.Uniform(0.0, 0.3),
        coverage=0.8,
        lapses_per_year=2,
        days_per_lapse=5,
    )
    m = ControlMultiplier(c, ("avoidance", "deterrence"))
    x = m.sample(50_000, np.random.default_rng(1))
    lo, hi = m.support()
    assert x.min() >= lo and x.max() <= hi <= 1.0
    assert within_se(x.mean(), m.mean(), x.std(ddof=1) / math.sqrt(x.size))
    # drawing n then m years equals drawing n + m (chunk size never changes a simulation)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(np.concatenate([m.sample(7, g1), m.sample(13, g1)]), m.sample(20, g2))


def test_layered_controls_multiply_what_gets_through():
    s = lef_scenario()
    a = rb.Control("A", 1, applies_to="web", avoidance=0.3)
    b = rb.Control("B", 1, applies_to="web", resistance=0.5)  # loss-level scenario: thins loss events
    reg = apply_controls(rb.Register([s]), [a, b])
    assert reg["A"].expected_annual_loss() == pytest.approx(s.expected_annual_loss() * 0.7 * 0.5, rel=1e-12)
    r0 = rb.simulate(s, years=20_000, seed=3)
    r1 = rb.simulate(reg, years=20_000, seed=3)
    assert within_se(r1.ale(), s.expected_annual_loss() * 0.35, r1.ale_se())
    # residual losses never exceed inherent losses year by year (events are thinned, not redrawn)
    assert np.all(r1.column() <= r0.column() + 1e-9)


def test_effect_on_threat_level_scenario_hits_the_right_factors():
    s = tef_scenario()
    c = rb.Control(
        "C", 1, applies_to="ransomware", avoidance=0.2, resistance=0.5, response=0.4, loss_factor="primary_loss"
    )
    adj = {a.factor for a in c.adjustments_for(s)}
    assert adj == {"frequency", "susceptibility", "primary_loss"}
    reg = apply_controls(rb.Register([s]), [c])
    base = s.without_adjustments()
    expected = (
        base.expected_loss_event_frequency()
        * 0.8
        * 0.5
        * (0.6 * base.primary_loss.mean() + 0.3 * base.secondary_loss.mean())
    )
    assert reg["T"].expected_annual_loss() == pytest.approx(expected, rel=1e-12)
    res = rb.simulate(reg, years=20_000, seed=11)
    assert within_se(res.ale(), expected, res.ale_se())


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    coverage=st.floats(0, 1),
    lapses=st.floats(0, 50),
    days=st.floats(0, 30),
    function=st.sampled_from(["avoidance", "deterrence", "resistance", "detection", "response"]),
)
def test_a_control_with_effect_zero_leaves_the_simulation_bit_identical(seed, coverage, lapses, days, function):
    reg = rb.Register([tef_scenario(), lef_scenario(category="ransomware")])
    c = rb.Control(
        "Nothing",
        5e4,
        applies_to="ransomware",
        coverage=coverage,
        lapses_per_year=lapses,
        days_per_lapse=days,
        **{function: 0.0},
    )
    with_c = apply_controls(reg, [c])
    assert all(s.adjustments for s in with_c)
    a = rb.simulate(reg, years=3_000, seed=seed)
    b = rb.simulate(with_c, years=3_000, seed=seed)
    assert np.array_equal(a.losses.to_numpy(), b.losses.to_numpy())


def test_a_control_draws_one_strength_per_year_shared_by_its_scenarios():
    reg = rb.Register([lef_scenario("A", rate=50.0), lef_scenario("B", rate=50.0)])
    c = rb.Control("Shaky", 1, applies_to="web", avoidance=rb.Uniform(0.0, 1.0))
    res = rb.simulate(apply_controls(reg, [c]), years=5_000, seed=2)
    corr = np.corrcoef(res.column("A"), res.column("B"))[0, 1]
    assert corr > 0.8  # same yearly strength in both scenarios
    base = rb.simulate(reg, years=5_000, seed=2)
    assert abs(np.corrcoef(base.column("A"), base.column("B"))[0, 1]) < 0.1


def test_chunk_size_never_changes_results_with_controls():
    reg = apply_controls(
        rb.Register([tef_scenario()]), [rb.Control("C", 1, applies_to="*", resistance=rb.PERT(0.1, 0.4, 0.8))]
    )
    a = rb.simulate(reg, years=5_000, seed=4, chunk_size=5_000)
    b = rb.simulate(reg, years=5_000, seed=4, chunk_size=777)
    assert np.array_equal(a.column(), b.column())


# --------------------------------------------------------------------------- #
# Incident-response SLA
# --------------------------------------------------------------------------- #
def test_response_sla_share_from_cost_per_hour():
    s = lef_scenario(rate=1.0)  # primary loss PERT(1e4, 5e4, 2e5): mean 410,000 / 6
    mean = 410_000 / 6
    sla = ResponseSLA(rb.Constant(10), rb.Constant(4), cost_per_hour=rb.Constant(mean / 20))
    assert sla.share_for(s, "IR") == pytest.approx(0.5)
    c = rb.Control("IR", 1, applies_to="web", response_sla=sla)
    reg = apply_controls(rb.Register([s]), [c])
    # disruption (half the loss) shrinks to 4/10: loss x (1 - 0.5 x 0.6)
    assert reg["A"].expected_annual_loss() == pytest.approx(s.expected_annual_loss() * 0.7, rel=1e-9)


def test_response_sla_never_slows_containment():
    sla = ResponseSLA(rb.PERT(10, 20, 40), rb.PERT(5, 30, 60), disruption_share=1.0)
    c = rb.Control("IR", 1, applies_to="*", response_sla=sla)
    m = c.adjustments_for(lef_scenario())[0].multiplier
    x = m.sample(20_000, np.random.default_rng(0))
    assert x.max() <= 1.0 and x.min() >= 0.0
    assert within_se(x.mean(), m.mean(), x.std(ddof=1) / math.sqrt(x.size))


def test_response_sla_disruption_above_loss_is_an_error():
    sla = ResponseSLA(rb.Constant(100), rb.Constant(4), cost_per_hour=rb.Constant(10_000))
    c = rb.Control("IR", 1, applies_to="web", response_sla=sla)
    with pytest.raises(ControlError, match=r"Control 'IR': on scenario 'A' the disruption cost per event .* exceeds"):
        apply_controls(rb.Register([lef_scenario()]), [c])


def test_response_sla_needs_share_or_cost():
    with pytest.raises(ControlError, match="give disruption_share"):
        ResponseSLA(rb.Constant(10), rb.Constant(4))
    with pytest.raises(ControlError, match=r"hours_to_contain \(Constant\(value=0\)\) is never above 0 hours"):
        ResponseSLA(rb.Constant(0), rb.Constant(4), disruption_share=0.5)
    with pytest.raises(ControlError, match=r"hours_to_contain .* can be negative \(lowest value -1\)"):
        ResponseSLA(rb.Uniform(-1, 5), rb.Constant(4), disruption_share=0.5)


@pytest.mark.parametrize("h0,h1", [
    (rb.LogNormal.from_ci(24, 240), rb.LogNormal.from_ci(4, 36)),  # calibrated 90% intervals, unbounded above
    (rb.Gamma(2.0, 0.05), rb.Uniform(0, 30)),
    (rb.Uniform(0, 48), rb.Constant(12)),  # can reach 0 hours: nothing to cut there
])
def test_response_sla_takes_hours_from_zero_up(h0, h1):
    """Hours to contain may be any distribution on [0, inf): lognormal and gamma estimates included."""
    sla = ResponseSLA(h0, h1, disruption_share=0.6)
    # E[1 - min(H0, H1) / H0] from SciPy's own draws of the independent hours (not riskbudget's inversion),
    # against the 400 x 400 midpoint grid: within 4 standard errors plus the grid's error (< 1e-3)
    rng = np.random.default_rng(5)
    a = h0.to_scipy().rvs(size=1_000_000, random_state=rng)
    b = h1.to_scipy().rvs(size=1_000_000, random_state=rng) if h1.base_kind != "none" else np.full(1_000_000, 12.0)
    cut = 1.0 - np.minimum(a, b) / a
    assert abs(sla.mean_reduction() - cut.mean()) < 4 * cut.std() / 1_000 + 1e-3
    c = rb.Control("IR", 1, applies_to="*", response_sla=sla)
    m = c.adjustments_for(lef_scenario())[0].multiplier
    x = m.sample(200_000, np.random.default_rng(0))
    assert np.isfinite(x).all() and x.max() <= 1.0 and x.min() >= 1.0 - 0.6
    assert within_se(x.mean(), 1.0 - 0.6 * sla.mean_reduction(), x.std(ddof=1) / math.sqrt(x.size))
    lo, hi = m.support()
    assert lo <= x.min() and x.max() <= hi
    # a year drawing 0 hours without the control (u = 0, each H0 here starts at 0) has nothing to cut: its
    # multiplier is 1, not NaN
    assert h0.ppf(0.0) == 0.0 and m.from_uniforms(np.zeros((1, m.n_uniforms)))[0] == 1.0


# --------------------------------------------------------------------------- #
# Targets and validation
# --------------------------------------------------------------------------- #
def test_applies_to_resolves_names_ids_and_categories(example_register):
    c = rb.Control("C", 1, applies_to="R03;ransomware;Lost or stolen laptop with sensitive data", resistance=0.1)
    reg = apply_controls(example_register, [c])
    touched = {s.name for s in reg if s.adjustments}
    assert touched == {
        "Business email compromise: payment fraud",
        "Ransomware on ERP and warehouse systems",
        "Ransomware via remote access (VPN/RDP)",
        "Lost or stolen laptop with sensitive data",
    }


def test_unknown_applies_to_is_an_error_naming_it(example_register):
    c = rb.Control("C", 1, applies_to="ransomware;phishin", resistance=0.1)
    with pytest.raises(ControlError, match=r"Control 'C': unknown scenario\(s\) or category\(ies\) \['phishin'\]"):
        apply_controls(example_register, [c])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"coverage": 1.4, "resistance": 0.3}, r"Control 'EDR': coverage \(1.4\) must lie in \[0, 1\]"),
        (
            {"resistance": rb.PERT(0.5, 0.9, 1.2)},
            r"resistance .* takes values in \[0.5, 1.2\]; a share removed must lie in \[0, 1\]",
        ),
        ({}, "no effect given"),
        ({"resistance": 0.3, "lapses_per_year": 400}, r"lapses_per_year \(400\) must be at most 365"),
        ({"resistance": 0.3, "days_per_lapse": -1}, r"days_per_lapse \(-1\) must be >= 0"),
        ({"resistance": 0.3, "strength_when_lapsed": 2}, r"strength_when_lapsed \(2\) must lie in \[0, 1\]"),
        ({"resistance": 0.3, "requires": "EDR"}, "cannot require or exclude itself"),
        ({"response": 0.3, "loss_factor": "frequency"}, r"loss_factor \('frequency'\) must be a loss"),
        ({"response": 0.3, "loss_factor": "primary_loss.speed"}, r"factor 'primary_loss.speed' is not adjustable"),
        ({"resistance": 0.3, "applies_to": ""}, "applies_to is empty"),
    ],
)
def test_control_rules(kwargs, message):
    kwargs = {"applies_to": "*", **kwargs}
    with pytest.raises(ControlError, match=message):
        rb.Control("EDR", 100, **kwargs)


def test_control_cost_must_be_nonnegative():
    with pytest.raises(ControlError, match=r"Control 'EDR': cost_per_year \(-5\) must be >= 0"):
        rb.Control("EDR", -5, applies_to="*", resistance=0.3)


def test_effect_on_missing_loss_form_is_an_error():
    c = rb.Control("C", 1, applies_to="*", response=0.3, loss_factor="primary_loss.productivity")
    with pytest.raises(ControlError, match=r"scenario 'A' states no 'productivity' form of primary_loss"):
        apply_controls(rb.Register([lef_scenario()]), [c])
    forms = rb.Scenario("F", loss_event_frequency=1, primary_loss={"productivity": rb.PERT(1, 2, 3), "response": 1.0})
    reg = apply_controls(rb.Register([forms]), [c])
    assert reg["F"].expected_annual_loss() == pytest.approx(0.7 * 2 + 1.0)


def test_secondary_loss_effect_needs_a_secondary_loss():
    c = rb.Control("C", 1, applies_to="*", response=0.3, loss_factor="secondary_loss")
    with pytest.raises(ControlError, match="has no secondary loss"):
        apply_controls(rb.Register([lef_scenario()]), [c])


# --------------------------------------------------------------------------- #
# Projects
# --------------------------------------------------------------------------- #
def test_project_value_failure_and_delay():
    p = rb.Project(
        "P",
        1e5,
        value_per_year=rb.PERT(1e5, 2e5, 6e5),
        probability_of_failure=0.25,
        security_by_design=SecurityByDesign(2e4, delay_months=3, risk_removed=0.5),
    )
    assert p.expected_value() == pytest.approx(0.75 * 250_000)
    assert p.expected_value(security_by_design=True) == pytest.approx(0.75 * 250_000 * 0.75)
    assert p.cost(security_by_design=True) == 1.2e5
    v = p.sample_value(40_000, np.random.default_rng(0))
    assert within_se(v.mean(), p.expected_value(), v.std(ddof=1) / math.sqrt(v.size))
    assert within_se((v == 0).mean(), 0.25, math.sqrt(0.25 * 0.75 / v.size))


def test_project_risk_and_security_by_design():
    s = lef_scenario()
    p = rb.Project(
        "Portal",
        1,
        value_per_year=1,
        risk_changes=[RiskChange("web", rb.PERT(0.2, 0.5, 0.8))],
        security_by_design=SecurityByDesign(1, 1, risk_removed=0.6),
    )
    reg = apply_projects(rb.Register([s]), [p])
    assert reg["A"].expected_annual_loss() == pytest.approx(s.expected_annual_loss() * 1.5, rel=1e-9)
    reg2 = apply_projects(rb.Register([s]), [p], security_by_design=["Portal"])
    assert reg2["A"].expected_annual_loss() == pytest.approx(s.expected_annual_loss() * (1 + 0.5 * 0.4), rel=1e-9)
    r0 = rb.simulate(s, years=20_000, seed=1)
    r1 = rb.simulate(reg, years=20_000, seed=1)
    assert within_se(r1.ale(), s.expected_annual_loss() * 1.5, r1.ale_se())
    # the inherent events remain: the project only adds events
    assert np.all(r1.column() >= r0.column() - 1e-9)


def test_project_new_scenario_and_controls_on_it():
    new = lef_scenario("App abuse", rate=1.0, category="web")
    p = rb.Project("App", 1, value_per_year=1, new_scenarios=[new], security_by_design=SecurityByDesign(1, 0, 0.5))
    waf = rb.Control("WAF", 1, applies_to="web", resistance=0.4)
    base = rb.Register([lef_scenario("Other", category="ransomware")])
    reg = apply_projects(base, [p], security_by_design=["App"], controls=[waf])
    assert reg.names == ("Other", "App abuse")
    assert reg["App abuse"].expected_annual_loss() == pytest.approx(new.expected_annual_loss() * 0.6 * 0.5, rel=1e-9)
    # a control may name a project's scenario when the projects are known
    apply_controls(base, [rb.Control("Z", 1, applies_to="App abuse", resistance=0.1)], projects=[p])
    with pytest.raises(ControlError, match="unknown scenario"):
        apply_controls(base, [rb.Control("Z", 1, applies_to="App abuse", resistance=0.1)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"probability_of_failure": 1.5}, r"Project 'P': probability_of_failure \(1.5\) must lie in \[0, 1\]"),
        ({"value_per_year": rb.Uniform(-1, 1)}, "value_per_year .* can be negative"),
        ({"cost_per_year": "lots"}, r"cost_per_year \('lots'\) must be a number"),
        ({"requires": "P"}, "cannot require or exclude itself"),
    ],
)
def test_project_rules(kwargs, message):
    kw = {"cost_per_year": 1, **kwargs}
    with pytest.raises(ProjectError, match=message):
        rb.Project("P", **kw)


def test_risk_change_and_sbd_rules():
    with pytest.raises(ProjectError, match="susceptibility can only be lowered"):
        RiskChange("web", 0.2, factor="susceptibility")
    with pytest.raises(ProjectError, match="increase .* can be negative"):
        RiskChange("web", rb.Uniform(-0.1, 0.2))
    with pytest.raises(ProjectError, match=r"delay_months \(13\) must be at most 12"):
        SecurityByDesign(1, delay_months=13)
    with pytest.raises(ProjectError, match="has no security-by-design option to buy"):
        apply_projects(rb.Register([lef_scenario()]), [rb.Project("P", 1)], security_by_design=["P"])


def test_names_must_be_unique_across_controls_and_projects():
    with pytest.raises(rb.RiskBudgetError, match="already used by a control"):
        apply_controls(
            rb.Register([lef_scenario()]),
            [rb.Control("X", 1, applies_to="*", resistance=0.1)],
            projects=[rb.Project("X", 1)],
        )


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
def test_example_files_load_and_apply(example_register):
    controls = read_controls(EXAMPLE / "controls.csv")
    projects = read_projects(EXAMPLE / "projects.csv")
    assert len(controls) == 15 and len(projects) == 8
    names = {c.name for c in controls}
    assert {
        "Phishing-resistant MFA",
        "Endpoint detection and response (EDR)",
        "Immutable backups",
        "Incident-response retainer",
    } <= names
    assert any(c.response_sla is not None for c in controls)
    assert any(p.new_scenarios for p in projects) and any(p.security_by_design for p in projects)
    reg = apply_controls(example_register, controls, projects=projects)
    reg = apply_projects(reg, projects, controls=controls)
    assert len(reg) == len(example_register) + sum(len(p.new_scenarios) for p in projects)
    assert reg.to_frame()["expected_annual_loss"].sum() < example_register.to_frame()["expected_annual_loss"].sum()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "row, message",
    [
        (
            "EDR,1000,ransomware,0.3,0.5,0.7,1.4",
            r"line 2, control 'EDR', column coverage: value 1.4: Control 'EDR': coverage \(1.4\) must lie in \[0, 1\]",
        ),
        (
            "EDR,lots,ransomware,0.3,0.5,0.7,1",
            r"line 2, control 'EDR', column cost_per_year: value \('lots'\) must be a number",
        ),
        ("EDR,1000,ransomware,0.3,,0.7,1", r"line 2, control 'EDR', column resistance_mode: missing"),
        (
            "EDR,1000,ransomware,0.7,0.5,0.3,1",
            r"column resistance_low, resistance_mode, resistance_high: values \(0.7, 0.5, 0.3\)",
        ),
        ("EDR,1000,,0.3,0.5,0.7,1", r"line 2, control 'EDR', column applies_to: is empty"),
        (",1000,ransomware,0.3,0.5,0.7,1", r"line 2, column name: is empty"),
        ("EDR,1000,ransomware,,,,1", "no effect given"),
    ],
)
def test_bad_control_rows_name_file_line_column_and_value(tmp_path, row, message):
    header = "name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high,coverage\n"
    path = _write(tmp_path, "controls.csv", header + row + "\n")
    with pytest.raises(ControlError, match=message) as info:
        read_controls(path)
    assert str(path) in str(info.value)


def test_control_file_structure_errors(tmp_path):
    with pytest.raises(ControlError, match=r"unknown column\(s\) \['strength'\]"):
        read_controls(_write(tmp_path, "a.csv", "name,cost_per_year,applies_to,strength\nX,1,*,0.5\n"))
    with pytest.raises(ControlError, match="required column 'cost_per_year' is missing"):
        read_controls(_write(tmp_path, "b.csv", "name,applies_to\nX,*\n"))
    with pytest.raises(ControlError, match="no such file"):
        read_controls(tmp_path / "missing.csv")
    dup = "name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high\nX,1,*,0.1,0.1,0.1\nX,1,*,0.1,0.1,0.1\n"
    with pytest.raises(ControlError, match=r"line 3, column name: control 'X' already appears on line 2"):
        read_controls(_write(tmp_path, "c.csv", dup))
    with pytest.raises(ControlError, match="4 values but the header has 3 columns"):
        read_controls(_write(tmp_path, "d.csv", "name,cost_per_year,applies_to\nX,1,*,extra\n"))


def test_equal_estimate_values_mean_a_known_number(tmp_path):
    text = "name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high\nX,1,*,0.4,0.4,0.4\n"
    (c,) = read_controls(_write(tmp_path, "c.csv", text))
    assert c.resistance == rb.Constant(0.4)


@pytest.mark.parametrize(
    "row, message",
    [
        ("P,1000,1,2,3,1.2,,,,,,", r"line 2, project 'P', column probability_of_failure: value 1.2"),
        ("P,1000,,,,0.1,,,,,,", r"column value_low, value_mode, value_high: missing"),
        ("P,1000,1,2,3,0.1,web,0.1,0.2,0.3,,", ""),
        ("P,1000,1,2,3,0.1,web,,,,,", r"column risk_increase_low, risk_increase_mode, risk_increase_high: missing"),
        ("P,1000,1,2,3,0.1,,,,,500,", r"column sbd_risk_removed_low"),
    ],
)
def test_bad_project_rows(tmp_path, row, message):
    header = "name,cost_per_year,value_low,value_mode,value_high,probability_of_failure,adds_risk_to,risk_increase_low,risk_increase_mode,risk_increase_high,sbd_cost_per_year,new_category\n"
    path = _write(tmp_path, "projects.csv", header + row + "\n")
    if not message:
        (p,) = read_projects(path)
        assert p.risk_changes[0].targets == ("web",)
        return
    with pytest.raises(ProjectError, match=message):
        read_projects(path)


def test_project_new_scenario_columns(tmp_path):
    header = "name,cost_per_year,value_low,value_mode,value_high,new_scenario,new_category,new_frequency,new_loss_low,new_loss_high\n"
    (p,) = read_projects(_write(tmp_path, "p.csv", header + "App,1,1,2,3,App abuse,web,0.5,1000,100000\n"))
    assert p.new_scenarios[0].name == "App abuse" and p.new_scenarios[0].category == "web"
    with pytest.raises(ProjectError, match="new_scenario.*is empty, but other new_"):
        read_projects(_write(tmp_path, "q.csv", header + "App,1,1,2,3,,web,0.5,1000,100000\n"))
    with pytest.raises(ProjectError, match=r"column new_loss_high: value 10 must exceed new_loss_low"):
        read_projects(_write(tmp_path, "r.csv", header + "App,1,1,2,3,App abuse,web,0.5,1000,10\n"))


def test_docstring_examples_run():
    import doctest

    import riskbudget.controls as mod

    outcome = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0


# --------------------------------------------------------------------------- #
# Exact expectations when one source's draw is shared by several factors
# --------------------------------------------------------------------------- #
def test_project_multiplier_mean_integrates_the_shared_removed_share():
    from riskbudget.controls import ProjectMultiplier, RiskChange, SecurityByDesign

    proj = rb.Project(
        "Portal", cost_per_year=1.0,
        risk_changes=(RiskChange(("S",), rb.Uniform(1, 3)), RiskChange(("S",), rb.Uniform(1, 3))),
        security_by_design=SecurityByDesign(cost_per_year=1.0, risk_removed=rb.Uniform(0, 1)),
    )
    m = ProjectMultiplier(proj, (0, 1), security_by_design=True)
    # E[(1 + 2 s)^2] with s = 1 - r uniform on [0, 1]: 1 + 4/2 + 4/3
    assert m.mean() == pytest.approx(1 + 2 + 4 / 3, rel=1e-9)
    x = m.sample(400_000, 1)
    assert abs(x.mean() - m.mean()) <= 4 * x.std() / math.sqrt(x.size)


def test_expected_annual_loss_is_exact_when_one_source_acts_on_frequency_and_loss():
    from riskbudget.controls import RiskChange, SecurityByDesign, apply_projects

    s = rb.Scenario("S", loss_event_frequency=rb.PERT(0.5, 1, 3), primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
    proj = rb.Project(
        "Portal", cost_per_year=1.0,
        risk_changes=(RiskChange(("S",), rb.Uniform(0.5, 2.5), "frequency"), RiskChange(("S",), rb.Uniform(0.5, 2.5), "loss")),
        security_by_design=SecurityByDesign(cost_per_year=1.0, risk_removed=rb.Uniform(0, 1)),
    )
    reg = apply_projects(rb.Register([s]), [proj], security_by_design=["Portal"])
    scen = reg["S"]
    naive = scen.expected_loss_event_frequency() * scen.expected_loss_per_event()
    r = rb.simulate(reg, years=200_000, seed=4)
    assert abs(r.ale() - scen.expected_annual_loss()) <= 4 * r.ale_se()
    assert abs(r.ale() - naive) > 4 * r.ale_se()  # the product of separate means is visibly off


def test_expected_annual_loss_is_exact_for_a_control_on_susceptibility_and_loss():
    s = rb.Scenario("S", threat_event_frequency=rb.PERT(1, 3, 8), susceptibility=rb.PERT(0.2, 0.4, 0.7),
                    primary_loss=rb.LogNormal.from_ci(1e4, 1e6), category="c")
    edr = rb.Control("EDR", cost_per_year=1.0, resistance=rb.Uniform(0.0, 1.0), detection=rb.Uniform(0.0, 1.0))
    reg = rb.controls.apply_controls(rb.Register([s]), [edr])
    scen = reg["S"]
    r = rb.simulate(reg, years=200_000, seed=5)
    assert abs(r.ale() - scen.expected_annual_loss()) <= 4 * r.ale_se()


def test_project_raising_a_loss_form_the_scenario_lacks_is_an_error():
    from riskbudget.controls import ProjectError, RiskChange, apply_projects

    s = rb.Scenario("S", loss_event_frequency=1, primary_loss=rb.PERT(1, 2, 3))
    proj = rb.Project("Portal", cost_per_year=1.0, risk_changes=(RiskChange(("S",), rb.Uniform(0.1, 0.5), "secondary_loss"),))
    with pytest.raises(ProjectError, match="Project 'Portal': raises secondary_loss, but scenario 'S' has no secondary loss"):
        apply_projects(rb.Register([s]), [proj])


def test_controls_and_projects_round_trip_through_dicts():
    """to_dict -> from_dict gives equal items (a saved plan embeds its inputs this way)."""
    import json

    from riskbudget import datasets
    from riskbudget.controls import Control, Project

    for c in datasets.load_controls():
        back = Control.from_dict(json.loads(json.dumps(c.to_dict())))
        assert back == c, c.name
    for p in datasets.load_projects():
        back = Project.from_dict(json.loads(json.dumps(p.to_dict())))
        assert back == p, p.name
    with pytest.raises(rb.RiskBudgetError, match="a control must be a mapping"):
        Control.from_dict([1, 2])


def test_multi_year_fields_read_check_and_round_trip(tmp_path):
    """one_off_cost and lead_time_months: columns, checks, live shares clamp(t - L/12, 0, 1), dict round trips."""
    from riskbudget.controls import Control, Project, read_controls, read_projects

    c = Control("EDR", 3e5, resistance=0.5, one_off_cost=1.5e5, lead_time_months=9)
    assert (c.one_off_cost, c.lead_time_months) == (1.5e5, 9.0)
    assert Control.from_dict(c.to_dict()) == c
    p = Project("Migration", 5e5, value_per_year=2e6, lead_time_months=18, one_off_cost="1.2M",
                security_by_design=rb.controls.SecurityByDesign(5e4, delay_months=3, risk_removed=0.5))
    assert [p.value_share(t) for t in (1, 2, 3)] == [0.0, 0.5, 1.0]
    assert [p.value_share(t, security_by_design=True) for t in (1, 2, 3)] == [0.0, 0.25, 1.0]
    assert [p.risk_share(t) for t in (1, 2, 3)] == [0.0, 0.5, 1.0]
    assert Project.from_dict(p.to_dict()) == p
    for bad, match in ((dict(one_off_cost=-1), r"one_off_cost \(-1\) must be >= 0"),
                       (dict(lead_time_months=-3), r"lead_time_months \(-3\) must be >= 0"),
                       (dict(lead_time_months=5000), r"lead_time_months \(5000\) must be at most 1200")):
        with pytest.raises(rb.RiskBudgetError, match=match):
            Control("EDR", 3e5, resistance=0.5, **bad)
    path = tmp_path / "controls.csv"
    path.write_text("name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high,one_off_cost,"
                    "lead_time_months\nEDR,300000,*,0.3,0.5,0.7,150K,9\n")
    (read,) = read_controls(path)
    assert (read.one_off_cost, read.lead_time_months) == (150_000.0, 9.0)
    path = tmp_path / "projects.csv"
    path.write_text("name,cost_per_year,value_low,value_mode,value_high,lead_time_months\nApp,1e5,1e5,2e5,4e5,-2\n")
    with pytest.raises(rb.RiskBudgetError, match=r"line 2.*lead_time_months"):
        read_projects(path)
