"""Open FAIR scenarios: the factor tree is validated; expected values follow the closed forms."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, special

import riskbudget as rb

LOSS = rb.LogNormal.from_ci(10_000, 1_000_000)


def scenario(**kw):
    kw.setdefault("primary_loss", LOSS)
    return rb.Scenario("X", **kw)


# --------------------------------------------------------------------------- #
# Accepted shapes of the tree
# --------------------------------------------------------------------------- #
def test_every_frequency_level_is_accepted():
    assert scenario(threat_event_frequency=rb.PERT(1, 2, 4), susceptibility=rb.PERT(0.1, 0.2, 0.4)).frequency_kind == "threat_event_frequency"
    s = scenario(contact_frequency=rb.PERT(10, 20, 40), probability_of_action=rb.PERT(0.05, 0.1, 0.2), susceptibility=0.3)
    assert s.frequency_kind == "contact_frequency"
    assert s.expected_frequency() == pytest.approx(rb.PERT(10, 20, 40).mean() * rb.PERT(0.05, 0.1, 0.2).mean())
    assert scenario(loss_event_frequency=2).frequency_kind == "loss_event_frequency"
    assert scenario(annual_probability=0.1).frequency_kind == "annual_probability"


def test_numbers_become_constants_and_dicts_become_distributions():
    s = scenario(loss_event_frequency=2, secondary_loss_probability=0.5, secondary_loss={"family": "pert", "low": 1, "mode": 2, "high": 3})
    assert s.loss_event_frequency == rb.Constant(2)
    assert s.secondary_loss == rb.PERT(1, 2, 3)


def test_capability_vs_resistance_expected_susceptibility_is_p_tcap_greater_than_rs():
    tcap, rs = rb.PERT(0.2, 0.5, 0.9), rb.PERT(0.3, 0.6, 0.85)
    s = scenario(threat_event_frequency=rb.PERT(0.5, 2, 8), threat_capability=tcap, resistance_strength=rs)
    exact, _ = integrate.quad(lambda x: rs.cdf(x) * tcap.to_scipy().pdf(x), 0.2, 0.9, limit=500, epsabs=1e-14, epsrel=1e-13)
    assert s.susceptibility_kind == "capability_vs_resistance"
    assert s.expected_susceptibility() == pytest.approx(exact, abs=1e-11)


@pytest.mark.parametrize(
    "tcap,rs,exact",
    [
        # a constant resistance: P(TCap > c) = 1 - F_TCap(c) (one quadrature over [0, 1] returned 0)
        (rb.PERT(0.1, 0.5, 0.95), rb.Constant(0.9), None),
        # a resistance far narrower than the capability: 1 - E[RS]
        (rb.Uniform(0, 1), rb.Uniform(0.999, 0.9995), 1 - 0.99925),
        # equal constants never win: the simulation compares strictly
        (rb.Constant(0.5), rb.Constant(0.5), 0.0),
        (rb.Constant(0.6), rb.Constant(0.5), 1.0),
        # overlapping uniforms: 0.5 * 0.5 * (0.1 / 0.4)
        (rb.Uniform(0.4, 0.6), rb.Uniform(0.5, 0.9), 0.0625),
    ],
)
def test_expected_susceptibility_finds_narrow_overlaps_and_ties(tcap, rs, exact):
    s = scenario(threat_event_frequency=1_000, threat_capability=tcap, resistance_strength=rs)
    if exact is None:
        exact = 1 - float(tcap.cdf(rs.value))
    assert s.expected_susceptibility() == pytest.approx(exact, abs=1e-11)
    # the simulation agrees: loss events are Poisson with mean 1,000 x P(TCap > RS) a year
    sim = rb.simulate(s, years=4_000, seed=5)
    events = sim.counts.to_numpy().sum() / (4_000 * 1_000)
    assert abs(events - exact) <= 4 * math.sqrt(exact / (4_000 * 1_000))


def test_expected_annual_loss_is_the_product_of_means():
    s = scenario(
        threat_event_frequency=rb.PERT(1, 2, 6),
        susceptibility=rb.PERT(0.1, 0.2, 0.5),
        primary_loss=rb.PERT(1e4, 5e4, 5e5),
        secondary_loss_probability=rb.PERT(0.1, 0.2, 0.3),
        secondary_loss=rb.LogNormal.from_ci(1e4, 1e6),
    )
    lef = rb.PERT(1, 2, 6).mean() * rb.PERT(0.1, 0.2, 0.5).mean()
    lm = rb.PERT(1e4, 5e4, 5e5).mean() + 0.2 * rb.LogNormal.from_ci(1e4, 1e6).mean()
    assert s.expected_annual_loss() == pytest.approx(lef * lm)


def test_forms_of_loss_add_up():
    forms = rb.LossForms(productivity=rb.PERT(1e4, 2e4, 5e4), response=rb.Constant(5e3), reputation=rb.LogNormal.from_ci(1e3, 1e5))
    s = scenario(loss_event_frequency=1, primary_loss=forms)
    assert s.expected_loss_per_event() == pytest.approx(sum(d.mean() for d in forms.values()))
    assert list(forms) == ["productivity", "response", "reputation"]
    s2 = scenario(loss_event_frequency=1, primary_loss={"productivity": rb.PERT(1, 2, 3), "response": 4})
    assert isinstance(s2.primary_loss, rb.LossForms)


def test_adjustments_scale_expected_values():
    base = scenario(threat_event_frequency=rb.PERT(1, 2, 6), susceptibility=rb.PERT(0.1, 0.2, 0.5))
    adj = base.with_adjustments(
        rb.Adjustment("frequency", 0.5, "MFA"),
        rb.Adjustment("susceptibility", rb.PERT(0.6, 0.8, 1.0), "Patch"),
        rb.Adjustment("loss", 0.9, "IR retainer"),
    )
    assert adj.expected_annual_loss() == pytest.approx(base.expected_annual_loss() * 0.5 * 0.8 * 0.9)
    assert base.adjustments == ()  # the original is unchanged
    assert adj.without_adjustments() == base


# --------------------------------------------------------------------------- #
# Rejected trees say what is missing or competing
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, r"Scenario 'X': no frequency given; give exactly one of threat_event_frequency"),
        ({"threat_event_frequency": 1, "loss_event_frequency": 1}, r"competing frequency factors threat_event_frequency and loss_event_frequency"),
        ({"annual_probability": 0.1, "loss_event_frequency": 1}, r"competing frequency factors loss_event_frequency and annual_probability"),
        ({"contact_frequency": 10, "susceptibility": 0.1}, r"contact_frequency is given but probability_of_action is missing"),
        ({"probability_of_action": 0.1, "susceptibility": 0.1}, r"probability_of_action is given but contact_frequency is missing"),
        ({"threat_event_frequency": 1}, r"a threat event frequency needs a susceptibility"),
        ({"threat_event_frequency": 1, "susceptibility": 0.1, "threat_capability": 0.5}, r"competing susceptibility factors susceptibility and threat_capability"),
        ({"threat_event_frequency": 1, "threat_capability": 0.5}, r"threat_capability is given but resistance_strength is missing"),
        ({"loss_event_frequency": 1, "susceptibility": 0.2}, r"susceptibility given with loss_event_frequency, which already counts loss events"),
        ({"annual_probability": 1.5}, r"annual_probability must be a probability in \[0, 1\]"),
        ({"loss_event_frequency": 1, "secondary_loss": LOSS}, r"secondary_loss is given but secondary_loss_probability is missing"),
        ({"loss_event_frequency": 1, "secondary_loss_probability": 0.2}, r"secondary_loss_probability is given but secondary_loss is missing"),
        ({"threat_event_frequency": 1, "susceptibility": rb.Uniform(0.5, 1.5)}, r"susceptibility must be a probability in \[0, 1\], but Uniform\(low=0.5, high=1.5\)"),
        ({"threat_event_frequency": rb.Uniform(-1, 1), "susceptibility": 0.1}, r"threat_event_frequency must be >= 0"),
        ({"loss_event_frequency": 1, "primary_loss": rb.Uniform(-5, 5)}, r"primary_loss must be >= 0"),
        ({"loss_event_frequency": 1, "primary_loss": None}, r"primary_loss is missing"),
        ({"loss_event_frequency": 1, "primary_loss": {"productivity": 1, "brand": 2}}, r"unknown form\(s\) of loss \['brand'\]"),
        ({"loss_event_frequency": "often"}, r"loss_event_frequency must be a distribution"),
    ],
)
def test_incomplete_or_contradictory_trees_are_rejected(kwargs, match):
    with pytest.raises(rb.ScenarioError, match=match):
        scenario(**kwargs)


def test_empty_name_is_rejected():
    with pytest.raises(rb.ScenarioError, match="name must be a non-empty string"):
        rb.Scenario("  ", loss_event_frequency=1, primary_loss=LOSS)


@pytest.mark.parametrize(
    ("adjustment", "match"),
    [
        (lambda: rb.Adjustment("speed", 0.5, "X"), r"factor 'speed' is not adjustable"),
        (lambda: rb.Adjustment("primary_loss.brand", 0.5, "X"), r"factor 'primary_loss.brand' is not adjustable"),
        (lambda: rb.Adjustment("frequency", rb.Uniform(-1, 1), "EDR"), r"Adjustment from 'EDR' on frequency: multiplier can be negative"),
        (lambda: rb.Adjustment("susceptibility", 1.2, "Project"), r"susceptibility can only be lowered"),
        (lambda: rb.Adjustment("frequency", 0.5, ""), r"source must be a non-empty name"),
    ],
)
def test_bad_adjustments_are_rejected(adjustment, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        adjustment()


def test_adjustment_must_fit_the_scenario():
    s = scenario(loss_event_frequency=1)
    with pytest.raises(rb.ScenarioError, match="acts on susceptibility, but the scenario states loss_event_frequency"):
        s.with_adjustments(rb.Adjustment("susceptibility", 0.5, "Patch"))
    with pytest.raises(rb.ScenarioError, match="acts on secondary_loss, but scenario 'X' has no secondary loss"):
        s.with_adjustments(rb.Adjustment("secondary_loss", 0.5, "PR firm"))
    with pytest.raises(rb.ScenarioError, match="acts on primary_loss.reputation, but scenario 'X' states no 'reputation' form of primary_loss"):
        s.with_adjustments(rb.Adjustment("primary_loss.reputation", 0.5, "PR firm"))
    with pytest.raises(rb.ScenarioError, match=r"annual_probability \(up to 0.6\) times the frequency multipliers \(up to 2\) can exceed 1"):
        scenario(annual_probability=0.6).with_adjustments(rb.Adjustment("frequency", 2.0, "New portal"))


# --------------------------------------------------------------------------- #
# Register
# --------------------------------------------------------------------------- #
def test_register_indexes_by_name_and_rejects_duplicates():
    a = rb.Scenario("A", loss_event_frequency=1, primary_loss=LOSS)
    b = rb.Scenario("B", annual_probability=0.1, primary_loss=LOSS)
    reg = rb.Register([a, b])
    assert reg["B"] is b and reg[0] is a and len(reg) == 2 and "A" in reg
    assert reg.select(["B", "A"]).names == ("B", "A")
    assert reg.replace(b.renamed("C")).names == ("A", "B", "C")
    with pytest.raises(rb.ScenarioError, match="scenario name 'A' appears twice"):
        rb.Register([a, a])
    with pytest.raises(KeyError, match="no scenario named 'Z'"):
        reg["Z"]
    frame = reg.to_frame()
    assert frame.loc["A", "expected_annual_loss"] == pytest.approx(a.expected_annual_loss())


def test_scenario_dict_round_trip_keeps_every_factor():
    s = rb.Scenario(
        "Full",
        contact_frequency=rb.PERT(10, 20, 40),
        probability_of_action=rb.Beta(2, 8),
        threat_capability=rb.PERT(0.2, 0.5, 0.9),
        resistance_strength=rb.Triangular(0.3, 0.6, 0.85),
        primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 2e4, 5e4), response=rb.LogNormal.from_ci(1e3, 1e5)),
        secondary_loss_probability=rb.Uniform(0.1, 0.3),
        secondary_loss=rb.LossForms(reputation=rb.LogNormal(10, 1)),
        category="ransomware",
        owner="CISO",
        id="R9",
        adjustments=(rb.Adjustment("frequency", rb.PERT(0.4, 0.5, 0.7), "MFA"),),
    )
    assert rb.Scenario.from_dict(s.to_dict()) == s



def test_the_same_source_cannot_adjust_a_factor_twice():
    s = scenario(loss_event_frequency=1)
    adj = rb.Adjustment("frequency", 0.5, "MFA")
    with pytest.raises(rb.ScenarioError, match=r"'MFA' adjusts frequency 2 times; a control or project acts once on a factor"):
        s.with_adjustments(adj, adj)


def test_register_rejects_duplicate_ids():
    a = rb.Scenario("A", loss_event_frequency=1, primary_loss=LOSS, id="R1")
    b = rb.Scenario("B", loss_event_frequency=1, primary_loss=LOSS, id="R1")
    with pytest.raises(rb.ScenarioError, match="scenario id 'R1' is used by both 'A' and 'B'"):
        rb.Register([a, b])


@pytest.mark.parametrize(
    "tcap,c,d",
    [
        (rb.PERT(0.1, 0.5, 0.95, lam=40), 0.2, 0.95),  # scipy's quad missed this one by 4.7e-10
        (rb.PERT(0.2, 0.5, 0.9), 0.3, 0.8),
        (rb.PERT(0.0, 0.05, 1.0), 0.01, 0.02),  # a narrow resistance near a steep end
        (rb.PERT(0.3, 0.6, 0.7, lam=2), 0.0, 1.0),
    ],
)
def test_expected_susceptibility_against_a_uniform_resistance_is_the_closed_form(tcap, c, d):
    """P(X > U) for U ~ Uniform(c, d) is E[min((X - c)+, d - c)] / (d - c) = (E[(X - c)+] - E[(X - d)+]) / (d - c),
    and for X = low + w B with B ~ Beta(a, b): E[(X - t)+] = w (a / (a + b) (1 - I_s(a + 1, b)) - s (1 - I_s(a, b))),
    s = (t - low) / w (clipped to [0, 1])."""
    a, b, low, w = tcap.alpha, tcap.beta, tcap.low, tcap.high - tcap.low

    def excess(t: float) -> float:
        s = min(max((t - low) / w, 0.0), 1.0)
        return w * (a / (a + b) * (1 - special.betainc(a + 1, b, s)) - s * (1 - special.betainc(a, b, s))) + max(low - t, 0.0)

    exact = (excess(c) - excess(d)) / (d - c)
    s = scenario(threat_event_frequency=1, threat_capability=tcap, resistance_strength=rb.Uniform(c, d))
    assert s.expected_susceptibility() == pytest.approx(exact, abs=1e-13)
