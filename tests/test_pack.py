"""The decision pack: ``rb.report(..., plan=)`` - the first screen, every candidate and its reason, honest labels,
saved plans, the hooks for insurance and per-year tables, the charts, and the pack in headless Chromium.

One small optimised plan (2,000 years, a loose TVaR limit and the example's tolerance curve) serves every test;
the frontier is solved at 5 shares once.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import riskbudget as rb
from riskbudget import plotting
from riskbudget.controls import read_controls, read_projects
from riskbudget.formatting import money, percent
from riskbudget.optimization import Reason, evaluate, optimize, precompute

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
YEARS, SEED, BUDGET = 2_000, 7, 6_000_000
TOLERANCE = rb.ToleranceCurve.from_points([(0.20, 8e6), (0.01, 4e7)])  # the example appetite's curve
APPETITE = rb.Appetite(tvar95=26e6, tolerance=TOLERANCE)  # loose: the solves stay fast
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MM = 96 / 25.4  # CSS pixels per millimetre
#: (width, height) of the paper in mm, and the pack's @page margins (12 mm at the sides, 12 top, 14 bottom).
PAPER = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}
MARGINS = (24.0, 26.0)
VOID = {"br", "img", "meta", "link", "hr", "input", "col", "wbr", "source"}


class Page(HTMLParser):
    """What a reader finds in the pack: sections, their text, rows of candidates, images, tags and links."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.section_text: dict[str, list[str]] = {}
        self.rows: dict[str, dict[str, dict[str, str]]] = {}  # table id -> item -> attributes
        self.row_text: dict[str, str] = {}  # item -> the text of its row (the last table naming it)
        self._row: str | None = None
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.images: list[dict[str, str]] = []
        self.field_text: dict[str, list[str]] = {}
        self._section: str | None = None
        self._table: str | None = None
        self._open: list[str] = []  # the open elements
        self._field: list[tuple[int, str]] = []  # (depth, name) of the open data-field elements
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in a.items()]
        if tag == "section":
            self._section = a.get("id", "")
            self.sections.append(self._section)
        if tag == "table":
            self._table = a.get("id")
        if tag == "tr" and self._table and "data-item" in a:
            self.rows.setdefault(self._table, {})[a["data-item"]] = a
            self._row = a["data-item"]
            self.row_text[self._row] = ""
        if tag == "img":
            self.images.append(a)
        if tag not in VOID:
            self._open.append(tag)
            if "data-field" in a:
                self._field.append((len(self._open), a["data-field"]))

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        if tag == "table":
            self._table = None
        if tag == "tr":
            self._row = None
        if tag in self._open:
            while self._open.pop() != tag:
                pass
        self._field = [(d, f) for d, f in self._field if d <= len(self._open)]

    def handle_data(self, data):
        if self._section is not None:
            self.section_text.setdefault(self._section, []).append(data)
        for _, f in self._field:
            self.field_text.setdefault(f, []).append(data)
        if self._row is not None:
            self.row_text[self._row] = " ".join((self.row_text[self._row] + " " + data).split())

    def section(self, name: str) -> str:
        return " ".join(" ".join(self.section_text.get(name, [])).split())


@pytest.fixture(scope="module")
def problem():
    reg = rb.read_register(rb.io.example_path("register.csv"))
    return precompute(reg, read_controls(rb.io.example_path("controls.csv")),
                      read_projects(rb.io.example_path("projects.csv")), years=YEARS, seed=SEED, progress=False)


@pytest.fixture(scope="module")
def plan(problem):
    return optimize(problem, budget=BUDGET, appetite=APPETITE, progress=False)


@pytest.fixture(scope="module")
def pack(plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "pack.html"
    return rb.report(rb.io.example_path("register.csv"), plan=plan, frontier=5, out=out,
                     organisation="Example logistics company (fictional)")


@pytest.fixture(scope="module")
def page(pack) -> Page:
    return Page(pack.html)


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&").split())


# --------------------------------------------------------------------------- #
# The first screen
# --------------------------------------------------------------------------- #
def test_pack_sections_in_order(pack, page):
    assert page.sections == ["decision", "candidates", "frontier", "lec", "appetite", "scorecard", "owners",
                             "assumptions"]
    assert pack.plan is not None and pack.frontier is not None
    assert pack.path is not None and pack.path.read_text(encoding="utf-8") == pack.html
    assert repr(pack).startswith("BoardReport(decision pack, ")
    assert set(pack.figures) == {"lec", "frontier"}


def test_status_is_the_plans_own_words(plan, page):
    assert plan.status == "optimal"
    assert " ".join(page.field_text["status_text"]).strip() == plan.status_text


def test_first_screen_says_what_we_fund_and_what_it_costs(plan, page):
    decision = page.section("decision")
    spend = " ".join(" ".join(page.field_text["spend"]).split())
    assert money(plan.total_spend) in spend and money(plan.budget) in spend
    assert f"security {money(plan.security_spend)}" in spend and f"IT {money(plan.it_spend)}" in spend
    assert set(page.rows["funded-items"]) == {r.item for r in plan.reasons if r.funded}
    for name in (*plan.funded_controls, *plan.funded_projects):
        assert name in decision
    assert f"Security controls ({len(plan.funded_controls)})" in decision
    assert f"IT projects ({len(plan.funded_projects)})" in decision


def test_first_screen_says_how_much_risk_remains_with_monte_carlo_errors(plan, pack, page):
    decision = page.section("decision")
    before = pack.result.annual_loss.to_numpy()
    after = pack.residual_result.annual_loss.to_numpy()
    assert np.array_equal(after, plan.result.annual_loss.to_numpy())
    assert math.isclose(before.mean(), plan.ale_before)
    for value, se in ((plan.ale_before, rb.metrics.ale_se(before)), (plan.ale, plan.ale_se),
                      (plan.var95_before, rb.metrics.var_se(before, 0.95)), (plan.var95, rb.metrics.var_se(after, 0.95)),
                      (plan.tvar95_before, rb.metrics.tvar_se(before, 0.95)),
                      (plan.tvar95, rb.metrics.tvar_se(after, 0.95))):
        assert f"{money(value)} ± {money(se)}" in decision
    cmp = pack.comparison
    assert f"{money(-cmp.reduction('ale'))} ± {money(cmp.reduction_se('ale'))}" in decision


def test_first_screen_says_within_appetite_in_those_words(plan, page):
    assert plan.appetite.ok
    card = " ".join(" ".join(page.field_text["appetite"]).split())
    assert "within appetite" in card
    assert "Against the board's appetite the plan is within appetite" in page.section("decision")
    assert "every limit still holds" in page.section("decision")  # the fresh-year check, stated apart


def test_first_screen_names_what_is_not_funded_and_why(plan, page):
    decision = page.section("decision")
    unfunded = [r for r in plan.reasons if not r.funded]
    assert unfunded, "the example leaves candidates unfunded"
    assert set(page.rows["unfunded-items"]) == {r.item for r in unfunded}
    for r in unfunded:
        assert r.item in decision
        reason = str(r.reason)
        assert reason[:1].upper() + reason[1:] in decision  # each unfunded item sits under its reason
        if r.reason is Reason.DOES_NOT_PAY:
            assert f"{money(r.delta_net_value)} ± {money(r.delta_se)}" in decision
    assert "What we deliberately do not fund, and why" in decision


def test_pack_names_every_candidate_and_its_reason(plan, problem, page):
    """Done-when: every candidate control and project, with its reason and return on control."""
    rows = {**page.rows["controls"], **page.rows["projects"]}
    reasons = {r.item: r for r in plan.reasons}
    names = {c.name for c in problem.controls} | {p.name for p in problem.projects}
    assert names <= set(rows)  # every candidate control and project
    assert set(rows) == set(reasons)  # and every security-by-design option the plan could buy
    text = page.section("candidates")
    for item, r in reasons.items():
        assert rows[item]["data-reason"] == str(r.reason)
        assert rows[item]["data-funded"] == ("yes" if r.funded else "no")
        assert r.detail in text
    pct = lambda v: rb.formatting.percent(v, digits=0)  # noqa: E731
    assert len(plan.returns) == len(problem.controls)
    for name, row in plan.returns.iterrows():  # return on control with 95% intervals, in the control's own row
        cells = page.row_text[name]
        assert f"{pct(row['roc_standalone'])} {pct(row['roc_standalone_low'])} to {pct(row['roc_standalone_high'])}" in cells
        assert f"{pct(row['roc_marginal'])} {pct(row['roc_marginal_low'])} to {pct(row['roc_marginal_high'])}" in cells
    for r in plan.reasons:
        if math.isfinite(r.delta_se) and r.delta_se > 0:
            assert money(r.delta_net_value - 1.959963984540054 * r.delta_se) in page.row_text[r.item]


def test_frontier_marks_the_plan(pack, page):
    text = page.section("frontier")
    share = pack.plan.security_spend / pack.plan.total_spend
    assert f"The diamond is the plan: {share:.0%} of its spend goes to security" in text
    assert len(pack.frontier.table) == 5
    assert "0% " in text and "100%" in text


def test_lec_is_on_a_log_probability_axis_against_the_tolerance_curve(page):
    text = page.section("lec")
    assert "both on log scales" in text and "tolerance curve" in text
    assert "$40M" in text and "1.00%" in text  # the tolerance point is tabulated


def test_precision_notes_are_shown(pack, page):
    notes_today = pack.result.precision_notes()
    assert notes_today, "2,000 years leave some ALE imprecise"
    assert "Imprecise estimates." in page.section("decision")
    text = page.section("assumptions")
    for note in notes_today:
        assert f"Today: {note}." in text
    assert pack.notes[: len(notes_today)] == tuple(notes_today)


def test_pack_is_self_contained_and_prints(pack, page):
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert len(page.images) == 2
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,") and img.get("alt")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for tag, key, value in page.attrs:
        if key in ("src", "href"):
            assert value.startswith(("data:", "#")), (tag, key, value)
    assert "@import" not in pack.html and not re.search(r"url\((?!data:)", pack.html)
    assert "@page { size: portrait;" in pack.html and "break-before: page" in pack.html


def test_pack_without_insurance_or_years_shows_neither(page):
    assert "insurance" not in page.sections and "by-year" not in page.sections


# --------------------------------------------------------------------------- #
# Labels never overstate
# --------------------------------------------------------------------------- #
def test_a_plan_outside_appetite_is_never_called_within(problem):
    plan = evaluate(problem, funded=[], appetite=APPETITE, progress=False)
    assert not plan.appetite.ok
    html = rb.report(plan=plan, frontier=None).html
    page = Page(html)
    assert "within appetite" not in html
    assert "outside appetite" in " ".join(page.field_text["appetite"])
    assert " ".join(page.field_text["status_text"]).strip() == plan.status_text == "as given (scored, not optimised)"
    assert "optimal on the sample" not in html
    for line in plan.appetite.breaches:
        assert line[:1].upper() + line[1:] in _words(html)
    assert "not computed for this pack (frontier=None)" in page.section("frontier")


def test_without_an_appetite_the_pack_says_so(problem):
    plan = optimize(problem, budget=BUDGET, progress=False)
    html = rb.report(plan=plan, frontier=None).html
    assert "within appetite" not in html and "outside appetite" not in html
    assert "not given" in " ".join(Page(html).field_text["appetite"])


def test_an_appetite_other_than_the_plans_is_checked_and_said(plan):
    board = rb.report(plan=plan, appetite=rb.Appetite(tvar95=20e6), frontier=None)
    assert not board.residual_appetite_status.ok
    text = _words(board.html)
    assert "The plan was optimised under another risk appetite" in text
    assert "within appetite" not in board.html
    assert "On 2,000 fresh simulated years" not in text  # the fresh-year check was for the plan's own appetite


# --------------------------------------------------------------------------- #
# Saved plans
# --------------------------------------------------------------------------- #
def test_a_saved_plan_renders_with_what_was_proven(plan, tmp_path):
    path = plan.save(tmp_path / "plan.json")
    board = rb.report(rb.io.example_path("register.csv"), plan=path, frontier=None)
    assert board.plan.status == plan.status and board.plan.status_text == plan.status_text
    assert board.plan.expected_net_value == plan.expected_net_value
    assert board.plan.robustness.describe() == plan.robustness.describe()
    page = Page(board.html)
    assert set(page.rows["controls"]) | set(page.rows["projects"]) == {r.item for r in plan.reasons}
    assert str(path) in page.section("assumptions")


def test_a_saved_plan_not_reproduced_is_shown_as_rescored(plan, tmp_path):
    doc = json.loads(plan.save(tmp_path / "plan.json").read_text())
    doc["metrics"]["ale"] *= 1.01  # as if saved by a riskbudget that simulated differently
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(doc))
    board = rb.report(plan=path, frontier=None)
    assert board.plan.status == "evaluated"
    text = _words(board.html)
    assert "its numbers were not reproduced" in text and "it is shown as re-scored" in text
    page = Page(board.html)
    assert " ".join(page.field_text["status_text"]).strip() == "as given (scored, not optimised)"
    assert "optimal on the sample" not in board.html


def test_a_multi_year_plan_shows_its_years_and_reads_back(plan, problem, tmp_path):
    three = evaluate(problem, funded=plan.funding, appetite=APPETITE, budget=BUDGET, horizon=3, discount_rate=0.05,
                     progress=False)
    assert three.by_year is not None and len(three.by_year) == 3
    for given in (three, three.save(tmp_path / "three.json")):
        board = rb.report(plan=given, frontier=None)
        page = Page(board.html)
        assert page.sections == ["decision", "candidates", "frontier", "lec", "appetite", "by-year", "scorecard",
                                 "owners", "assumptions"]
        text = page.section("by-year")
        assert f"net present value (project value − expected loss − spend, discounted) is {money(three.npv)}" in text
        for row in three.by_year.to_dict("records"):
            assert money(row["tvar95"]) in text and money(row["net"]) in text
        assert "by_year" in board.figures
        assert f"over the 3 years its net present value is {money(three.npv)}" in page.section("decision")
        assert board.plan.npv == three.npv
        # each control's return over the horizon, next to the one-year ones; net value is the NPV's change
        candidates = page.section("candidates")
        assert "Return in the plan over 3 years" in candidates
        assert "the change in net present value over the 3 years" in candidates
        for name, row in three.returns.iterrows():
            low, high = row["roc_horizon_marginal_low"], row["roc_horizon_marginal_high"]
            assert f"{percent(low, digits=0)} to {percent(high, digits=0)}" in candidates, name


# --------------------------------------------------------------------------- #
# Hooks and errors
# --------------------------------------------------------------------------- #
def test_an_insured_plan_shows_its_tower(plan):
    layer = rb.insurance.Insurance("Primary $10M xs $2.5M", premium=2.9e6, retention=2.5e6, limit=10e6)
    insured = rb.simulate(plan.result.register, years=YEARS, seed=plan.problem.root, insurance=layer, progress=False)
    board = rb.report(plan=replace(plan, result=insured), frontier=None)
    page = Page(board.html)
    assert page.sections[-4:] == ["insurance", "scorecard", "owners", "assumptions"]
    assert "Primary $10M xs $2.5M" in page.section("insurance") and "$12.5M" in page.section("insurance")
    assert set(board.figures) == {"lec", "insurance"}


@pytest.mark.parametrize("kwargs, match", [
    ({"years": 1_000}, "years cannot be given with plan="),
    ({"seed": 3}, "seed cannot be given with plan="),
    ({"controls": rb.io.example_path("controls.csv")}, "controls cannot be given with plan="),
    ({"frontier": 1}, r"frontier \(1\) must be a Frontier, a number of points"),
    ({"frontier": "11"}, "must be a Frontier"),
])
def test_pack_errors(plan, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.report(plan=plan, **kwargs)


def test_pack_refuses_another_register(plan, example_register):
    other = rb.Register([s for s in example_register if s.name != example_register.names[0]])
    with pytest.raises(rb.RiskBudgetError, match="optimised on another register.*missing: '"):
        rb.report(other, plan=plan, frontier=None)
    with pytest.raises(rb.RiskBudgetError, match="plan must be a Plan"):
        rb.report(plan=42)
    with pytest.raises(rb.RiskBudgetError, match="give the risk register"):
        rb.report()


# --------------------------------------------------------------------------- #
# The charts
# --------------------------------------------------------------------------- #
def test_plot_lec_log_axis_shows_the_tail_and_shades_breaches(plan, problem):
    from matplotlib.figure import Figure

    before = problem.result_for(rb.optimization.Funding())
    ax = Figure().subplots()
    appetite = rb.Appetite(exceedance={50e6: 0.0005}, tolerance=TOLERANCE)
    plotting.plot_lec(before, plan.result, labels=["today", "plan"], appetite=appetite, yscale="log", breaches=True,
                      ax=ax)
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] <= 0.0005 / 2  # the 0.05% limit is on the chart
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "today: above the tolerance curve" in labels  # today breaches the curve between about $4M and $10M
    assert "plan: above the tolerance curve" not in labels
    ticks = [plotting._log_percent(v) for v in (1.0, 0.1, 0.01, 0.001)]
    assert ticks == ["100%", "10%", "1%", "0.1%"]


def test_plot_frontier_marks_the_chosen_plan(pack):
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    plotting.plot_frontier(pack.frontier, ax=ax, chosen=pack.plan)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    share = pack.plan.security_spend / pack.plan.total_spend
    assert f"the plan: {share:.0%} of its spend on security" in labels
    with pytest.raises(rb.RiskBudgetError, match="chosen must be a Plan"):
        plotting.plot_frontier(pack.frontier, ax=ax, chosen="plan")


# --------------------------------------------------------------------------- #
# In a real browser
# --------------------------------------------------------------------------- #
@pytest.mark.browser
def test_pack_in_headless_chromium(pack, tmp_path):
    """The pack opens in Chromium with no request leaving the file, its first printed page holds the decision on
    A4 and Letter, nothing is wider than either page, and it prints; the first screen is saved as a screenshot."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is missing: pip install 'riskbudget[test]' (never `playwright install`)")
    url = pack.path.resolve().as_uri()
    shot = ROOT / "out" / "pack.png"  # like the dashboard's; docs/pack.png is made as docs/pack.md says
    shot.parent.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    started = time.monotonic()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            loaded = page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
            first_screen = page.inner_text("header") + "\n" + page.inner_text("#decision")
            page.screenshot(path=str(shot))
            pdfs = {size: page.pdf(format=size) for size in PAPER}
            page.emulate_media(media="print")
            fits = {}
            for size, (w, h) in PAPER.items():
                page.set_viewport_size({"width": round((w - MARGINS[0]) * MM), "height": round((h - MARGINS[1]) * MM)})
                fits[size] = page.evaluate(
                    "() => [document.documentElement.scrollWidth, document.querySelector('#decision')"
                    ".getBoundingClientRect().bottom + window.scrollY]")
        finally:
            browser.close()
    seconds = time.monotonic() - started
    assert requests == [url], f"the pack asked for more than itself: {requests}"
    assert errors == [] and loaded
    assert pack.plan.status_text in first_screen and "within appetite" in first_screen
    assert "What we deliberately do not fund, and why" in first_screen
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for size, (w, h) in PAPER.items():
        pdf = pdfs[size]
        assert pdf.startswith(b"%PDF-")
        box = [float(v) for v in re.search(rb"/MediaBox\s*\[([^\]]*)\]", pdf).group(1).split()]
        assert abs(box[2] - w / 25.4 * 72) < 1 and abs(box[3] - h / 25.4 * 72) < 1, (size, box)
        pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
        assert 6 <= pages <= 16, (size, pages)  # each part starts on a new page; not one page per row
        width, decision_bottom = fits[size]
        assert width <= round((w - MARGINS[0]) * MM), f"{size}: the pack is wider than the page ({width}px)"
        assert decision_bottom <= (h - MARGINS[1]) * MM, f"{size}: the decision does not fit on the first page"
    print(f"browser part: {seconds:.1f} s (load, screenshot, two PDFs, print layout)")


# --------------------------------------------------------------------------- #
# Shared metrics, risk by owner, materiality and the trend across reviews
# --------------------------------------------------------------------------- #
def test_owner_split_adds_up_to_the_plans_totals(plan):
    from riskbudget.reporting import _owner_context

    before = plan.problem.ground.result_for(rb.optimization.Funding())
    ctx = _owner_context(plan, before, plan.result, 0.95)
    total = ctx["total"]
    rel = 1e-9
    assert total["ale_after"] == pytest.approx(plan.ale, rel=rel)
    assert total["ale_before"] == pytest.approx(plan.ale_before, rel=rel)
    assert total["var"] == pytest.approx(plan.var95, rel=rel)
    assert total["tvar"] == pytest.approx(plan.tvar95, rel=rel)
    assert total["security"] == pytest.approx(plan.security_spend, rel=rel)
    assert total["it"] == pytest.approx(plan.it_spend, rel=rel)
    assert total["value"] == pytest.approx(plan.expected_value, rel=rel)
    owners = [r["owner"] for r in ctx["rows"]]
    assert len(owners) == len(set(owners)) and "CISO" in owners
    # a project's new scenario, with no owner of its own, belongs to the project's owner
    assert "(no owner)" not in owners


def test_pack_shows_the_scorecard_and_the_owner_table(plan, page):
    text = page.section("scorecard")
    assert "Project value delivered" in text and money(plan.expected_value) in text
    assert "13.2%" in text  # the cited benchmark (IANS 2024)
    owners = page.section("owners")
    assert "CISO" in owners and money(plan.tvar95) in owners


def test_materiality_from_the_appetite_file_before_and_after(problem):
    app = rb.read_appetite(rb.io.example_path("appetite.yaml"))
    assert app.revenue == 8e8 and app.materiality == 0.05 and app.materiality_threshold == 4e7
    plan = rb.evaluate(problem, funded=["Immutable backups"], appetite=app)
    board = rb.report(plan=plan, frontier=None)
    page = Page(board.html)
    before = problem.total_losses(problem.funding([]))
    after = plan.result.annual_loss.to_numpy()
    text = page.section("scorecard")
    assert "P(annual loss > $40M)" in text
    assert percent(rb.metrics.exceedance(before, 4e7), digits=2) in text
    assert percent(rb.metrics.exceedance(after, 4e7), digits=2) in text


def test_appetite_context_is_checked_and_round_trips():
    app = rb.Appetite(tvar95=1e7, revenue="800M", materiality="5%")
    assert rb.Appetite.from_dict(app.to_dict()) == app
    with pytest.raises(rb.RiskBudgetError, match="materiality needs revenue"):
        rb.Appetite(materiality=0.05)
    with pytest.raises(rb.RiskBudgetError, match="revenue"):
        rb.Appetite(revenue=-1)
    with pytest.raises(rb.RiskBudgetError, match="materiality"):
        rb.Appetite(revenue=1e9, materiality=1.5)


def test_pack_draws_the_trend_of_earlier_reviews(plan, problem, tmp_path):
    old = rb.evaluate(problem, funded=["Immutable backups"], appetite=APPETITE, budget=BUDGET)
    older = rb.evaluate(problem, funded=[], appetite=APPETITE, budget=BUDGET)
    paths = [older.save(tmp_path / "q1.json"), old.save(tmp_path / "q2.json")]
    board = rb.report(plan=plan, frontier=None, history=paths)
    page = Page(board.html)
    assert page.sections[-2:] == ["trend", "assumptions"] and "trend" in board.figures
    text = page.section("trend")
    assert text.index("q1.json") < text.index("q2.json") < text.index("this plan")
    assert money(older.ale) in text and money(plan.ale) in text
    with pytest.raises(rb.RiskBudgetError, match="history= .* goes with plan="):
        rb.report(rb.io.example_path("register.csv"), history=paths)


def test_revenue_and_materiality_do_not_make_the_appetite_another_one(plan):
    context = rb.Appetite(limits=APPETITE.limits, tolerance=APPETITE.tolerance, revenue=8e8, materiality=0.05)
    board = rb.report(plan=plan, appetite=context, frontier=None)
    assert "under another risk appetite" not in board.html
    assert 'id="materiality"' in board.html
    other = rb.Appetite(limits=APPETITE.limits[:0], tolerance=APPETITE.tolerance, revenue=8e8, materiality=0.05)
    assert "under another risk appetite" in rb.report(plan=plan, appetite=other, frontier=None).html
