"""Multi-year plans: one-off costs, lead times, discounting, per-year budgets and the appetite in every year."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.optimization import evaluate, optimize, precompute
from riskbudget.optimization.years import YearMix, horizon_of

from .test_optimize import all_fundings, small_instance, structurally_ok

YEARS, SEED = 2_000, 11


@pytest.fixture(scope="module")
def phased():
    """The small instance with one-off costs and lead times on some items."""
    reg, controls, projects = small_instance()
    leads = [0, 6, 12, 3, 0, 18]
    controls = [dataclasses.replace(c, one_off_cost=20_000.0 * (i % 3), lead_time_months=float(leads[i % len(leads)]))
                for i, c in enumerate(controls)]
    projects = [dataclasses.replace(p, one_off_cost=50_000.0, lead_time_months=float(6 * k))
                for k, p in enumerate(projects)]
    return precompute(reg, controls, projects, years=YEARS, seed=SEED, progress=False)


def test_npv_of_a_hand_computed_plan():
    """One scenario, one control live after 6 months with a one-off cost, one project live after a year."""
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=2.0, primary_loss=rb.PERT(5e4, 1e5, 2e5), category="web")])
    ctrl = rb.Control("WAF", 10_000, applies_to="web", resistance=0.5, one_off_cost=50_000, lead_time_months=6)
    proj = rb.Project("Portal", 30_000, value_per_year=200_000, one_off_cost=20_000, lead_time_months=12)
    problem = precompute(reg, [ctrl], [proj], years=20_000, seed=3, progress=False)
    a0 = evaluate(problem, funded=[]).ale
    a1 = evaluate(problem, funded=["WAF"]).ale
    # the closed form of the scenario's ALE: frequency x mean loss (PERT mean (a + 4m + b) / 6), within 4 SE
    plan0 = evaluate(problem, funded=[])
    assert abs(a0 - 2.0 * (5e4 + 4e5 + 2e5) / 6) < 4 * plan0.ale_se
    r = 0.1
    plan = evaluate(problem, funded=["WAF", "Portal"], horizon=3, discount_rate=r)
    ale = [0.5 * a0 + 0.5 * a1, a1, a1]  # the control is live for half of year 1
    spend = [10_000 + 50_000 + 30_000 + 20_000, 40_000, 40_000]
    value = [0.0, 200_000.0, 200_000.0]  # live after 12 months
    expected = sum((value[t] - ale[t] - spend[t]) / (1 + r) ** (t + 1) for t in range(3))
    assert plan.npv == pytest.approx(expected, rel=1e-12)
    table = plan.by_year
    assert list(table.index) == [1, 2, 3]
    for col in ("spend", "security_spend", "it_spend", "value", "ale", "var95", "tvar95", "net"):
        assert col in table.columns
    assert table["ale"].tolist() == pytest.approx(ale, rel=1e-12)
    assert table["spend"].tolist() == pytest.approx(spend, rel=1e-12)
    assert table["security_spend"].tolist() == pytest.approx([60_000, 10_000, 10_000])
    assert table["value"].tolist() == pytest.approx(value)
    assert table["partial_year"].tolist() == [True, False, False]
    # from year 2 every item is live: the year is exactly the one-year plan's sample
    one_year = evaluate(problem, funded=["WAF", "Portal"])
    for t in (2, 3):
        assert table.loc[t, "var95"] == one_year.var95 and table.loc[t, "tvar95"] == one_year.tvar95
        assert table.loc[t, "ale_se"] == pytest.approx(one_year.ale_se, rel=1e-12)
    # year 1 mixes the two full-year columns half and half (the control live for six months)
    x0 = evaluate(problem, funded=["Portal"]).result.annual_loss.to_numpy()
    x1 = one_year.result.annual_loss.to_numpy()
    assert table.loc[1, "tvar95"] == pytest.approx(rb.metrics.tvar(0.5 * x0 + 0.5 * x1, 0.95), rel=1e-12)
    assert any("live for part of the year" in n for n in plan.notes)
    doc = plan.to_dict()
    assert doc["npv"] == pytest.approx(expected, rel=1e-12) and len(doc["by_year"]) == 3
    assert "net present value" in plan.describe()


def test_items_going_live_in_the_same_year_split_it_at_their_go_live_dates():
    """Controls live after 3 and 6 months: a quarter of year 1 with neither, a quarter with the first, half with both.

    (Weighting every subset of live items by the product of their shares treated the go-live dates as independent:
    4.8% too low a year-1 loss here, and a project's added risk with a control gave 1.8% too high.)
    """
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=2.0, primary_loss=rb.PERT(5e4, 1e5, 2e5), category="web")])
    waf = rb.Control("WAF", 10_000, applies_to="web", resistance=0.5, one_off_cost=50_000, lead_time_months=3)
    edr = rb.Control("EDR", 8_000, applies_to="web", resistance=0.4, lead_time_months=6)
    portal = rb.Project("Portal", 30_000, value_per_year=200_000, lead_time_months=6,
                        risk_changes=[rb.controls.RiskChange("web", 0.5)])
    problem = precompute(reg, [waf, edr], [portal], years=4_000, seed=3, progress=False)

    def ale(*funded: str) -> float:
        return evaluate(problem, funded=list(funded)).ale

    plan = evaluate(problem, funded=["WAF", "EDR"], horizon=2, discount_rate=0.1)
    year1 = 0.25 * ale() + 0.25 * ale("WAF") + 0.5 * ale("WAF", "EDR")
    assert plan.by_year.loc[1, "ale"] == pytest.approx(year1, rel=1e-12)
    assert plan.by_year.loc[2, "ale"] == pytest.approx(ale("WAF", "EDR"), rel=1e-12)
    spend = [10_000 + 8_000 + 50_000, 18_000]
    npv = sum((-a - c) / 1.1**t for t, (a, c) in enumerate(zip([year1, ale("WAF", "EDR")], spend), start=1))
    assert plan.npv == pytest.approx(npv, rel=1e-12)
    # the control from month 3, the project's added attack surface from month 6
    mixed = evaluate(problem, funded=["WAF", "Portal"], horizon=2)
    year1 = 0.25 * ale() + 0.25 * ale("WAF") + 0.5 * ale("WAF", "Portal")
    assert mixed.by_year.loc[1, "ale"] == pytest.approx(year1, rel=1e-12)


def test_a_one_year_plan_says_when_it_leaves_one_off_costs_and_lead_times_out():
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=2.0, primary_loss=rb.PERT(5e4, 1e5, 2e5), category="web")])
    waf = rb.Control("WAF", 10_000, applies_to="web", resistance=0.5, one_off_cost=50_000)
    edr = rb.Control("EDR", 8_000, applies_to="web", resistance=0.4, lead_time_months=9)
    plain = rb.Control("MFA", 5_000, applies_to="web", resistance=0.3)
    problem = precompute(reg, [waf, edr, plain], [], years=2_000, seed=3, progress=False)
    said = "one-off costs and lead times count only over a horizon: this one-year plan scores WAF, EDR"
    assert any(n.startswith(said) for n in evaluate(problem, funded=["WAF", "EDR", "MFA"]).notes)
    assert not any("one-off costs and lead times" in n for n in evaluate(problem, funded=["MFA"]).notes)
    assert any(n.startswith(said) for n in optimize(problem, budget=1e6, include=["WAF", "EDR"]).notes)
    front = rb.frontier(problem, budget=1e6, shares=[1.0], include=["WAF", "EDR"])
    assert any(n.startswith(said) for n in front.plans[0].notes)
    # over a horizon they are counted, so nothing is said
    assert not any("one-off costs and lead times" in n
                   for n in evaluate(problem, funded=["WAF", "EDR"], horizon=2).notes)


def test_a_one_year_horizon_reproduces_the_one_year_plan(phased):
    reg, controls, projects = small_instance()
    problem = precompute(reg, controls, projects, years=YEARS, seed=SEED, progress=False)
    base = optimize(problem, budget=1_000_000)
    for r in (0.0, 0.07):
        one = optimize(problem, budget=1_000_000, horizon=1, discount_rate=r)
        assert one.funding == base.funding and one.status == "optimal"
        assert one.npv == pytest.approx(base.expected_net_value / (1 + r), rel=1e-12)
        assert one.by_year.loc[1, "net"] == pytest.approx(base.expected_net_value, rel=1e-12)


@pytest.mark.parametrize("horizon,rate,budget", [(3, 0.08, 1_000_000), (2, 0.0, [1_100_000, 800_000])])
def test_the_horizon_plan_has_the_best_npv_of_every_funding(phased, horizon, rate, budget):
    plan = optimize(phased, budget=budget, horizon=horizon, discount_rate=rate)
    hz = horizon_of("test", horizon, rate, budget)
    assert plan.status == "optimal" and plan.horizon == horizon
    mix = YearMix(phased)
    best = -math.inf
    from riskbudget.optimization.years import year_table

    for f in all_fundings(phased):
        if not structurally_ok(phased, f, math.inf):  # requires and excludes; the year budgets are checked below
            continue
        table, npv, _ = year_table(phased, f, hz, mix)
        if (table["spend"] <= np.asarray(hz.budgets) + 1e-6).all():
            best = max(best, npv)
    assert plan.npv == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert plan.bound == pytest.approx(plan.npv, rel=1e-6)
    assert (plan.by_year["spend"] <= np.asarray(hz.budgets) + 1e-6).all()


# The free plan spends $510K on security and $350K on IT in year 1 (one-off costs included), $430K and $300K a year
# after: each rule below holds on the recurring costs and breaks in year 1 only (the last binds in every year).
@pytest.mark.parametrize("rule", [{"security_budget": 470_000}, {"it_budget": 320_000},
                                  {"max_security_share": 0.591}, {"min_security_share": 0.592}])
def test_the_security_and_it_rules_hold_in_year_1_with_its_one_off_costs(phased, rule):
    from riskbudget.optimization.years import year_table

    free = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05)
    plan = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05, **rule)
    hz = horizon_of("test", 3, 0.05, 1_000_000)
    mix = YearMix(phased)

    def within(table):
        sec, it = table["security_spend"], table["it_spend"]
        share = sec / (sec + it).where(sec + it > 0, 1.0)
        return bool((table["spend"] <= 1_000_000 + 1e-6).all()
                    and (sec <= rule.get("security_budget", math.inf) + 1e-6).all()
                    and (it <= rule.get("it_budget", math.inf) + 1e-6).all()
                    and (share <= rule.get("max_security_share", 1.0) + 1e-12).all()
                    and (share >= rule.get("min_security_share", 0.0) - 1e-12).all())

    best = -math.inf
    for f in all_fundings(phased):
        if structurally_ok(phased, f, math.inf):
            table, npv, _ = year_table(phased, f, hz, mix)
            if within(table):
                best = max(best, npv)
    assert plan.status == "optimal" and plan.npv == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert within(plan.by_year) and not any(n.startswith("year 1: ") for n in plan.notes)
    if "min_security_share" not in rule:  # the free plan breaks the rule in year 1 only, and the notes say so
        assert not within(free.by_year) and plan.funding != free.funding
        scored = evaluate(phased, funded=free.funding, horizon=3, discount_rate=0.05, budget=1_000_000, **rule)
        said = [n for n in scored.notes if n.startswith("year 1: ")]
        assert len(said) == 1 and not any(n.startswith(("year 2: ", "year 3: ")) for n in scored.notes)
        assert ("exceeds the" in said[0]) != ("max_security_share" in rule)


def test_the_appetite_holds_in_every_year_and_the_plan_is_the_best_npv_under_it(phased):
    loose = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05, appetite=rb.Appetite(tvar95=1e12))
    free = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05)
    assert loose.feasible and loose.status == "optimal" and loose.funding == free.funding
    # a limit that binds in the early years (controls not yet live): brute force over every funding and year
    hz = horizon_of("test", 3, 0.05, 1_000_000)
    mix = YearMix(phased)
    from riskbudget.optimization.years import year_table

    tv = {}
    for f in all_fundings(phased):
        if not structurally_ok(phased, f, math.inf):  # requires and excludes; the year budgets are checked below
            continue
        table, npv, _ = year_table(phased, f, hz, mix)
        if (table["spend"] <= 1_000_000 + 1e-6).all():
            tv[f] = (npv, [mix.losses(f, t) for t in (1, 2, 3)])
    worst = min(max(rb.metrics.tvar(x, 0.95) for x in xs) for _, xs in tv.values())
    free_worst = free.by_year["tvar95"].max()  # year 1, before the controls are live
    assert worst < free_worst
    for limit in (free_worst - 0.3 * (free_worst - worst), worst + 0.1 * (free_worst - worst)):
        appetite = rb.Appetite(tvar95=limit, exceedance={2e6: 0.2})
        ok = [npv for npv, xs in tv.values() if all(appetite.holds(x) for x in xs)]
        plan = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05, appetite=appetite)
        if not ok:
            assert plan.status == "infeasible_appetite"
            continue
        assert plan.status == "optimal" and plan.feasible and plan.funding != free.funding
        assert plan.npv == pytest.approx(max(ok), rel=1e-9, abs=1e-6) and plan.npv < free.npv
        assert plan.by_year["tvar95"].max() <= limit * (1 + 1e-9)
    impossible = optimize(phased, budget=1_000_000, horizon=3, appetite=rb.Appetite(tvar95=1.0))
    assert not impossible.feasible and impossible.status == "infeasible_appetite"
    assert any("no plan meets the appetite in every year" in n for n in impossible.notes)
    assert "optimal" not in impossible.status_text


def test_bad_horizons_are_clear_errors(phased):
    with pytest.raises(rb.RiskBudgetError, match=r"discount_rate \(-1.0\) must be above -1 \(-100%\)"):
        optimize(phased, budget=1e6, horizon=3, discount_rate=-1.0)
    with pytest.raises(rb.RiskBudgetError, match=r"horizon"):
        optimize(phased, budget=1e6, horizon=0)
    with pytest.raises(rb.RiskBudgetError, match=r"budget has 2 amounts but the horizon is 3 years"):
        optimize(phased, budget=[1e6, 1e6], horizon=3)
    with pytest.raises(rb.RiskBudgetError, match=r"control 'MFA': lead_time_months \(12\) is beyond the horizon of 1 year"):
        optimize(phased, budget=1e6, horizon=1)
    with pytest.raises(rb.RiskBudgetError, match=r"lead_time_months \(12\) is beyond the horizon"):
        evaluate(phased, funded=[], horizon=1)


def test_every_funded_item_of_a_horizon_plan_earns_its_place_in_npv_or_a_years_limit(phased):
    """The drop-one test over a horizon, checked independently of the reasons: NPV and every year's appetite."""
    from riskbudget.optimization.years import year_table

    free = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05)
    appetite = rb.Appetite(tvar95=free.by_year["tvar95"].max() * 0.97)
    plan = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05, appetite=appetite)
    assert plan.status == "optimal"
    hz = horizon_of("test", 3, 0.05, 1_000_000)
    mix = YearMix(phased)
    reasons = {r.item: r for r in plan.reasons}
    for name in plan.funding.names:
        without = phased.funding([n for n in plan.funding.names if n != name],
                                 [n for n in plan.funding.security_by_design if n != name])
        _, npv, _ = year_table(phased, without, hz, mix)
        breaks = any(not appetite.holds(mix.losses(without, t)) for t in (1, 2, 3))
        r = reasons[name]
        assert r.delta_net_value == pytest.approx(plan.npv - npv, rel=1e-9, abs=1e-6)
        if r.reason == "pays for itself":
            assert npv < plan.npv and not breaks and "over 3 years" in r.detail
        elif r.reason == "an appetite limit needs it":
            assert breaks and all(lim.startswith("year ") for lim in r.limits)
        else:
            assert r.reason in ("a funded item requires it", "a rule you set needs it")


def _years_of(label: str) -> list[int]:
    """The years of a multi-year check's label ("TVaR95 in year 1", "... in years 2-3", "... in years 1, 3")."""
    text = label.rsplit(" in year", 1)[1].removeprefix("s").strip()
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def test_a_horizon_plan_is_checked_on_fresh_years_in_every_year(phased):
    """plan.robustness of a multi-year plan: each limit in each distinct year, on a fresh sample (seed + 1)."""
    from riskbudget.optimization.robustness import chance_to_hold, exceedance_chance_to_hold

    free = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05)
    assert free.robustness is None  # no appetite, nothing to check
    appetite = rb.Appetite(tvar95=free.by_year["tvar95"].max() * 0.97, exceedance={2e6: 0.2})
    plan = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05, appetite=appetite)
    rob = plan.robustness
    assert rob is not None and rob.years == YEARS and rob.seed == SEED + 1 and rob.confidence is None
    # independently: the fresh sample's year mixes, each year on its own
    fresh = precompute(phased.register, phased.controls, phased.projects, years=YEARS, seed=SEED + 1, progress=False)
    on_sample, on_fresh = YearMix(phased), YearMix(fresh)
    for lim in appetite.limits:
        checks = [c for c in rob.checks if c.label.startswith(lim.label + " in year")]
        years = sorted(t for c in checks for t in _years_of(c.label))
        assert years == [1, 2, 3]  # every year, once
        for c in checks:
            for t in _years_of(c.label):  # a check stands for years whose losses are the same on both samples
                xs, xf = on_sample.losses(plan.funding, t), on_fresh.losses(plan.funding, t)
                assert c.in_sample == lim.value(xs) and c.fresh == lim.value(xf)
                assert c.fresh_se == lim.standard_error(xf) and c.margin == 0.0
            if lim.kind is rb.appetite.LimitKind.EXCEEDANCE:
                k = int(np.count_nonzero(on_fresh.losses(plan.funding, _years_of(c.label)[0]) > lim.param))
                assert c.chance == exceedance_chance_to_hold(k, YEARS, lim.limit)
            else:
                assert c.chance == chance_to_hold(c.fresh, c.fresh_se, lim.limit)
    assert rob.ok == all(c.fresh <= c.limit for c in rob.checks)
    # the last year, every item live: the fresh sample is a plain simulation of the funded register, seed + 1
    last = on_fresh.losses(plan.funding, 3)
    direct = rb.simulate(phased.register_for(plan.funding), years=YEARS, seed=SEED + 1, progress=False)
    np.testing.assert_allclose(last, direct.annual_loss.to_numpy(), rtol=1e-12)
    assert "in year" in rob.describe() and plan.to_dict()["robustness"]["limits"][0]["limit"].startswith("TVaR95 in")
    # a saved plan reads the checks back with their limits' kinds
    from riskbudget.reporting import _limit_kind

    assert _limit_kind("P(loss > $2M) in years 2-3", appetite) is rb.appetite.LimitKind.EXCEEDANCE
    assert _limit_kind("TVaR95 in year 1", None) is rb.appetite.LimitKind.TVAR
    # a tolerance curve is checked on the fresh years of every year of the horizon
    from riskbudget.optimization.robustness import confirm_years

    for x in (0.5, 2.0):  # a curve below the fresh year 1 (broken), then one above every year (met)
        y1 = on_fresh.losses(plan.funding, 1)
        curve = rb.ToleranceCurve.from_points([(0.2, x * np.quantile(y1, 0.8)), (0.01, x * np.quantile(y1, 0.99))])
        with_curve = rb.Appetite(tvar95=appetite.limits[0].limit, tolerance=curve)
        checked = confirm_years(plan, 3, appetite=with_curve).tolerance_ok_fresh
        assert checked == all(with_curve.check(on_fresh.losses(plan.funding, t)).tolerance_ok for t in (1, 2, 3))
        assert checked == (x == 2.0)


def test_the_return_on_each_control_over_the_horizon_counts_one_off_costs_lead_times_and_discounting(phased):
    """plan.returns of a multi-year plan: PV of the ALE reductions against the PV of the costs, year by year."""
    from riskbudget.optimization.years import year_table

    plan = optimize(phased, budget=1_000_000, horizon=3, discount_rate=0.05)
    hz = horizon_of("test", 3, 0.05, 1_000_000)
    mix = YearMix(phased)
    d = np.array([1.05 ** -t for t in (1, 2, 3)])

    def pv_ale(f):
        table, _, _ = year_table(phased, f, hz, mix)
        return float((table["ale"].to_numpy() * d).sum())

    r = plan.returns
    f = plan.funding
    for ctrl in phased.controls:
        row = r.loc[ctrl.name]
        cost = ctrl.cost_per_year * d.sum() + ctrl.one_off_cost * d[0]
        assert row["pv_cost"] == pytest.approx(cost, rel=1e-12)
        others = [n for n in f.controls if n != ctrl.name]
        with_it = sorted(set(others) | {ctrl.name})
        without = phased.funding(others + list(f.projects), list(f.security_by_design))
        with_ = phased.funding(with_it + list(f.projects), list(f.security_by_design))
        marginal = pv_ale(without) - pv_ale(with_)
        alone = pv_ale(phased.funding(list(f.projects), list(f.security_by_design))) - pv_ale(
            phased.funding([ctrl.name] + list(f.projects), list(f.security_by_design)))
        assert row["pv_ale_reduction_marginal"] == pytest.approx(marginal, rel=1e-9, abs=1e-6)
        assert row["pv_ale_reduction_standalone"] == pytest.approx(alone, rel=1e-9, abs=1e-6)
        assert row["roc_horizon_marginal"] == pytest.approx((marginal - cost) / cost, rel=1e-9, abs=1e-12)
        assert row["roc_horizon_marginal_low"] < row["roc_horizon_marginal"] < row["roc_horizon_marginal_high"]
        # its standard error: of each simulated year's discounted reductions over the three years
        per_year = sum(dt * (mix.losses(without, t) - mix.losses(with_, t)) for t, dt in zip((1, 2, 3), d))
        se = per_year.std(ddof=1) / math.sqrt(per_year.size)
        assert row["pv_ale_reduction_marginal_se"] == pytest.approx(se, rel=1e-9)
        assert row["roc_horizon_marginal_high"] == pytest.approx((marginal + 1.959963984540054 * se - cost) / cost,
                                                                 rel=1e-9)
        # a lead time or a one-off cost can only lower the return against the one-year figure
        assert row["roc_horizon_standalone"] <= row["roc_standalone"] + 1e-9
        if (ctrl.one_off_cost or ctrl.lead_time_months) and row["ale_reduction_standalone"] > 0:
            assert row["roc_horizon_standalone"] < row["roc_standalone"] - 1e-6
    # without one-off costs and lead times the horizon's return is the one-year return (the discounting cancels)
    reg, controls, projects = small_instance()
    plain = precompute(reg, controls, projects, years=YEARS, seed=SEED, progress=False)
    three = optimize(plain, budget=1_000_000, horizon=3, discount_rate=0.07)
    for name, row in three.returns.iterrows():
        for kind in ("standalone", "marginal"):
            assert row[f"roc_horizon_{kind}"] == pytest.approx(row[f"roc_{kind}"], rel=1e-9, abs=1e-12), (name, kind)
    # a one-year plan has no horizon columns
    assert "roc_horizon_marginal" not in optimize(plain, budget=1_000_000).returns.columns
