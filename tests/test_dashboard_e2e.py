"""End-to-end: the budget dashboard served by Voila, driven in headless Chromium with Playwright.

Starts Voila on a free loopback port with ``notebooks/05_budget_explorer.ipynb``,
opens it once in Debian's Chromium (``/usr/bin/chromium``; ``make test``
installs it, and ``playwright install`` is never run) at 1366x768, and drives
that one page through the checks below, in order (a module-scoped page: one
kernel, one precomputation):

* the one-screen layout, by the elements' bounding boxes;
* dragging the security-share slider: the metrics equal the library's
  evaluation of the plan the page says is funded (screenshot ``out/dashboard.png``);
* typing "6M" as the budget, then an absurd amount;
* an appetite no plan meets at the budget, and the hint that follows;
* saving, loading and comparing plans.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_budget_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The notebook builds the explorer with these; the test evaluates the same sample.
YEARS, SEED, BUDGET = 20_000, 7, 6_000_000
LOAD_TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the server listens (a TCP connect: requesting the page would start a kernel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with status {proc.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"voila did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def plans_dir(tmp_path_factory):
    """Where the page saves plans (``RISKBUDGET_PLANS_DIR`` of the server)."""
    return tmp_path_factory.mktemp("saved_plans")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, plans_dir):
    """A running Voila server on 127.0.0.1 (stopped at the end); yields its URL."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
    voila = Path(sys.executable).with_name("voila")
    if not voila.exists():
        pytest.fail("voila is not installed in this environment: pip install 'riskbudget[notebooks]'")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    env = {**os.environ, "RISKBUDGET_PROGRESS": "0", "PYTHONHASHSEED": "0", "RISKBUDGET_PLANS_DIR": str(plans_dir)}
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(voila), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", str(NOTEBOOK)],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        _wait_for_port(port, proc)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            print(log.read_text()[-3000:])


def _metric(page, key: str) -> str:
    return page.inner_text(f"[data-metric='{key}']").strip()


def _funded(page) -> tuple[list[str], list[str]]:
    items = page.locator("[data-metric='funded'] li").all_inner_texts()
    names, design = [], []
    for text in items:
        text = text.strip()
        if text.endswith("(security by design)"):
            text = text[: -len("(security by design)")].strip()
            design.append(text)
        names.append(text)
    return names, design


def _drag_slider_to(page, fraction: float) -> None:
    """Drag the security-share slider's handle to a fraction of its track, as a person would."""
    slider = page.locator(".rb-security-share .noUi-target")
    handle = page.locator(".rb-security-share .noUi-handle")
    track = slider.bounding_box()
    knob = handle.bounding_box()
    assert track and knob, "the security-share slider is not on the page"
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    target_x = track["x"] + fraction * track["width"]
    page.mouse.move(target_x, knob["y"] + knob["height"] / 2, steps=12)
    page.mouse.up()


VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Playwright's sync API allows one running instance at a time)."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is missing: pip install 'riskbudget[test]' (never `playwright install`)")
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(dashboard, browser):
    """One page on the dashboard at 1366x768, shared by the checks below (in file order); closed at the end."""
    started = time.monotonic()
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(dashboard, wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_selector("[data-metric='ALE']", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_selector(".rb-security-share .noUi-handle", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function("n => document.querySelectorAll('.rb-toggle').length === n", arg=23,
                               timeout=LOAD_TIMEOUT_MS)  # every control and project is on the page
        page.wait_for_function("() => document.querySelectorAll('.rb-snapshot').length === 3",
                               timeout=LOAD_TIMEOUT_MS)  # and the notebook's three snapshots
        page.wait_for_timeout(300)  # let the chart images paint
        print(f"page loaded in {time.monotonic() - started:.1f} s")
        yield page
    finally:
        page.close()


def _library_inputs():
    import riskbudget as rb
    from riskbudget.controls import read_controls, read_projects

    return (rb.read_register(rb.io.example_path("register.csv")), read_controls(rb.io.example_path("controls.csv")),
            read_projects(rb.io.example_path("projects.csv")), rb.read_appetite(rb.io.example_path("appetite.yaml")))


def _type(page, selector: str, text: str) -> None:
    """Type into a box as a person does and commit it with Enter (the boxes update on Enter or leaving)."""
    box = page.locator(selector)
    box.fill(text)
    box.press("Enter")


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return box


def test_one_screen_holds_the_controls_the_numbers_and_both_charts(page):
    """At 1366x768, without scrolling: budget box, share slider, limits, Optimise, headline numbers, LEC, frontier."""
    assert page.evaluate("() => [window.scrollX, window.scrollY]") == [0, 0]
    width, height = VIEWPORT["width"], VIEWPORT["height"]
    must_see = {
        "total budget box": ".rb-total-budget input",
        "security-share slider": ".rb-security-share .noUi-target",
        "first appetite limit": ".rb-threshold input",
        "Optimise button": ".rb-optimise",
        "ALE": "[data-metric='ALE']",
        "TVaR95": "[data-metric='TVaR95']",
        "expected net value": "[data-metric='Expected net value']",
        "appetite status": "[data-metric='Appetite']",
        "charts (loss exceedance curve and frontier)": ".rb-chart",
    }
    boxes = {name: _box(page, sel) for name, sel in must_see.items()}
    for name, b in boxes.items():
        inside = b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width and b["y"] + b["height"] <= height
        assert inside, f"{name} is not on the first screen at {width}x{height}: {b}"
    chart = boxes["charts (loss exceedance curve and frontier)"]
    assert chart["width"] >= 600 and chart["height"] >= 150, chart  # both charts at a readable size
    # the charts stand beside the controls, not below them
    assert chart["x"] > boxes["total budget box"]["x"] + boxes["total budget box"]["width"]
    # every snapshot says it is one and has a refresh
    labels = page.locator(".rb-snapshot-label").all_inner_texts()
    assert len(labels) == 3 and all(t.startswith("Snapshot of") for t in labels)
    assert page.locator(".rb-snapshot .rb-refresh").count() == 3
    # preformatted text and table cells wrap between words, never inside one
    breaks = page.evaluate("""() => [...document.querySelectorAll('pre, .rb-explorer td')]
        .map(e => getComputedStyle(e)).filter(s => s.wordBreak === 'break-all' || s.overflowWrap === 'anywhere'
        || s.overflowWrap === 'break-word').length""")
    assert breaks == 0
    # Jupyter's output area breaks preformatted text anywhere ("DDoS pr / otection"); the page overrides it
    style = page.evaluate("""() => { const pre = document.createElement('pre');
        pre.textContent = 'DDoS protection, Data loss prevention';
        document.querySelector('.jp-OutputArea-output').appendChild(pre);
        const s = getComputedStyle(pre); const out = [s.wordBreak, s.overflowWrap, s.whiteSpace];
        pre.remove(); return out; }""")
    assert style == ["normal", "normal", "pre-wrap"], style


def test_dashboard_slider_moves_the_metrics_to_the_library_values(page):
    from riskbudget.formatting import money
    from riskbudget.optimization import evaluate, optimize

    started = time.monotonic()
    readout = page.locator(".rb-security-share .widget-readout")
    assert readout.inner_text().strip() == "25%"
    before = {k: _metric(page, k) for k in ("ALE", "VaR95", "TVaR95", "Expected net value")}
    # the starting plan is the optimiser's: its status in words, a reason for every item, fresh years
    status_before = _metric(page, "status")
    funded_before, design_before = _funded(page)
    reason_items = page.locator("[data-metric='reasons'] tr[data-item]").evaluate_all(
        "rows => rows.map(r => r.dataset.item)")
    robustness_rows = page.locator("[data-metric='robustness'] tbody tr").count()
    page_text = page.locator(".rb-budget-explorer").inner_text()
    assert page.locator(".rb-plan-stale").count() == 0
    page.wait_for_function("() => (document.querySelector(\"[data-metric='guidance']\") || {innerText: ''})"
                           ".innerText.includes('Optimise would change nothing')", timeout=30_000)

    _drag_slider_to(page, 0.05)
    page.wait_for_function(
        "old => document.querySelector(\"[data-metric='ALE']\").innerText.trim() !== old",
        arg=before["ALE"], timeout=30_000,
    )
    share_text = readout.inner_text().strip()
    page.wait_for_selector(".rb-plan-stale", timeout=30_000)  # the optimiser's notes are about its plan only
    page.wait_for_selector(".rb-snapshot-stale", timeout=30_000)  # and the snapshots say they are out of date
    shown = {k: _metric(page, k) for k in ("ALE", "VaR95", "TVaR95", "Expected net value", "Appetite",
                                           "Security spend")}
    funded, design = _funded(page)
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the new chart image paint
    page.screenshot(path=str(out / "dashboard.png"))  # the first screen, as a committee sees it
    browser_seconds = time.monotonic() - started

    # What the page said about the optimiser's plan is what the library says, in its words, claiming no more.
    register, controls, projects, appetite = _library_inputs()
    best = optimize(register, controls, projects, budget=BUDGET, security_budget=0.25 * BUDGET,
                    it_budget=0.75 * BUDGET, appetite=appetite, years=YEARS, seed=SEED, time_limit=30, progress=False)
    assert status_before == best.status_text
    assert (funded_before, design_before) == (
        list(best.funded_controls) + list(best.funded_projects), list(best.security_by_design))
    assert "Data loss prevention" not in funded_before  # its marginal return is negative: the exact plan drops it
    assert reason_items == [r.item for r in best.reasons]
    assert robustness_rows == len(best.robustness.checks) + 1  # and the tolerance curve
    assert "solved exactly" not in page_text and "no margin" in page_text

    share = float(share_text.rstrip("%")) / 100.0
    assert 0.0 <= share < 0.25, f"the slider did not move left (readout {share_text})"
    assert shown["ALE"] != before["ALE"]

    # The library's evaluation of the plan the page says is funded, on the notebook's sample.
    plan = evaluate(register, controls, projects, funded=funded, security_by_design=design, appetite=appetite,
                    years=YEARS, seed=SEED, progress=False)
    assert shown["ALE"] == money(plan.ale)
    assert shown["VaR95"] == money(plan.var95)
    assert shown["TVaR95"] == money(plan.tvar95)
    assert shown["Expected net value"] == money(plan.expected_net_value)
    assert shown["Appetite"] == ("within appetite" if plan.appetite.ok else "OUTSIDE appetite")
    # the funded plan fits the smaller security budget the slider set
    assert plan.security_spend <= share * BUDGET + 1e-6
    assert shown["Security spend"] == f"{money(plan.security_spend)} of {money(share * BUDGET)}"
    assert re.fullmatch(r"\d+%", share_text)
    print(f"browser part: {browser_seconds:.1f} s (drag, screenshot)")


def test_typing_6M_is_six_million_and_nonsense_is_said_next_to_the_box(page):
    _drag_slider_to(page, 0.25)
    page.wait_for_function("() => document.querySelector('.rb-security-share .widget-readout').innerText.trim()"
                           " === '25%'", timeout=30_000)
    _type(page, ".rb-total-budget input", "3M")
    page.wait_for_function("() => document.querySelector('.rb-total-budget input').value === '$3,000,000'",
                           timeout=30_000)
    _type(page, ".rb-total-budget input", "6M")
    # read as six million and shown in full, never as $6
    page.wait_for_function("() => document.querySelector('.rb-total-budget input').value === '$6,000,000'",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector(\"[data-metric='Security spend']\").innerText"
                           ".endsWith('of $1.5M')", timeout=30_000)
    assert page.locator(".rb-total-budget-row .rb-field-error").count() == 0
    good = {k: _metric(page, k) for k in ("ALE", "TVaR95", "Expected net value", "Security spend")}
    assert good["Security spend"].endswith("of $1.5M")
    assert "OUTSIDE" not in _metric(page, "Appetite")

    _type(page, ".rb-total-budget input", "1e15")
    note = page.locator(".rb-total-budget-row .rb-field-error")
    note.wait_for(timeout=30_000)
    assert "beyond any real budget" in note.inner_text()
    # the note sits next to the box, on its line
    box, said = _box(page, ".rb-total-budget input"), note.bounding_box()
    assert said["x"] >= box["x"] + box["width"] - 1 and abs((said["y"] + said["height"] / 2)
                                                          - (box["y"] + box["height"] / 2)) < box["height"]
    assert {k: _metric(page, k) for k in good} == good  # the last valid figures stay
    assert page.locator(".rb-total-budget input").input_value() == "1e15"  # what was typed, to correct
    _type(page, ".rb-total-budget input", "$6,000,000")
    page.wait_for_function("() => !document.querySelector('.rb-total-budget-row .rb-field-error')", timeout=30_000)
    assert {k: _metric(page, k) for k in good} == good


def test_an_appetite_out_of_reach_shows_the_nearest_limits_and_the_budget_needed(page):
    """$300K with TVaR99 at most $45M: no plan fits; Optimise says how low TVaR99 can go and what budget meets it."""
    _type(page, ".rb-total-budget input", "300K")
    page.wait_for_function("() => document.querySelector('.rb-total-budget input').value === '$300,000'",
                           timeout=30_000)
    for label in ("VaR95", "P(loss > $50M)", "1-in-5-yr loss", "1-in-100-yr loss"):  # one limit only: TVaR99
        _type(page, f".rb-threshold:has(label:text-is('{label} ≤')) input", "")
    page.wait_for_function("() => [...document.querySelectorAll('.rb-threshold input')].filter(e => e.value).length"
                           " === 1", timeout=30_000)
    # before Optimise: it says what Optimise would do
    page.wait_for_function("() => (document.querySelector(\"[data-metric='guidance']\") || {innerText: ''})"
                           ".innerText.includes('outside the appetite')", timeout=30_000)
    assert "nearest limits" in _metric(page, "guidance")
    started = time.monotonic()
    page.locator(".rb-optimise").click()
    nearest = page.locator("[data-metric='nearest']")
    nearest.wait_for(timeout=120_000)
    text = nearest.inner_text()
    print(f"Optimise with no plan in the appetite: {time.monotonic() - started:.1f} s")
    assert "TVaR99: at best $" in text and "(the limit is $45M)" in text
    assert "Budget that would meet the appetite: $" in text
    assert "cannot be met" in _metric(page, "status")
    assert "OUTSIDE appetite" == _metric(page, "Appetite")
    (ROOT / "out").mkdir(exist_ok=True)
    page.locator(".rb-plan").screenshot(path=str(ROOT / "out" / "dashboard_out_of_reach.png"))


def test_saving_loading_and_comparing_plans(page, plans_dir):
    import riskbudget as rb

    _type(page, ".rb-plan-name input", "tight")
    page.locator(".rb-save").click()
    page.wait_for_selector(".rb-ok", timeout=30_000)
    assert (plans_dir / "tight.json").exists()
    tight = rb.load_plan(plans_dir / "tight.json")
    assert tight.budget == 300_000 and tight.status == "infeasible_appetite"

    _type(page, ".rb-total-budget input", "6M")
    page.wait_for_function("() => document.querySelector('.rb-total-budget input').value === '$6,000,000'",
                           timeout=30_000)
    before = _metric(page, "ALE")
    page.locator(".rb-want-all").click()
    page.wait_for_function("old => document.querySelector(\"[data-metric='ALE']\").innerText.trim() !== old",
                           arg=before, timeout=30_000)
    ale_6m = _metric(page, "ALE")
    _type(page, ".rb-plan-name input", "six million")
    page.locator(".rb-save").click()
    page.wait_for_function("() => document.querySelector('.rb-message-box').innerText.includes(\"'six million'\")",
                           timeout=30_000)
    assert rb.load_plan(plans_dir / "six million.json").budget == 6e6

    # load the first back: the page returns to its budget and numbers
    page.locator(".rb-saved select").select_option("tight")
    page.locator(".rb-load").click()
    page.wait_for_function("() => document.querySelector('.rb-total-budget input').value === '$300,000'",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('.rb-message-box').innerText.includes('Loaded')",
                           timeout=30_000)
    assert "figures on screen are the saved ones" in page.locator(".rb-message-box").inner_text()
    assert _metric(page, "ALE") != ale_6m

    # compare the two side by side
    page.locator(".rb-compare-old select").select_option("tight")
    page.locator(".rb-compare-new select").select_option("six million")
    page.locator(".rb-compare").click()
    table = page.locator("[data-metric='comparison']")
    table.wait_for(timeout=60_000)
    text = table.inner_text()
    cmp = rb.compare(plans_dir / "tight.json", plans_dir / "six million.json")
    assert "tight" in text and "six million" in text and "$300K" in text and "$6M" in text
    assert all(name in text for name in cmp.funded_added)
    page.locator(".rb-saved-plans").screenshot(path=str(ROOT / "out" / "dashboard_saved_plans.png"))


def _kernels_of(pid: int) -> list[int]:
    """Process ids of the IPython kernels the server ``pid`` started (its children running ipykernel)."""
    kernels = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid and b"ipykernel" in cmdline:
            kernels.append(int(entry.name))
    return kernels


def _make_dashboard_command(**variables: str) -> tuple[dict[str, str], list[str]]:
    """The exact command ``make dashboard`` runs (environment assignments and argv), from ``make -n``."""
    import shlex

    out = subprocess.run(
        ["make", "-n", "-s", "dashboard", *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.replace("\\\n", " ")
    line = next(ln for ln in out.splitlines() if "voila --no-browser" in ln)
    words = shlex.split(line)
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-") and "/" not in w.split("=")[0])
    argv = [w for w in words if w not in {f"{k}={v}" for k, v in env.items()}]
    return env, argv


def test_make_dashboard_shuts_down_the_kernel_of_a_closed_page(tmp_path, browser):
    """A page that is closed leaves no kernel behind: ``make dashboard`` culls idle, unconnected kernels."""
    port = _free_port()
    env, argv = _make_dashboard_command(DASHBOARD_PORT=str(port), DASHBOARD_IDLE="3", DASHBOARD_CULL_EVERY="1")
    assert "--MappingKernelManager.cull_connected=False" in argv
    argv[0] = str(ROOT / argv[0]) if not os.path.isabs(argv[0]) else argv[0]
    log = tmp_path / "voila.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **env, "PYTHONHASHSEED": "0"},
        )
    try:
        _wait_for_port(port, proc)
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_selector("[data-metric='ALE']", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_timeout(5_000)  # longer than the idle timeout: an open page keeps its kernel
            assert len(_kernels_of(proc.pid)) == 1, log.read_text()[-2000:]
        finally:
            page.close()
        deadline = time.monotonic() + 60
        while _kernels_of(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _kernels_of(proc.pid) == [], "the closed page's kernel is still running:\n" + log.read_text()[-2000:]
        assert proc.poll() is None, "the server itself must keep running"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
