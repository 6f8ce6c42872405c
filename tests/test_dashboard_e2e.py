"""End-to-end: the budget dashboard served by Voila, driven in headless Chromium with Playwright.

Starts Voila on a free loopback port with ``notebooks/05_budget_explorer.ipynb``,
opens it in Debian's Chromium (``/usr/bin/chromium``; ``make test`` installs it,
and ``playwright install`` is never run), drags the security-share slider, and
checks that the metrics on the page change and equal the library's evaluation
of the plan the page says is funded. Saves a screenshot to
``out/dashboard.png`` and stops the server.
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
def dashboard(tmp_path_factory):
    """A running Voila server on 127.0.0.1 (stopped at the end); yields its URL."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
    voila = Path(sys.executable).with_name("voila")
    if not voila.exists():
        pytest.fail("voila is not installed in this environment: pip install 'riskbudget[notebooks]'")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    env = {**os.environ, "RISKBUDGET_PROGRESS": "0", "PYTHONHASHSEED": "0"}
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


def test_dashboard_slider_moves_the_metrics_to_the_library_values(dashboard):
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is missing: pip install 'riskbudget[test]' (never `playwright install`)")
    import riskbudget as rb
    from riskbudget.controls import read_controls, read_projects
    from riskbudget.formatting import money
    from riskbudget.optimization import evaluate, optimize

    started = time.monotonic()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 3400})  # tall: the whole explorer is painted
            page.goto(dashboard, wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_selector("[data-metric='ALE']", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_selector(".rb-security-share .noUi-handle", timeout=LOAD_TIMEOUT_MS)
            page.wait_for_function("n => document.querySelectorAll('.rb-toggle').length === n", arg=23,
                                   timeout=LOAD_TIMEOUT_MS)  # every control and project is on the page
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

            _drag_slider_to(page, 0.05)
            page.wait_for_function(
                "old => document.querySelector(\"[data-metric='ALE']\").innerText.trim() !== old",
                arg=before["ALE"], timeout=30_000,
            )
            share_text = readout.inner_text().strip()
            page.wait_for_selector(".rb-plan-stale", timeout=30_000)  # the optimiser's notes are about its plan only
            shown = {k: _metric(page, k) for k in ("ALE", "VaR95", "TVaR95", "Expected net value", "Appetite",
                                                   "Security spend")}
            funded, design = _funded(page)
            out = ROOT / "out"
            out.mkdir(exist_ok=True)
            page.wait_for_timeout(500)  # let the new chart image paint
            page.locator(".rb-budget-explorer").screenshot(path=str(out / "dashboard.png"))
        finally:
            browser.close()
    browser_seconds = time.monotonic() - started

    # What the page said about the optimiser's plan is what the library says, in its words, claiming no more.
    inputs = (rb.read_register(rb.io.example_path("register.csv")), read_controls(rb.io.example_path("controls.csv")),
              read_projects(rb.io.example_path("projects.csv")))
    appetite = rb.read_appetite(rb.io.example_path("appetite.yaml"))
    best = optimize(*inputs, budget=BUDGET, security_budget=0.25 * BUDGET, it_budget=0.75 * BUDGET,
                    appetite=appetite, years=YEARS, seed=SEED, time_limit=30, progress=False)
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
    plan = evaluate(
        rb.read_register(rb.io.example_path("register.csv")),
        read_controls(rb.io.example_path("controls.csv")),
        read_projects(rb.io.example_path("projects.csv")),
        funded=funded, security_by_design=design,
        appetite=rb.read_appetite(rb.io.example_path("appetite.yaml")),
        years=YEARS, seed=SEED, progress=False,
    )
    assert shown["ALE"] == money(plan.ale)
    assert shown["VaR95"] == money(plan.var95)
    assert shown["TVaR95"] == money(plan.tvar95)
    assert shown["Expected net value"] == money(plan.expected_net_value)
    assert shown["Appetite"] == ("within appetite" if plan.appetite.ok else "OUTSIDE appetite")
    # the funded plan fits the smaller security budget the slider set
    assert plan.security_spend <= share * BUDGET + 1e-6
    assert shown["Security spend"] == f"{money(plan.security_spend)} of {money(share * BUDGET)}"
    assert re.fullmatch(r"\d+%", share_text)
    print(f"browser part: {browser_seconds:.1f} s (page load, drag, screenshot)")


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


def test_make_dashboard_shuts_down_the_kernel_of_a_closed_page(tmp_path):
    """A page that is closed leaves no kernel behind: ``make dashboard`` culls idle, unconnected kernels."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is missing: pip install 'riskbudget[test]' (never `playwright install`)")
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium)")
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
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
                page.wait_for_selector("[data-metric='ALE']", timeout=LOAD_TIMEOUT_MS)
                page.wait_for_timeout(5_000)  # longer than the idle timeout: an open page keeps its kernel
                assert len(_kernels_of(proc.pid)) == 1, log.read_text()[-2000:]
            finally:
                browser.close()
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
