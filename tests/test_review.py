"""Saved plans and joint reviews: round trips, versions, what changed, and where the ALE change comes from."""

from __future__ import annotations

import json

import pytest

import riskbudget as rb
from riskbudget.optimization import optimize
from riskbudget.optimization.document import FORMAT_VERSION, content_hash, save_plan
from riskbudget.review import PlanFileError, compare, load_plan, trend

YEARS = 2_000


@pytest.fixture(scope="module")
def quarters(tmp_path_factory):
    """Q1 on the example; Q2 after a re-estimate, a re-costed control, a new project and a larger budget."""
    ds = rb.datasets
    d = tmp_path_factory.mktemp("plans")
    reg1, ctl1, prj1 = ds.load_register(), ds.load_controls(), ds.load_projects()
    q1 = optimize(reg1, ctl1, prj1, budget=6e6, years=YEARS, seed=7, progress=False)
    q1.save(d / "q1.json", files={"register": ds.example_path("register.csv")})
    reg2 = reg1.replace(reg1[0].scaled_losses(1.5))
    ctl2 = tuple(c if c.name != "DDoS protection" else rb.Control.from_dict({**c.to_dict(), "cost_per_year": 80_000})
                 for c in ctl1)
    prj2 = (*prj1, rb.Project("Analytics sandbox", 100_000, value_per_year=rb.PERT(50_000, 150_000, 300_000)))
    q2 = optimize(reg2, ctl2, prj2, budget=7e6, years=YEARS, seed=11, progress=False)
    save_plan(q2, d / "q2.json")  # the function Plan.save delegates to
    return q1, q2, d


def test_a_saved_plan_reads_back_with_its_items_reasons_and_metrics(quarters):
    q1, _, d = quarters
    saved = load_plan(d / "q1.json")
    assert saved.version == FORMAT_VERSION and saved.data["package"]["version"] == rb.__version__
    assert saved.seed == 7 and saved.years == YEARS and saved.budget == 6e6
    assert set(saved.funded) == set(q1.funded_controls) | set(q1.funded_projects) | {
        f"{p} (security by design)" for p in q1.security_by_design}
    for k in ("ale", "var95", "tvar95", "expected_net_value", "total_spend"):
        assert saved.metrics[k] == pytest.approx(getattr(q1, k), rel=1e-12)
    reasons = saved.reasons()
    assert len(reasons) >= len(q1.problem.controls) + len(q1.problem.projects) and reasons["reason"].notna().all()
    # the inputs themselves travel with the plan, with hashes, and rebuild equal objects
    assert saved.register().names == q1.problem.register.names
    assert saved.controls() == q1.problem.controls and saved.projects() == q1.problem.projects
    entry = saved.data["inputs"]["register"]
    assert entry["file"] == "register.csv" and len(entry["file_sha256"]) == 64
    assert entry["sha256"] == content_hash(entry["data"])
    # the same plan rescored from the saved inputs gives the same numbers
    again = rb.evaluate(saved.register(), saved.controls(), saved.projects(), funded=q1.funding, years=YEARS, seed=7,
                        progress=False)
    assert again.ale == pytest.approx(q1.ale, rel=1e-12)


def test_files_from_a_newer_version_or_not_plans_are_refused_clearly(quarters, tmp_path):
    _, _, d = quarters
    data = json.loads((d / "q1.json").read_text())
    data["version"] = FORMAT_VERSION + 1
    (tmp_path / "future.json").write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=rf"plan format version {FORMAT_VERSION + 1}, newer than this riskbudget "
                                            rf"reads \(version {FORMAT_VERSION}\); upgrade riskbudget"):
        load_plan(tmp_path / "future.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(PlanFileError, match="not a saved riskbudget plan"):
        load_plan(tmp_path / "other.json")
    del data["items"]
    data["version"] = FORMAT_VERSION
    (tmp_path / "damaged.json").write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=r"lacks \['items'\]"):
        load_plan(tmp_path / "damaged.json")


def test_compare_names_what_changed_and_its_attribution_adds_up(quarters):
    q1, q2, d = quarters
    c = compare(d / "q1.json", d / "q2.json")
    old, new = set(load_plan(d / "q1.json").funded), set(load_plan(d / "q2.json").funded)
    assert set(c.funded_added) == new - old and set(c.funded_removed) == old - new
    assert c.delta["ale"] == pytest.approx(q2.ale - q1.ale, rel=1e-12)
    assert c.delta["total_spend"] == pytest.approx(q2.total_spend - q1.total_spend, rel=1e-12)
    ins = c.inputs
    assert list(ins["scenarios"]["changed"]) == [q1.problem.register[0].name]  # losses scaled: its estimates moved
    assert "primary_loss" in ins["scenarios"]["changed"][q1.problem.register[0].name]
    assert ins["controls"]["costs"] == {"DDoS protection": {"cost_per_year": {"old": 50_000.0, "new": 80_000.0}}}
    assert ins["projects"]["added"] == ["Analytics sandbox"] and not ins["projects"]["removed"]
    a = c.attribution
    assert a["from_inputs"] + a["from_plan"] == pytest.approx(a["ale_change"], rel=1e-12, abs=1e-6)
    assert a["ale_change"] == pytest.approx(q2.ale - q1.ale, rel=1e-12)
    # B: the old plan valued on the new inputs and the new plan's sample
    b = rb.evaluate(load_plan(d / "q2.json").register(), load_plan(d / "q2.json").controls(),
                    load_plan(d / "q2.json").projects(), funded=q1.funding, years=YEARS, seed=11, progress=False)
    assert a["ale_old_plan_new_inputs"] == pytest.approx(b.ale, rel=1e-12)
    assert a["from_inputs_se"] > 0  # different seeds: the inputs' part holds Monte Carlo noise, and says so
    assert any("different samples" in n for n in c.notes)
    doc = c.to_dict()
    assert {"funded_added", "funded_removed", "delta", "inputs", "attribution"} <= set(doc)
    json.dumps(doc)
    assert "from changed inputs" in c.describe()


def test_trend_lines_quarters_up(quarters):
    _, _, d = quarters
    t = trend([d / "q1.json", d / "q2.json"])
    assert list(t.index) == ["q1.json", "q2.json"]
    assert {"ale", "tvar95", "total_spend", "expected_net_value", "funded"} <= set(t.columns)
