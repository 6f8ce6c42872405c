"""The board report: parsed HTML, sections, escaping, embedded figures, atomic writes, command line."""

from __future__ import annotations

import base64
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.cli import main
from riskbudget.formatting import money
from riskbudget.reporting import BoardReport, ReportOptions, report

pytest.importorskip("jinja2")
pytest.importorskip("matplotlib")

YEARS = 5_000
APPETITE_PATH = rb.io.example_path("appetite.yaml")


class Page(HTMLParser):
    """Collects what a reader (or a browser) would find in the report."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.headings: dict[str, list[str]] = {}
        self.images: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.section_text: dict[str, list[str]] = {}
        self._section: str | None = None
        self._heading: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "section":
            self._section = a.get("id", "")
            self.sections.append(self._section)
        if tag in ("h2", "h3"):
            self._heading = tag
        if tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        if tag in ("h2", "h3"):
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._section is not None:
            self.section_text.setdefault(self._section, []).append(data)
            if self._heading == "h2":
                self.headings.setdefault(self._section, []).append(data.strip())

    def section(self, name: str) -> str:
        return " ".join(" ".join(self.section_text.get(name, [])).split())

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def board(example_register_path, tmp_path_factory) -> BoardReport:
    out = tmp_path_factory.mktemp("report") / "board.html"
    return rb.report(example_register_path, years=YEARS, seed=7, appetite=APPETITE_PATH, out=out)


@pytest.fixture(scope="module")
def page(board) -> Page:
    return Page(board.html)


# --------------------------------------------------------------------------- #
# Structure and content
# --------------------------------------------------------------------------- #
def test_report_has_every_section(board, page):
    assert page.sections == ["headline", "lec", "scenarios", "appetite", "distribution", "assumptions"]
    assert page.headings["headline"] == ["1. Headline"]
    assert page.headings["lec"][0].startswith("2. Loss exceedance curve against the tolerance curve")
    assert page.headings["scenarios"] == ["3. Top scenarios and their share of the tail"]
    assert page.headings["appetite"] == ["4. Risk appetite"]
    assert page.headings["assumptions"] == ["6. Assumptions"]
    assert board.html.startswith("<!DOCTYPE html>")
    assert board.path is not None and board.path.read_text(encoding="utf-8") == board.html


def test_headline_numbers_with_their_uncertainty(board, page):
    r = board.result
    text = page.section("headline")
    s = r.summary().loc["Total"]
    assert f"{money(s['ale'])} ± {money(s['ale_se'])}" in text
    assert money(s["var95"]) in text and money(s["tvar95"]) in text
    assert money(r.var(0.99)) in text
    x = r.annual_loss.to_numpy()
    assert f"between {money(np.quantile(x, 0.05))} and {money(np.quantile(x, 0.95))}" in text
    exact = sum(sc.expected_annual_loss() for sc in r.register)
    assert f"the exact value implied by the estimates is {money(exact)}" in text



# --------------------------------------------------------------------------- #
# Precision: an ALE whose standard error exceeds 5% of it is said in words
# --------------------------------------------------------------------------- #
RARE = rb.Scenario("Rare <breach>", loss_event_frequency=0.01, primary_loss=rb.LogNormal.from_ci(1e4, 1e7))
COMMON = rb.Scenario("Common", loss_event_frequency=5.0, primary_loss=rb.LogNormal.from_ci(1e3, 1e4))


def test_an_imprecise_ale_is_said_in_the_report():
    """A heavy tail at few years: SE > 5% of the ALE, for the portfolio and the rare scenario, in the headline."""
    reg = rb.Register([RARE, COMMON])
    residual = rb.Register([RARE, COMMON.with_adjustments(rb.Adjustment("frequency", 0.5, source="filter"))])
    board = report(reg, residual=residual, years=2_000, seed=1)
    page = Page(board.html)
    r = board.result
    rse = r.ale_se() / r.ale()
    rse_rare = r.ale_se(RARE.name) / r.ale(RARE.name)
    assert rse > 0.05 and rse_rare > 0.05 and r.ale_se("Common") < 0.05 * r.ale("Common")
    headline = page.section("headline")
    assert "Imprecise estimates." in headline
    assert f"The portfolio's ALE is imprecise: its Monte Carlo standard error is {rse:.1%} of it (above 5%)" in headline
    assert f"The ALE of 'Rare <breach>' is imprecise: its Monte Carlo standard error is {rse_rare:.1%}" in headline
    assert "'Common'" not in headline
    assert "&#39;Rare &lt;breach&gt;&#39;" in board.html  # a name from the register is text, never markup
    # the same words as summary(), and with the controls in the residual section
    with pytest.warns(rb.simulation.PrecisionWarning):
        notes = r.summary().attrs["notes"]
    res_notes = board.residual_result.precision_notes()
    assert res_notes and board.notes == tuple(notes) + tuple(f"with the controls: {n}" for n in res_notes)
    residual_text = page.section("residual")
    assert "Imprecise estimates with the controls." in residual_text
    assert res_notes[0][:1].upper() + res_notes[0][1:] in residual_text


def test_a_precise_ale_gets_no_note():
    """Fifty events a year of a bounded-ish loss: SE far below 5% of the ALE, so no note anywhere."""
    big = rb.Scenario("Big", loss_event_frequency=50.0, primary_loss=rb.LogNormal.from_ci(1e6, 1e7))
    board = report([big], residual=[big], years=2_000, seed=1)
    r = board.result
    assert r.ale_se() < 0.05 * r.ale() and r.precision_notes() == []
    assert board.notes == ()
    assert "imprecise" not in board.html.lower() and 'id="precision"' not in board.html
    assert 'id="residual-precision"' not in board.html

def test_lec_section_tabulates_exceedance_and_tolerance(board, page):
    text = page.section("lec")
    r = board.result
    p = r.exceedance(1e7)
    assert f"$10M {rb.formatting.percent(p, digits=2)}" in text
    assert "Tolerated" in text and "Return period" in text
    assert "lognormal through P(loss > $8M) = 20.00%, P(loss > $40M) = 1.00%" in text


def test_scenarios_section_lists_the_top_of_the_tail(board, page):
    text = page.section("scenarios")
    table = board.contributions.sort_values("tvar_contribution", ascending=False)
    top = table.index[0]
    assert top in text
    assert f"{money(table.loc[top, 'tvar_contribution'])} {rb.formatting.percent(table.loc[top, 'tvar_share'])}" in text
    assert f"Other ({len(table) - 10} scenarios)" in text
    assert f"{YEARS // 20:,} years" in text
    share3 = table["tvar_share"].iloc[:3].sum()
    assert f"account for {rb.formatting.percent(share3, digits=0)} of the tail" in text


def test_appetite_section_states_status_limits_and_breaches(board, page):
    status = board.appetite_status
    text = page.section("appetite")
    assert ("outside appetite" if not status.ok else "within appetite") in text
    for line in rb.read_appetite(APPETITE_PATH).describe():
        assert line in text
    for breach in status.breaches:
        assert breach in text
    for _, row in status.table.iterrows():
        assert row["limit"] in text
    assert ("holds" in text) or ("breached" in text)


def test_assumptions_name_iterations_seed_method_and_sources(board, page, example_register_path):
    text = page.section("assumptions")
    assert f"Simulated years (iterations) {YEARS:,}" in text
    assert "Seed 7 (the same seed reproduces every number)" in text
    assert "aggregate annual loss" in text
    assert "Scenarios are independent." in text
    assert f"Risk register {example_register_path}" in text
    assert f"Risk appetite {APPETITE_PATH}" in text
    assert f"riskbudget {rb.__version__}" in text
    for s in board.result.register:
        assert s.name in text  # every scenario's inputs are listed
    assert "PERT 0.2 / 0.6 / 2" in text  # estimates as a reader states them
    assert "90% in $500K–$12M (lognormal" in text


def test_report_is_self_contained(board, page):
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert len(page.images) == 3
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        data = base64.b64decode(img["src"].split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert img.get("alt")
    for tag, key, value in page.attrs:
        if key in ("src", "href"):
            assert not re.match(r"(https?:)?//", value), (tag, key, value)
    assert set(board.figures) == {"lec", "scenarios", "distribution"}


def test_same_seed_same_report(example_register_path, board):
    again = rb.report(example_register_path, years=YEARS, seed=7, appetite=APPETITE_PATH)

    def strip(html: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "<time>", html)

    assert strip(again.html) == strip(board.html)
    assert again.figures == board.figures


# --------------------------------------------------------------------------- #
# Escaping
# --------------------------------------------------------------------------- #
def test_names_from_the_register_are_escaped():
    evil = "<script>alert(1)</script>"
    reg = rb.Register([
        rb.Scenario(evil, loss_event_frequency=rb.PERT(0.5, 1, 3), primary_loss=rb.LogNormal.from_ci(1e4, 1e6),
                    category='<img src=x onerror="alert(2)">'),
        rb.Scenario("Fraud & \"wire\" > $5M", loss_event_frequency=2, primary_loss=rb.LogNormal.from_ci(1e3, 1e5)),
    ])
    board = report(reg, years=2_000, seed=1)
    page = Page(board.html)
    assert "script" not in page.tags
    assert [img for img in page.images if img.get("src") == "x"] == []
    assert evil in page.all_text  # shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in board.html
    assert "<script>" not in board.html
    assert '<img src=x onerror="alert(2)">' in page.all_text
    assert 'Fraud & "wire" > $5M' in page.all_text


def test_titles_are_escaped_too():
    s = rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.LogNormal.from_ci(1e3, 1e5))
    board = report([s], years=1_000, seed=1, title="<b>Board</b>", organisation="<i>Acme</i>")
    page = Page(board.html)
    assert "b" not in page.tags and "i" not in page.tags
    assert "<b>Board</b>" in page.all_text and "<i>Acme</i>" in page.all_text


# --------------------------------------------------------------------------- #
# Inherent vs residual
# --------------------------------------------------------------------------- #
def test_residual_section_from_a_residual_register(example_register):
    edr = rb.Adjustment("loss", rb.PERT(0.3, 0.5, 0.7), source="EDR")
    residual = rb.Register([s.with_adjustments(edr) if s.category == "ransomware" else s for s in example_register])
    board = report(example_register, residual=residual, years=YEARS, seed=3, appetite=APPETITE_PATH)
    page = Page(board.html)
    assert page.sections == ["headline", "lec", "scenarios", "appetite", "residual", "distribution", "assumptions"]
    assert page.headings["residual"] == ["5. Inherent vs residual risk"]
    assert page.headings["assumptions"] == ["7. Assumptions"]
    text = page.section("residual")
    cmp = board.comparison
    assert board.residual_result.seed == board.result.seed == 3
    assert f"reduce the expected annual loss by {money(cmp.reduction('ale'))} (± {money(cmp.reduction_se('ale'))})" in text
    assert cmp.reduction("ale") > 4 * cmp.reduction_se("ale")
    for name in ("Ransomware on ERP and warehouse systems", "Ransomware via remote access (VPN/RDP)"):
        assert name in text
    # only the ransomware scenarios change, on common random numbers
    by = cmp.by_scenario
    assert (by.drop(index=[n for n in by.index if example_register[n].category == "ransomware"])["reduction"] == 0).all()
    assert len(page.images) == 4 and "residual" in board.figures
    assert "adjusted by" not in page.section("assumptions")  # the inputs table shows the register as given


def test_report_with_controls_end_to_end(example_register_path):
    controls = pytest.importorskip("riskbudget.controls")
    path = rb.io.example_path("controls.csv")
    board = report(example_register_path, controls=path, years=YEARS, seed=3, appetite=APPETITE_PATH)
    page = Page(board.html)
    assert "residual" in page.sections
    text = page.section("residual")
    for c in controls.read_controls(path):
        assert c.name in text
    assert f"Controls {path}" in page.section("assumptions")
    assert board.comparison.reduction("ale") > 0


def test_controls_and_residual_are_exclusive(example_register):
    with pytest.raises(rb.RiskBudgetError, match="give controls= or residual=, not both"):
        report(example_register, controls=[], residual=example_register, years=100, seed=1)


# --------------------------------------------------------------------------- #
# Options and errors
# --------------------------------------------------------------------------- #
def test_without_appetite_the_report_says_so(example_register):
    board = report(example_register, years=2_000, seed=1)
    page = Page(board.html)
    assert "No risk appetite was given" in page.section("appetite")
    assert page.headings["lec"] == ["2. Loss exceedance curve"]
    assert board.appetite_status is None


def test_tolerance_points_and_dependence(example_register):
    dep = rb.Dependence(shocks=[rb.CommonShock("Cloud outage", ["Cloud account takeover via stolen keys",
                                                                 "Breach at logistics SaaS provider"],
                                               multiplier=rb.PERT(2, 3, 6), annual_probability=0.05)])
    board = report(example_register, years=2_000, seed=1, tolerance=[(0.5, 2e6), (0.01, 6e7)], dependence=dep)
    page = Page(board.html)
    assert "lognormal through P(loss > $2M) = 50.00%" in page.section("lec")
    assert "Common shock 'Cloud outage'" in page.section("assumptions")
    assert board.appetite_status is not None and board.appetite_status.table.empty


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"appetite": 5}, "appetite must be an Appetite or the path"),
        ({"top": 0}, r"top \(0\) must be at least 1"),
        ({"q": 1.0}, r"q \(1.0\) must lie in \(0, 1\)"),
        ({"tolerance": [(0.5, 1e6)]}, "needs at least two"),
    ],
)
def test_report_errors(example_register, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        report(example_register, years=100, seed=1, **kwargs)


def test_report_options_are_the_loose_keywords(example_register):
    def strip(html: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "<time>", html)

    loose = report(example_register, years=2_000, seed=1, title="Q3 pack", organisation="Acme", q=0.9, top=4,
                   thresholds=[2e6, 3e7])
    grouped = report(example_register, years=2_000, seed=1,
                     options=ReportOptions(title="Q3 pack", organisation="Acme", q=0.9, top=4, thresholds=(2e6, 3e7)))
    mixed = report(example_register, years=2_000, seed=1, options=ReportOptions(title="Q3 pack", q=0.9),
                   organisation="Acme", top=4, thresholds=(2e6, 3e7), q=0.9)
    assert strip(grouped.html) == strip(loose.html) == strip(mixed.html)
    assert grouped.figures == loose.figures
    page = Page(loose.html)
    assert "Q3 pack" in page.all_text and "Acme" in page.all_text and "VaR90" in page.section("headline")
    assert f"Other ({len(example_register) - 4} scenarios)" in page.section("scenarios")  # top=4


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"titel": "x"}, r"report: unknown keyword 'titel'; the options are title, organisation, q, top, thresholds$"),
        ({"options": ReportOptions(top=3), "top": 5}, r"report: top is given twice, as top=5 and in options= \(3\)"),
        ({"options": {"top": 3}}, r"report: options must be a riskbudget\.reporting\.ReportOptions, not dict"),
    ],
)
def test_report_refuses_unknown_and_doubled_options(example_register, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        report(example_register, years=100, seed=1, **kwargs)


def test_reporting_doctests():
    import doctest

    from riskbudget import reporting

    outcome = doctest.testmod(reporting, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted >= 4 and outcome.failed == 0


def test_report_is_written_atomically(tmp_path, example_register, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous board pack", encoding="utf-8")

    def interrupted(src, dst):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report(example_register, years=1_000, seed=1, out=out)
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == "previous board pack"  # never half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp file left behind


def test_board_report_helpers(board, tmp_path):
    saved = board.save(tmp_path / "copy.html")
    assert saved.read_text(encoding="utf-8") == board.html
    files = board.save_figures(tmp_path / "img")
    assert sorted(p.name for p in files) == ["distribution.png", "lec.png", "scenarios.png"]
    assert (tmp_path / "img" / "lec.png").read_bytes() == board.figures["lec"]
    frame = board._repr_html_()
    assert frame.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;")
    assert "16 scenarios" in repr(board)


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def test_command_line_writes_the_report_and_says_where(tmp_path, example_register_path, capsys):
    out = tmp_path / "out" / "report.html"
    code = main(["report", str(example_register_path), "--appetite", str(APPETITE_PATH), "--out", str(out),
                 "--years", "3000", "--seed", "7", "--organisation", "Example Logistics"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"wrote the board report to {out.resolve()}" in printed
    assert "seed 7" in printed and "appetite" in printed
    page = Page(out.read_text(encoding="utf-8"))
    assert "headline" in page.sections and "Example Logistics" in page.all_text


def test_command_line_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.html")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(SystemExit):
        main(["report"])


def test_package_import_stays_light():
    import subprocess
    import sys

    code = "import sys, riskbudget; print(sorted(m for m in ('jinja2', 'matplotlib', 'openpyxl') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    assert isinstance(Path(rb.io.example_path("appetite.yaml")), Path)


def test_report_file_gets_the_usual_permissions(tmp_path, example_register):
    mask = os.umask(0o022)
    try:
        out = report(example_register, years=500, seed=1, out=tmp_path / "r.html").path
        assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600: the board pack is shareable
        out.chmod(0o640)
        report(example_register, years=500, seed=1, out=out)
        assert out.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    finally:
        os.umask(mask)


def test_command_line_with_controls_prints_both_sides(tmp_path, example_register_path, capsys):
    pytest.importorskip("riskbudget.controls")
    out = tmp_path / "report.html"
    code = main(["report", str(example_register_path), "--appetite", str(APPETITE_PATH), "--controls",
                 str(rb.io.example_path("controls.csv")), "--out", str(out), "--years", "3000", "--seed", "7"])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("inherent: ALE ")
    assert printed[1].startswith("with controls: ALE ") and "reduction" in printed[1]
    assert "residual" in Page(out.read_text(encoding="utf-8")).sections
