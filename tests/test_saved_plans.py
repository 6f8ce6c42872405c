"""Saved plans end to end: Plan.save and rb.load_plan round trips, old and newer versions, bad files, the
attribution of compare against exact oracles, the trend chart, and the CLI's optimize --save, compare and trend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import riskbudget as rb
import riskbudget.review
from riskbudget.cli import main
from riskbudget.optimization.document import FORMAT_VERSION, file_hash, plan_document
from riskbudget.review import PlanFileError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "example"
FILES = {"register": EXAMPLE / "register.csv", "controls": EXAMPLE / "controls.csv",
         "projects": EXAMPLE / "projects.csv"}
DECISION_FILES = ["--register", str(FILES["register"]), "--controls", str(FILES["controls"]),
                  "--projects", str(FILES["projects"])]
YEARS = 1_000
#: The keys version 2 of the layout added (a version-1 document is a version-2 one without them).
ADDED_IN_2 = ("status_text", "confidence", "margins", "optimised_for", "robustness", "smallest_values",
              "budget_needed", "horizon")


@pytest.fixture(scope="module")
def example():
    ds = rb.datasets
    return ds.load_register(), ds.load_controls(), ds.load_projects()


@pytest.fixture(scope="module")
def plan(example):
    """The example at a loose TVaR limit, with margins for fresh years: every field a plan carries is set."""
    reg, ctl, prj = example
    return rb.optimize(reg, ctl, prj, budget=6e6, appetite=rb.Appetite(tvar95=26e6), confidence=0.9,
                       years=YEARS, seed=7, progress=False)


@pytest.fixture(scope="module")
def saved_path(plan, tmp_path_factory):
    return plan.save(tmp_path_factory.mktemp("saved") / "q1.json", files=FILES)


def tiny_problem():
    """Two scenarios, two controls: small enough to solve an appetite that cannot be met in a fraction of a second."""
    reg = rb.Register([
        rb.Scenario("Ransomware", threat_event_frequency=rb.PERT(0.2, 0.5, 1.5), susceptibility=rb.PERT(0.2, 0.4, 0.6),
                    primary_loss=rb.LogNormal.from_ci(5e5, 2e7)),
        rb.Scenario("Fraud", threat_event_frequency=rb.PERT(1, 3, 8), susceptibility=rb.PERT(0.05, 0.1, 0.2),
                    primary_loss=rb.LogNormal.from_ci(5e4, 2e6)),
    ])
    ctl = (rb.Control("EDR", 2e5, applies_to="Ransomware", resistance=rb.PERT(0.3, 0.5, 0.7)),
           rb.Control("Call-back", 5e4, applies_to="Fraud", resistance=rb.PERT(0.5, 0.7, 0.9)))
    return reg, ctl


# --------------------------------------------------------------------------- #
# Round trips
# --------------------------------------------------------------------------- #
def test_the_round_trip_keeps_every_part_of_the_plan(plan, saved_path):
    saved = rb.load_plan(saved_path)
    assert rb.load_plan is riskbudget.review.load_plan and rb.compare is riskbudget.review.compare
    assert saved.version == FORMAT_VERSION and saved.package_version == rb.__version__
    assert (saved.seed, saved.years, saved.budget) == (7, YEARS, 6e6)
    assert saved.funded == (*plan.funded_controls, *plan.funded_projects,
                            *(f"{p} (security by design)" for p in plan.security_by_design))
    for k in ("ale", "ale_se", "var95", "tvar95", "expected_net_value", "total_spend", "security_spend", "it_spend",
              "ale_before", "tvar95_before"):
        assert saved.metrics[k] == getattr(plan, k), k  # JSON keeps floats exactly
    assert saved.status == str(plan.status) and saved.status_text == plan.status_text
    # the reasons as the plan states them (against the limits the program enforced, margins included)
    items = [(r["item"], r["funded"], r["reason"], r["detail"]) for r in saved.data["items"]]
    assert items == [(r.item, r.funded, str(r.reason), r.detail) for r in plan.reasons]
    assert saved.reasons()["reason"].tolist() == [str(r.reason) for r in plan.reasons]
    # margins for fresh years, the limits as enforced, and the check on fresh years
    assert saved.confidence == 0.9 and saved.margins == plan.margins and plan.margins["TVaR95"] > 0
    assert rb.Appetite.from_dict(saved.data["optimised_for"]) == plan.optimised_for
    assert saved.robustness == json.loads(json.dumps(plan.robustness.to_dict()))
    assert saved.appetite() == plan.appetite_spec
    assert saved.constraints["budget"] == 6e6
    assert saved.smallest_values is None and saved.budget_needed is None  # the appetite is met
    assert saved.by_year() is None and saved.horizon == 1 and saved.npv is None  # a one-year plan
    # the inputs travel with the plan and rebuild equal objects; their files are named and hashed
    assert saved.register().names == plan.problem.register.names
    assert saved.controls() == plan.problem.controls and saved.projects() == plan.problem.projects
    assert saved.files == {k: {"file": p.name, "sha256": file_hash(p)} for k, p in FILES.items()}
    # written atomically: nothing but the plan in its directory
    assert [p.name for p in saved_path.parent.iterdir()] == ["q1.json"]
    assert "SavedPlan(q1.json:" in repr(saved)


def test_a_saved_plan_saves_again_to_the_same_document(plan, saved_path, tmp_path):
    again = plan.save(tmp_path / "again.json", files=FILES)
    first, second = json.loads(saved_path.read_text()), json.loads(again.read_text())
    first.pop("created"), second.pop("created")
    assert first == second
    assert json.loads(saved_path.read_text()) == rb.load_plan(saved_path).data  # the current layout, as read


def test_an_appetite_that_cannot_be_met_is_saved_with_its_nearest_limits(tmp_path):
    reg, ctl = tiny_problem()
    infeasible = rb.optimize(reg, ctl, (), budget=1e5, appetite=rb.Appetite(tvar95=1e6), years=YEARS, seed=3,
                             progress=False)
    assert infeasible.status == "infeasible_appetite"
    saved = rb.load_plan(infeasible.save(tmp_path / "no.json"))
    summary = json.loads(json.dumps(infeasible.to_dict(), default=str))
    assert saved.smallest_values == summary["smallest_values"] and saved.smallest_values[0]["limit"] == "TVaR95"
    assert saved.budget_needed == summary["budget_needed"]
    assert saved.status_text == infeasible.status_text and "cannot be met" in saved.status_text
    assert saved.data["appetite_ok"] is False
    assert saved.files == {}  # no file names given: none recorded


def test_a_multi_year_plan_keeps_its_horizon_npv_and_year_table(example, tmp_path):
    reg, ctl, prj = example
    three = rb.optimize(reg, ctl, prj, budget=6e6, horizon=3, discount_rate=0.08, years=YEARS, seed=7, progress=False)
    saved = rb.load_plan(three.save(tmp_path / "three.json"))
    assert (saved.horizon, saved.discount_rate, saved.npv) == (3, 0.08, three.npv)
    table = saved.by_year()
    assert list(table.index) == [1, 2, 3] and list(table.columns) == list(three.by_year.columns)
    for col in ("spend", "value", "ale", "tvar95", "net", "discounted_net"):
        assert table[col].tolist() == three.by_year[col].tolist(), col
    assert table["partial_year"].tolist() == three.by_year["partial_year"].tolist()
    two = rb.optimize(reg, ctl, prj, budget=7e6, horizon=3, discount_rate=0.08, years=YEARS, seed=7, progress=False)
    c = rb.compare(saved, two.save(tmp_path / "two.json"))
    assert c.delta["npv"] == pytest.approx(two.npv - three.npv, rel=1e-12)
    assert "NPV (3 and 3 years)" in c.describe()
    assert rb.review.trend([saved, tmp_path / "two.json"])["npv"].tolist() == [three.npv, two.npv]


def test_a_multi_year_plan_keeps_its_check_on_fresh_years_year_by_year(example, tmp_path):
    from riskbudget.appetite import LimitKind
    from riskbudget.reporting import _saved_robustness

    reg, ctl, prj = example
    appetite = rb.Appetite(tvar95=40e6, exceedance={30e6: 0.05})
    three = rb.optimize(reg, ctl, prj, budget=6e6, horizon=3, discount_rate=0.08, appetite=appetite, years=YEARS,
                        seed=7, progress=False)
    assert three.robustness is not None and all(" in year" in c.label for c in three.robustness.checks)
    saved = rb.load_plan(three.save(tmp_path / "three.json"))
    assert saved.robustness == three.robustness.to_dict()
    back = _saved_robustness(saved.robustness, appetite)
    assert [c.label for c in back.checks] == [c.label for c in three.robustness.checks]
    assert [c.kind for c in back.checks] == [c.kind for c in three.robustness.checks]
    assert {c.kind for c in back.checks} == {LimitKind.TVAR, LimitKind.EXCEEDANCE}
    assert [c.chance for c in back.checks] == [c.chance for c in three.robustness.checks]


def test_a_version_1_document_still_reads(saved_path, tmp_path, plan):
    v1 = json.loads(saved_path.read_text())
    for key in ADDED_IN_2:
        del v1[key]
    v1["version"] = 1
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    old = rb.load_plan(tmp_path / "v1.json")
    assert old.version == 1 and old.data["version"] == FORMAT_VERSION
    # what version 1 kept in its summary is found again
    assert old.status_text == plan.status_text and old.margins == plan.margins and old.confidence == 0.9
    assert old.robustness == json.loads(json.dumps(plan.robustness.to_dict()))
    assert old.data["optimised_for"] is None  # not in version 1
    # a bare version-1 file (no summary either) reads with empty defaults and its status in words
    del v1["summary"]
    (tmp_path / "bare.json").write_text(json.dumps(v1))
    bare = rb.load_plan(tmp_path / "bare.json")
    assert bare.status_text == plan.status_text and bare.margins == {} and bare.robustness is None
    # and compares with a current one
    c = rb.compare(tmp_path / "bare.json", saved_path)
    assert c.attribution["ale_change"] == 0.0 and not c.funded_added and not c.funded_removed


# --------------------------------------------------------------------------- #
# Bad files
# --------------------------------------------------------------------------- #
def test_bad_plan_files_are_refused_naming_the_file(saved_path, tmp_path):
    missing = tmp_path / "nowhere.json"
    with pytest.raises(PlanFileError, match=rf"{missing}: no such file"):
        rb.load_plan(missing)
    with pytest.raises(PlanFileError, match=rf"{tmp_path}: is a directory; give the path of a saved plan file"):
        rb.load_plan(tmp_path)
    (tmp_path / "broken.json").write_text('{"format": "riskbudget-plan", ')
    with pytest.raises(PlanFileError, match=r"broken\.json: invalid JSON at line 1"):
        rb.load_plan(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(PlanFileError, match=r"list\.json: not a saved riskbudget plan .*--save list\.json"):
        rb.load_plan(tmp_path / "list.json")
    (tmp_path / "register.csv").write_text("name,frequency\nA,1\n")
    with pytest.raises(PlanFileError, match=r"register\.csv: invalid JSON"):
        rb.load_plan(tmp_path / "register.csv")
    data = json.loads(saved_path.read_text())
    for bad in ("2", True, 0):
        data["version"] = bad
        (tmp_path / "v.json").write_text(json.dumps(data))
        with pytest.raises(PlanFileError, match=r"v\.json: version .* must be a whole number >= 1"):
            rb.load_plan(tmp_path / "v.json")
    data["version"] = FORMAT_VERSION + 1
    data["package"]["version"] = "99.0"
    (tmp_path / "future.json").write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=rf"future\.json: saved by riskbudget 99\.0 in plan format version "
                                            rf"{FORMAT_VERSION + 1}, newer .* upgrade riskbudget"):
        rb.load_plan(tmp_path / "future.json")
    assert issubclass(PlanFileError, rb.RiskBudgetError)


def test_save_refuses_unknown_kinds_and_unreadable_input_files(plan, tmp_path):
    with pytest.raises(rb.RiskBudgetError, match=r"unknown input kind\(s\) \['registry'\]"):
        plan.save(tmp_path / "p.json", files={"registry": FILES["register"]})
    with pytest.raises(rb.RiskBudgetError, match=r"files\['controls'\]: .*gone\.csv: cannot be read"):
        plan.save(tmp_path / "p.json", files={"controls": tmp_path / "gone.csv"})
    assert not (tmp_path / "p.json").exists()


# --------------------------------------------------------------------------- #
# What changed, and where the ALE change comes from
# --------------------------------------------------------------------------- #
def test_attribution_same_inputs_all_of_the_change_comes_from_the_plan(example, tmp_path):
    reg, ctl, prj = example
    small = rb.optimize(reg, ctl, prj, budget=3e6, years=YEARS, seed=7, progress=False).save(tmp_path / "a.json")
    large = rb.optimize(reg, ctl, prj, budget=6e6, years=YEARS, seed=7, progress=False).save(tmp_path / "b.json")
    c = rb.compare(small, large)
    a = c.attribution
    assert a["from_inputs"] == pytest.approx(0.0, abs=1e-6 * a["ale_old"]) and a["from_inputs_se"] == 0.0
    assert a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-9)
    assert a["from_inputs"] + a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-12, abs=1e-6)
    assert c.inputs["changed"] == [] and c.to_dict()["budget"] == {"old": 3e6, "new": 6e6}
    assert not any("different samples" in n for n in c.notes)


def test_attribution_same_plan_all_of_the_change_comes_from_the_inputs(example, tmp_path):
    reg, ctl, prj = example
    funded = ("Immutable backups", "Payment verification call-back")
    before = rb.evaluate(reg, ctl, prj, funded=funded, years=YEARS, seed=5, progress=False)
    reg2 = reg.replace(reg[0].scaled_losses(2.0))
    after = rb.evaluate(reg2, ctl, prj, funded=funded, years=YEARS, seed=5, progress=False)
    c = rb.compare(before.save(tmp_path / "before.json"), after.save(tmp_path / "after.json"))
    a = c.attribution
    assert a["from_plan"] == pytest.approx(0.0, abs=1e-6 * a["ale_old"])
    assert a["from_inputs"] == pytest.approx(after.ale - before.ale, rel=1e-9) and a["from_inputs"] > 0
    assert a["from_inputs"] + a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-12, abs=1e-6)
    assert c.inputs["changed"] == ["register"] and list(c.inputs["scenarios"]["changed"]) == [reg[0].name]
    moved = c.inputs["scenarios"]["values"][reg[0].name]
    assert "primary_loss" in moved and moved["primary_loss"]["old"] != moved["primary_loss"]["new"]
    assert f"{reg[0].name}: " in c.describe() and "primary_loss moved" in c.describe()


def test_attribution_adds_up_when_scenarios_and_candidates_come_and_go(tmp_path):
    reg, ctl = tiny_problem()
    old = rb.optimize(reg, ctl, (), budget=3e5, years=YEARS, seed=1, progress=False)
    assert set(old.funded_controls) == {"EDR", "Call-back"}
    reg2 = rb.Register([reg[0], rb.Scenario("DDoS", threat_event_frequency=rb.PERT(0.5, 1, 3),
                                            susceptibility=rb.PERT(0.1, 0.3, 0.5),
                                            primary_loss=rb.LogNormal.from_ci(2e4, 1e6))])
    ctl2 = (rb.Control("EDR", 2.5e5, applies_to="Ransomware", resistance=rb.PERT(0.3, 0.5, 0.7)),
            rb.Control("Scrubbing", 4e4, applies_to="DDoS", resistance=rb.PERT(0.4, 0.6, 0.8)))
    new = rb.optimize(reg2, ctl2, (), budget=3e5, years=2 * YEARS, seed=2, progress=False)
    c = rb.compare(old.save(tmp_path / "old.json"), new.save(tmp_path / "new.json"))
    ins = c.inputs
    assert ins["scenarios"]["added"] == ["DDoS"] and ins["scenarios"]["removed"] == ["Fraud"]
    assert ins["controls"]["added"] == ["Scrubbing"] and ins["controls"]["removed"] == ["Call-back"]
    assert ins["controls"]["costs"] == {"EDR": {"cost_per_year": {"old": 2e5, "new": 2.5e5}}}
    assert "Call-back" in c.funded_removed
    a = c.attribution
    assert a["from_inputs"] + a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-12, abs=1e-6)
    assert a["ale_change"] == pytest.approx(new.ale - old.ale, rel=1e-12)
    # B: the old plan, less what is no longer a candidate, on the new inputs and the new plan's sample
    b = rb.evaluate(reg2, ctl2, (), funded=("EDR",), years=2 * YEARS, seed=2, progress=False)
    assert a["ale_old_plan_new_inputs"] == pytest.approx(b.ale, rel=1e-12)
    assert a["from_inputs_se"] > 0
    assert any("Call-back are no longer candidates" in n for n in c.notes)
    assert any("different samples" in n for n in c.notes)
    text = c.describe()
    assert "EDR: cost per year $200K -> $250K" in text and "added DDoS" in text and "removed Fraud" in text


# --------------------------------------------------------------------------- #
# The trend and its chart
# --------------------------------------------------------------------------- #
def test_trend_keeps_the_order_and_unique_labels(saved_path, tmp_path):
    (tmp_path / "b").mkdir()
    other = tmp_path / "b" / "q1.json"
    other.write_bytes(saved_path.read_bytes())
    t = rb.review.trend([saved_path, other, saved_path])
    assert list(t.index) == [str(saved_path), str(other), f"{saved_path} (2)"]  # two files called q1.json
    assert list(rb.review.trend([saved_path, saved_path]).index) == ["q1.json", "q1.json (2)"]
    assert {"status", "budget", "funded", "ale", "ale_se", "appetite_ok"} <= set(t.columns)
    with pytest.raises(rb.RiskBudgetError, match="no plans given"):
        rb.review.trend([])


def test_plot_trend_draws_each_metric_and_marks_plans_outside_appetite(saved_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from riskbudget.plotting import plot_trend

    t = rb.review.trend([saved_path, saved_path])
    t.loc[t.index[1], "appetite_ok"] = False
    try:
        ax = plot_trend(t)
        assert [x.get_text() for x in ax.get_legend().get_texts()] == ["ALE", "VaR95", "TVaR95", "Spend"]
        assert [x.get_text() for x in ax.get_xticklabels()] == ["q1.json", "q1.json (2)\n(outside appetite)"]
        assert ax.get_ylim()[0] == 0.0
        assert len(ax.collections) >= 4  # a red ring on each line at the plan outside its appetite
        ax2 = plot_trend(t, metrics=("expected_net_value",))
        assert [x.get_text() for x in ax2.get_legend().get_texts()] == ["Expected net value"]
        with pytest.raises(rb.RiskBudgetError, match=r"metrics \['alee'\] must be among"):
            plot_trend(t, metrics=("alee",))
        with pytest.raises(rb.RiskBudgetError, match="expected the DataFrame of riskbudget.review.trend"):
            plot_trend([saved_path])
    finally:
        plt.close("all")


# --------------------------------------------------------------------------- #
# The command line
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def cli_plans(tmp_path_factory):
    """Q1 and Q2 saved by the CLI: Q2 after a re-costed control and a larger budget."""
    d = tmp_path_factory.mktemp("cli")
    controls2 = d / "controls_q2.csv"
    controls2.write_text(FILES["controls"].read_text().replace("Phishing-resistant MFA,240000,",
                                                               "Phishing-resistant MFA,300000,"))
    args = ["optimize", *DECISION_FILES, "--years", str(YEARS), "--seed", "7", "--json"]
    assert main([*args, "--budget", "6e6", "--save", str(d / "q1.json")]) == 0
    q2 = [*args, "--budget", "7e6", "--save", str(d / "q2.json")]
    q2[q2.index("--controls") + 1] = str(controls2)
    assert main(q2) == 0
    return d, controls2


def test_optimize_save_records_the_input_files_and_equals_its_json(cli_plans, capsys, tmp_path):
    d, controls2 = cli_plans
    appetite = tmp_path / "appetite.yaml"
    appetite.write_text("tvar95: 2.6e7\n")
    code = main(["optimize", *DECISION_FILES, "--budget", "6e6", "--years", str(YEARS), "--seed", "7",
                 "--appetite", str(appetite), "--confidence", "0.5", "--json", "--save", str(tmp_path / "p.json")])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["saved"] == str(tmp_path / "p.json")
    saved = rb.load_plan(tmp_path / "p.json")
    assert saved.files == {**{k: {"file": p.name, "sha256": file_hash(p)} for k, p in FILES.items()},
                           "appetite": {"file": "appetite.yaml", "sha256": file_hash(appetite)}}
    assert saved.metrics["ale"] == out["ale"] and saved.status == out["status"]
    assert [r["item"] for r in saved.data["items"]] == [r["item"] for r in out["reasons"]]
    assert saved.appetite() == rb.Appetite(tvar95=2.6e7) and saved.confidence is None
    assert rb.load_plan(d / "q2.json").files["controls"] == {"file": controls2.name, "sha256": file_hash(controls2)}


def test_optimize_save_says_where_and_refuses_a_directory_before_working(monkeypatch, capsys, tmp_path):
    import importlib

    optimization = importlib.import_module("riskbudget.optimization")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the plan was computed before --save was checked")

    monkeypatch.setattr(optimization, "optimize", must_not_run)
    assert main(["optimize", *DECISION_FILES, "--budget", "6e6", "--save", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"riskbudget optimize: error: --save '{tmp_path}': is a directory" in err


def test_optimize_save_in_text_mode_says_where(capsys, tmp_path):
    target = tmp_path / "reviews" / "2026-q1.json"  # a directory that does not exist yet is made
    assert main(["optimize", *DECISION_FILES, "--budget", "6e6", "--years", str(YEARS), "--seed", "3",
                 "--save", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"Saved the plan to {target} (riskbudget compare OLD.json 2026-q1.json shows what "
                                 "changed)")
    assert rb.load_plan(target).seed == 3 and sorted(os.listdir(target.parent)) == ["2026-q1.json"]


def test_compare_json_has_what_changed_and_an_attribution_that_adds_up(cli_plans, capsys):
    d, _ = cli_plans
    assert main(["compare", str(d / "q1.json"), str(d / "q2.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"funded_added", "funded_removed", "delta", "inputs", "attribution"} <= set(doc)
    old, new = rb.load_plan(d / "q1.json"), rb.load_plan(d / "q2.json")
    assert set(doc["funded_added"]) == set(new.funded) - set(old.funded)
    assert set(doc["funded_removed"]) == set(old.funded) - set(new.funded)
    assert doc["delta"]["ale"] == new.metrics["ale"] - old.metrics["ale"]
    assert doc["inputs"]["changed"] == ["controls"]
    assert doc["inputs"]["controls"]["costs"] == {
        "Phishing-resistant MFA": {"cost_per_year": {"old": 240_000.0, "new": 300_000.0}}}
    assert doc["inputs"]["files"]["controls"] == {"old": "controls.csv", "new": "controls_q2.csv"}
    a = doc["attribution"]
    assert a["from_inputs"] + a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-12, abs=1e-6)
    assert a["from_inputs"] == pytest.approx(0.0, abs=1e-6 * a["ale_old"])  # a cost moved no loss
    assert main(["compare", str(d / "q1.json"), str(d / "q2.json")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("From q1.json (seed 7, 1,000 years) to q2.json (seed 7, 1,000 years):")
    assert "budget: $6M -> $7M" in text and "Phishing-resistant MFA: cost per year $240K -> $300K" in text
    assert "from changed inputs" in text and "from the changed plan" in text


def test_compare_and_trend_errors_name_the_file(cli_plans, capsys, tmp_path):
    d, _ = cli_plans
    missing = tmp_path / "q0.json"
    assert main(["compare", str(missing), str(d / "q2.json")]) == 1
    assert f"riskbudget compare: error: {missing}: no such file" in capsys.readouterr().err
    data = json.loads((d / "q1.json").read_text())
    data["version"] = FORMAT_VERSION + 1
    (tmp_path / "future.json").write_text(json.dumps(data))
    assert main(["compare", str(d / "q1.json"), str(tmp_path / "future.json"), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "future.json: saved by riskbudget" in captured.err and "upgrade" in captured.err
    assert main(["trend", str(d / "q1.json"), str(FILES["controls"])]) == 1
    assert "controls.csv: invalid JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(d / "q1.json")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["trend"])
    assert exc.value.code == 2


def test_trend_prints_a_table_json_and_writes_the_chart(cli_plans, capsys, tmp_path):
    d, _ = cli_plans
    plans = [str(d / "q1.json"), str(d / "q2.json")]
    assert main(["trend", *plans, "--plot", str(tmp_path / "trend.png")]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:3] == ["plan", "created", "funded"]
    assert [line.split()[0] for line in text.splitlines()[2:4]] == ["q1.json", "q2.json"]
    assert f"chart written to {tmp_path / 'trend.png'}" in text
    assert (tmp_path / "trend.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["trend", *plans, "--json", "--metric", "ale"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["plan"] for p in doc["plans"]] == ["q1.json", "q2.json"]
    assert doc["plans"][1]["ale"] == rb.load_plan(d / "q2.json").metrics["ale"] and doc["plot"] is None
    # an unknown image format is refused before any plan is read
    assert main(["trend", str(tmp_path / "nowhere.json"), "--plot", str(tmp_path / "t.xyz")]) == 1
    assert ".xyz is not an image format" in capsys.readouterr().err


def test_compare_json_is_the_only_thing_on_stdout_with_progress_on(cli_plans):
    d, _ = cli_plans
    proc = subprocess.run([sys.executable, "-m", "riskbudget", "compare", str(d / "q1.json"), str(d / "q2.json"),
                           "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "RISKBUDGET_PROGRESS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads(proc.stdout)) >= {"funded_added", "funded_removed", "delta", "attribution"}


def test_plan_document_is_json_ready(plan):
    doc = plan_document(plan)
    assert json.loads(json.dumps(doc, allow_nan=False)) == json.loads(json.dumps(doc, default=str))
