"""Engine benchmark: riskbudget against a hand-tuned NumPy version of the same aggregate model, and pyfair.

The standard scenario of issue #2: threat event frequency PERT(0.5, 2, 8);
threat capability PERT(0.2, 0.5, 0.9) vs resistance strength
PERT(0.3, 0.6, 0.85); primary loss PERT(50,000, 200,000, 2,000,000); secondary
loss probability PERT(0.1, 0.3, 0.5); secondary loss PERT(10,000, 100,000,
1,000,000). The portfolio has 20 scaled variants (frequency x 0.5..2.0, losses
x 2.0..0.5).

Cases (each in its own subprocess, so that its peak memory is its own):

* ``riskbudget``: ``rb.simulate`` as a user calls it (aggregate model, threads
  across scenarios, per-scenario losses *and* loss-event counts kept);
  ``riskbudget 1 thread`` the same with ``n_jobs=1``; ``riskbudget no counts``
  with ``keep_counts=False`` (the result then holds what the NumPy version holds);
* ``numpy tuned`` / ``numpy tuned 1 thread``: the same aggregate model written
  by hand for speed, the yardstick of issue #15: inverse-CDF PERT from a
  4,096-cell table (linear interpolation), one generator per scenario, chunks of
  2**15 years, scenarios on 2 threads (or 1), a years x scenarios float64 result, glibc's
  malloc thresholds raised as riskbudget raises them.
  It draws only what it needs (capability and resistance for every threat
  event, losses and the secondary-loss test for loss events only) and compares
  capability with resistance value by value. riskbudget decides each threat
  event with one uniform against P(TCap > RS) instead (the same model in
  distribution: each event's capability and resistance are its own and used
  for nothing else), then draws a base variate of every later quantity for
  *every* candidate event, loss event or not (so that a control that stops
  some events leaves every other event's draws unchanged, the basis of its
  common random numbers), uses a cubic inverse CDF with u-error < 5e-11, and
  counts loss events;
* ``numpy tuned one-uniform test``: the lean tuned version with riskbudget's
  one-uniform test (P(TCap > RS) from riskbudget's plain-NumPy quadrature):
  the fastest NumPy version of the model here, and the honest yardstick for
  riskbudget's algorithm;
* ``numpy tuned same draws``: the tuned version doing riskbudget's draws (the
  one-uniform test, then a uniform of the primary loss, the secondary-loss
  test and the secondary loss for every candidate event, each on its own
  stream) with riskbudget's cubic inverse for the frequency, the losses and
  the secondary-loss probability. Its time over the one-uniform version's is
  what riskbudget's design costs; riskbudget's time over its time is what
  riskbudget's code costs beyond hand-written NumPy doing the same work;
* ``numpy same draws only``: those draws and nothing else (each year's rate
  and Poisson count, one uniform per threat event and three per candidate
  event), on 2 threads: the floor of any engine that draws what riskbudget's
  common random numbers need with NumPy's generators, however fast the rest
  (a fused Numba kernel included);
* ``numpy plain``: the same model written plainly (``Generator.beta``, one
  generator, no chunks, no threads), the comparison an earlier README used;
* ``pyfair lef_x_lm``: pyfair's per-iteration LEF x LM (if pyfair is installed:
  ``pip install riskbudget[bench]``), and ``riskbudget lef_x_lm`` the same
  method in riskbudget.

``wall s`` is the time of the run after ``import numpy`` (it includes
``import riskbudget`` and, for every case, the SciPy import and table set-up
the run needs; ``import riskbudget`` alone is printed separately); ``CPU s`` the CPU time of
all its threads over the same span, which other jobs on a shared machine
disturb less than the wall time. ``peak MB``
is the process's peak resident memory (VmHWM), interpreter and libraries included. With
``--repeat N`` every case runs once per round, N rounds, and the fastest run is shown; each ratio
also shows its range and median over the rounds (both runs of a round saw about the same load); each round
starts one case later than the last, so no case always runs right after the same one. ``--warm`` also times
a second run of every case in the same process (``warm s``): the imports (pandas for riskbudget's tables,
SciPy for every case), the tables of the inverse CDFs and the first use of the memory are then paid, as for
a notebook's second simulation. Run:

    python benchmarks/bench_engine.py                      # 20 scenarios x 10^6 years, the issue #15 table
    python benchmarks/bench_engine.py --years 100000 --scenarios 1 --scenarios 20
    python benchmarks/bench_engine.py --repeat 3           # best of 3 (the machine is shared and noisy)
    python benchmarks/bench_engine.py --big                # also 10^7 years x 20 scenarios (memory check)
    python benchmarks/bench_engine.py --repeat 5 --warm --cases "riskbudget,numpy tuned"
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

TEF = (0.5, 2.0, 8.0)
TCAP = (0.2, 0.5, 0.9)
RS = (0.3, 0.6, 0.85)
PL = (50_000.0, 200_000.0, 2_000_000.0)
SLP = (0.1, 0.3, 0.5)
SL = (10_000.0, 100_000.0, 1_000_000.0)
SEED = 2024


def variants(n_scenarios: int) -> list[tuple[float, float]]:
    """(frequency factor, loss factor) of each scenario of the portfolio."""
    if n_scenarios == 1:
        return [(1.0, 1.0)]
    f = np.linspace(0.5, 2.0, n_scenarios)
    loss = np.linspace(2.0, 0.5, n_scenarios)
    return list(zip(f.tolist(), loss.tolist()))


def _scale(t: tuple[float, float, float], c: float) -> tuple[float, float, float]:
    return (t[0] * c, t[1] * c, t[2] * c)


def standard_scenario(name: str, f: float, c: float):  # noqa: ANN201 - riskbudget is imported lazily
    """The standard scenario with its frequency scaled by ``f`` and its losses by ``c``."""
    import riskbudget as rb

    return rb.Scenario(
        name,
        threat_event_frequency=rb.PERT(*_scale(TEF, f)),
        threat_capability=rb.PERT(*TCAP),
        resistance_strength=rb.PERT(*RS),
        primary_loss=rb.PERT(*_scale(PL, c)),
        secondary_loss_probability=rb.PERT(*SLP),
        secondary_loss=rb.PERT(*_scale(SL, c)),
    )


# --------------------------------------------------------------------------- #
def run_riskbudget(
    years: int, n_scenarios: int, method: str = "aggregate", n_jobs: int | None = None, keep_counts: bool = True
) -> float:
    import riskbudget as rb

    scenarios = [standard_scenario(f"S{i:02d}", f, c) for i, (f, c) in enumerate(variants(n_scenarios))]
    result = rb.simulate(
        scenarios, years=years, seed=SEED, method=method, progress=False, n_jobs=n_jobs, keep_counts=keep_counts
    )
    return float(result.annual_loss.mean())


# --------------------------------------------------------------------------- #
# Hand-tuned NumPy: the same aggregate model, written for speed
# --------------------------------------------------------------------------- #
TUNED_CELLS = 4096
TUNED_CHUNK_YEARS = 1 << 15


_STANDARD_QUANTILES: dict[tuple[float, float], np.ndarray] = {}


def _inverse_pert(low: float, mode: float, high: float):  # noqa: ANN202 - a closure
    """PERT(low, mode, high) from uniforms: a linear interpolant of the quantile on 4,096 cells (in place).

    The Beta(a, b) quantiles are computed once per shape (scaled variants share it), as riskbudget does.
    """
    from scipy import special

    a = 1 + 4 * (mode - low) / (high - low)
    b = 1 + 4 * (high - mode) / (high - low)
    standard = _STANDARD_QUANTILES.get((a, b))
    if standard is None:
        standard = _STANDARD_QUANTILES[(a, b)] = special.betaincinv(a, b, np.linspace(0.0, 1.0, TUNED_CELLS + 1))
    q = low + (high - low) * standard
    q0, dq = q[:-1].copy(), np.diff(q)

    def inverse(u: np.ndarray) -> np.ndarray:
        u *= TUNED_CELLS
        k = u.astype(np.intp)
        np.minimum(k, TUNED_CELLS - 1, out=k)
        u -= k
        u *= dq.take(k)
        u += q0.take(k)
        return u

    return inverse


def _tuned_scenario(j: int, f: float, c: float, years: int, out: np.ndarray) -> None:
    rng = np.random.default_rng([SEED, j])
    tef, tc, rs = _inverse_pert(*_scale(TEF, f)), _inverse_pert(*TCAP), _inverse_pert(*RS)
    pl, slp, sl = _inverse_pert(*_scale(PL, c)), _inverse_pert(*SLP), _inverse_pert(*_scale(SL, c))
    for a in range(0, years, TUNED_CHUNK_YEARS):
        n = min(TUNED_CHUNK_YEARS, years - a)
        counts = rng.poisson(tef(rng.random(n)))
        year = np.repeat(np.arange(n, dtype=np.intp), counts)
        hit = tc(rng.random(year.size)) > rs(rng.random(year.size))
        loss_year = year[hit]
        loss = pl(rng.random(loss_year.size))
        sec = np.flatnonzero(rng.random(loss_year.size) < slp(rng.random(n)).take(loss_year))
        loss[sec] += sl(rng.random(sec.size))
        out[a : a + n, j] = np.bincount(loss_year, weights=loss, minlength=n)


def _cubic_pert(low: float, mode: float, high: float):  # noqa: ANN202 - a closure
    """PERT(low, mode, high) from uniforms with riskbudget's own cubic inverse (u-error < 5e-11)."""
    from riskbudget.distributions import _beta_inverse

    a = 1 + 4 * (mode - low) / (high - low)
    b = 1 + 4 * (high - mode) / (high - low)
    q = _beta_inverse(a, b)

    def inverse(u: np.ndarray) -> np.ndarray:
        x = q(u)
        x *= high - low
        x += low
        return x

    return inverse


def _susceptibility() -> float:
    """P(TCap > RS) of the standard scenario, by riskbudget's plain-NumPy quadrature (no scipy.integrate import)."""
    import riskbudget as rb

    return rb.Scenario("s", threat_event_frequency=1, threat_capability=rb.PERT(*TCAP), resistance_strength=rb.PERT(*RS),
                       primary_loss=1).expected_susceptibility()


def _tuned_one_uniform(j: int, f: float, c: float, years: int, out: np.ndarray, s: float) -> None:
    """The lean tuned NumPy with one uniform per threat event against ``s`` = P(TCap > RS) for the loss-event test."""
    rng = np.random.default_rng([SEED, j])
    tef = _inverse_pert(*_scale(TEF, f))
    pl, slp, sl = _inverse_pert(*_scale(PL, c)), _inverse_pert(*SLP), _inverse_pert(*_scale(SL, c))
    for a in range(0, years, TUNED_CHUNK_YEARS):
        n = min(TUNED_CHUNK_YEARS, years - a)
        counts = rng.poisson(tef(rng.random(n)))
        year = np.repeat(np.arange(n, dtype=np.intp), counts)
        loss_year = year[rng.random(year.size) < s]
        loss = pl(rng.random(loss_year.size))
        sec = np.flatnonzero(rng.random(loss_year.size) < slp(rng.random(n)).take(loss_year))
        loss[sec] += sl(rng.random(sec.size))
        out[a : a + n, j] = np.bincount(loss_year, weights=loss, minlength=n)


def _tuned_same_draws(j: int, f: float, c: float, years: int, out: np.ndarray, s: float) -> None:
    """The tuned NumPy doing riskbudget's draws: a uniform of every loss quantity for *every* candidate event.

    One uniform per threat event against ``s`` = P(TCap > RS) picks the candidate events; the primary
    loss, the secondary-loss test and the secondary loss then each draw one uniform per candidate
    event from their own stream (so that a control stopping some candidates leaves the others' draws
    unchanged, as riskbudget's common random numbers need), and the frequency, the losses and the
    secondary-loss probability are inverted with riskbudget's cubic table. What riskbudget's design
    costs in hand-written NumPy, the rest left as lean as the yardstick.
    """
    streams = [np.random.default_rng([SEED, j, k]) for k in range(6)]
    rate_u, count, hit_u, pl_u, sec_u, sl_u = streams
    tef = _cubic_pert(*_scale(TEF, f))
    pl, slp, sl = _cubic_pert(*_scale(PL, c)), _cubic_pert(*SLP), _cubic_pert(*_scale(SL, c))
    for a in range(0, years, TUNED_CHUNK_YEARS):
        n = min(TUNED_CHUNK_YEARS, years - a)
        counts = count.poisson(tef(rate_u.random(n)))
        slp_year = slp(rate_u.random(n))
        year = np.repeat(np.arange(n, dtype=np.intp), counts)
        loss_year = year[hit_u.random(year.size) < s]
        m = loss_year.size
        loss = pl(pl_u.random(m))
        sec = np.flatnonzero(sec_u.random(m) < slp_year.take(loss_year))
        loss[sec] += sl(sl_u.random(m).take(sec))
        out[a : a + n, j] = np.bincount(loss_year, weights=loss, minlength=n)


def _draws_only(j: int, f: float, c: float, years: int, out: np.ndarray, s: float) -> None:
    """Only the draws of :func:`_tuned_same_draws` (riskbudget's design), none of the work on them.

    Each year's rate (cubic inverse) and Poisson count, each year's secondary-loss probability, one
    uniform per threat event and a uniform of the primary loss, the secondary-loss test and the
    secondary loss for every candidate event (a share ``s`` of the threat events, drawn as a binomial
    here): the floor of any engine that draws what riskbudget's common random numbers need with
    NumPy's generators. ``out`` gets the counts (so that nothing is optimised away).
    """
    streams = [np.random.default_rng([SEED, j, k]) for k in range(6)]
    rate_u, count, hit_u, pl_u, sec_u, sl_u = streams
    tef, slp = _cubic_pert(*_scale(TEF, f)), _cubic_pert(*SLP)
    for a in range(0, years, TUNED_CHUNK_YEARS):
        n = min(TUNED_CHUNK_YEARS, years - a)
        counts = count.poisson(tef(rate_u.random(n)))
        slp(rate_u.random(n))
        total = int(counts.sum())
        hit_u.random(total)
        m = int(hit_u.binomial(total, s))
        for g in (pl_u, sec_u, sl_u):
            g.random(m)
        out[a : a + n, j] = counts


def _tune_malloc() -> None:
    """glibc's mmap/trim thresholds raised as riskbudget raises them, so short-lived arrays are recycled."""
    import ctypes
    import platform

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD


def run_numpy_tuned(
    years: int, n_scenarios: int, threads: int = 2, same_draws: bool = False, draws_only: bool = False,
    one_uniform: bool = False,
) -> float:
    """The aggregate model by hand: inverse-CDF PERT, chunks of years, scenarios on ``threads`` threads.

    ``one_uniform``: the loss-event test with one uniform against P(TCap > RS) (:func:`_tuned_one_uniform`);
    ``same_draws``: riskbudget's draws and inverse (:func:`_tuned_same_draws`) instead of the leanest;
    ``draws_only``: those draws and nothing else (:func:`_draws_only`; the result is not an ALE).
    """
    _tune_malloc()
    out = np.empty((years, n_scenarios), order="F")
    jobs: list[tuple] = [(j, f, c, years, out) for j, (f, c) in enumerate(variants(n_scenarios))]
    if draws_only or same_draws or one_uniform:
        scenario = _draws_only if draws_only else (_tuned_same_draws if same_draws else _tuned_one_uniform)
        s = _susceptibility()
        jobs = [(*job, s) for job in jobs]
    else:
        scenario = _tuned_scenario
    if threads == 1:
        for job in jobs:
            scenario(*job)
    else:
        with ThreadPoolExecutor(threads) as ex:
            for fut in [ex.submit(scenario, *job) for job in jobs]:
                fut.result()
    return float(out.sum(axis=1).mean())


# --------------------------------------------------------------------------- #
def _pert(rng: np.random.Generator, low: float, mode: float, high: float, n: int) -> np.ndarray:
    a = 1 + 4 * (mode - low) / (high - low)
    b = 1 + 4 * (high - mode) / (high - low)
    return low + (high - low) * rng.beta(a, b, n)


def run_numpy_plain(years: int, n_scenarios: int) -> float:
    """The same aggregate model written plainly with numpy (Generator.beta, one generator, no chunks)."""
    rng = np.random.default_rng(SEED)
    total = np.zeros(years)
    for f, c in variants(n_scenarios):
        tef = _pert(rng, *_scale(TEF, f), years)
        n = rng.poisson(tef)
        year = np.repeat(np.arange(years), n)
        t = year.size
        hit = _pert(rng, *TCAP, t) > _pert(rng, *RS, t)
        ly = year[hit]
        pl = _pert(rng, *_scale(PL, c), ly.size)
        slp = _pert(rng, *SLP, years)
        sec = rng.random(ly.size) < slp[ly]
        sl = _pert(rng, *_scale(SL, c), int(sec.sum()))
        total += np.bincount(ly, weights=pl, minlength=years)
        total += np.bincount(ly[sec], weights=sl, minlength=years)
    return float(total.mean())


def run_pyfair(years: int, n_scenarios: int) -> float:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    import pyfair

    models = []
    for i, (f, c) in enumerate(variants(n_scenarios)):
        m = pyfair.FairModel(name=f"S{i:02d}", n_simulations=years, random_seed=SEED + i)
        m.input_data("Threat Event Frequency", **dict(zip(("low", "mode", "high"), _scale(TEF, f))))
        m.input_data("Threat Capability", **dict(zip(("low", "mode", "high"), TCAP)))
        m.input_data("Control Strength", **dict(zip(("low", "mode", "high"), RS)))
        m.input_data("Primary Loss", **dict(zip(("low", "mode", "high"), _scale(PL, c))))
        m.input_data("Secondary Loss Event Frequency", **dict(zip(("low", "mode", "high"), SLP)))
        m.input_data("Secondary Loss Event Magnitude", **dict(zip(("low", "mode", "high"), _scale(SL, c))))
        m.calculate_all()
        models.append(m)
    if len(models) == 1:
        return float(models[0].export_results()["Risk"].mean())
    meta = pyfair.FairMetaModel(name="portfolio", models=models)
    meta.calculate_all()
    return float(meta.export_results()["Risk"].mean())


RB = "riskbudget"
TUNED = "numpy tuned"
TUNED_1 = "numpy tuned 1 thread"
ONE = "numpy tuned one-uniform test"
PYFAIR = "pyfair lef_x_lm"
SAME = "numpy tuned same draws"
DRAWS = "numpy same draws only"
CASES = {
    RB: lambda y, s: run_riskbudget(y, s),
    "riskbudget 1 thread": lambda y, s: run_riskbudget(y, s, n_jobs=1),
    "riskbudget no counts": lambda y, s: run_riskbudget(y, s, keep_counts=False),
    TUNED: lambda y, s: run_numpy_tuned(y, s, threads=2),
    TUNED_1: lambda y, s: run_numpy_tuned(y, s, threads=1),
    ONE: lambda y, s: run_numpy_tuned(y, s, threads=2, one_uniform=True),
    SAME: lambda y, s: run_numpy_tuned(y, s, threads=2, same_draws=True),
    DRAWS: lambda y, s: run_numpy_tuned(y, s, threads=2, draws_only=True),
    "numpy plain": run_numpy_plain,
    "riskbudget lef_x_lm": lambda y, s: run_riskbudget(y, s, "lef_x_lm"),
    PYFAIR: run_pyfair,
}
DEFAULT_CASES = [RB, "riskbudget 1 thread", "riskbudget no counts", TUNED, TUNED_1, ONE, SAME, DRAWS,
                 "riskbudget lef_x_lm", PYFAIR]


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss keeps the parent's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 2**20)


def child(case: str, years: int, n_scenarios: int, warm: bool = False) -> None:
    """Run ``case`` in this fresh process; with ``warm``, run it a second time (imports and tables already paid)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    ale = CASES[case](years, n_scenarios)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak_mb = _peak_mb()
    row = {"case": case, "years": years, "scenarios": n_scenarios, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb,
           "ale": ale}
    if warm:
        t0 = time.perf_counter()
        again = CASES[case](years, n_scenarios)
        row["warm_s"] = time.perf_counter() - t0
        if again != ale:
            raise RuntimeError(f"{case}: the second run in the process gave {again!r}, the first {ale!r}")
    print(json.dumps(row))


def measure(case: str, years: int, n_scenarios: int, warm: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--years", str(years), "--scenarios", str(n_scenarios)]
        + (["--warm"] if warm else []),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {"case": case, "years": years, "scenarios": n_scenarios, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_seconds(repeat: int, names: str = "") -> float:
    """Fastest ``import riskbudget`` in a fresh interpreter (after ``import numpy``), then ``names`` looked up.

    The package loads each public name's module on first use, so ``import riskbudget`` alone loads
    almost nothing; ``names="rb.Scenario, rb.PERT, rb.simulate"`` times what a simulation loads.
    """
    code = ("import time, numpy; t = time.perf_counter(); import riskbudget as rb; " + (names + "; " if names else "")
            + "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(max(repeat, 3))]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child")
    parser.add_argument("--years", type=int, action="append")
    parser.add_argument("--scenarios", type=int, action="append")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is shown")
    parser.add_argument("--big", action="store_true", help="also run 10^7 years x 20 scenarios (riskbudget only)")
    parser.add_argument("--warm", action="store_true",
                        help="also time a second run of each case in its process (imports and first-use costs paid)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.years[0], args.scenarios[0], args.warm)
        return
    years_list = args.years or [1_000_000]
    scen_list = args.scenarios or [20]
    cases = [c.strip() for c in args.cases.split(",")]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    if PYFAIR in cases:
        import importlib.util

        if importlib.util.find_spec("pyfair") is None:
            print("pyfair is not installed (pip install 'riskbudget[bench]'); its case is skipped")
            cases.remove(PYFAIR)
    print(f"import riskbudget: {import_seconds(args.repeat):.3f} s; with the modules a simulation loads "
          f"(rb.Scenario, rb.PERT, rb.simulate): {import_seconds(args.repeat, 'rb.Scenario, rb.PERT, rb.simulate'):.3f} s "
          f"(fastest of {max(args.repeat, 3)}; target < 0.5 s)")
    rows = []
    rounds: dict[tuple[int, int], list[dict[str, dict]]] = {}  # (scenarios, years) -> each round's run of every case
    print(f"{'case':24s} {'scen':>4s} {'years':>10s} {'wall s':>8s} {'CPU s':>8s} {'peak MB':>8s} {'ALE':>14s}"
          + (f" {'warm s':>8s}" if args.warm else ""))
    for s in scen_list:
        for y in years_list:
            # Rounds of every case in turn (not each case N times in a row), so that a change in the
            # machine's load during the benchmark falls on every case alike; each round starts one case
            # later, so that no case always runs right after the same one (pyfair's 4 GB, say).
            rounds[(s, y)] = []
            for k in range(args.repeat):
                order = cases[k % len(cases):] + cases[: k % len(cases)]
                rounds[(s, y)].append({case: measure(case, y, s, args.warm) for case in order})
            for case in cases:
                runs = [r[case] for r in rounds[(s, y)]]
                ok = [r for r in runs if "error" not in r]
                r = min(ok, key=lambda r: r["wall_s"]) if ok else runs[0]
                rows.append(r)
                if "error" in r:
                    print(f"{case:24s} {s:4d} {y:10,d}   failed: {r['error']}")
                else:
                    warm = ""
                    if args.warm:
                        warm = f" {min(x['warm_s'] for x in ok):8.2f}"
                    print(f"{case:24s} {s:4d} {y:10,d} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_mb']:8.0f} "
                          f"{r['ale']:14,.0f}{warm}")
    if args.big:
        r = measure(RB, 10_000_000, 20)
        rows.append(r)
        print(f"{RB:24s} {20:4d} {10_000_000:10,d} {r.get('wall_s', float('nan')):8.2f} {r.get('peak_mb', float('nan')):8.0f}")

    def get(case: str, s: int, y: int) -> dict | None:
        for r in rows:
            if r["case"] == case and r["scenarios"] == s and r["years"] == y and "error" not in r:
                return r
        return None

    def runs_of(case: str, s: int, y: int) -> list[dict]:
        return [r[case] for r in rounds[(s, y)] if "error" not in r[case]]

    print("\nRatios, riskbudget's time over the other's (target: <= 1.2 against the tuned NumPy on 2 threads);")
    print("memory is riskbudget's peak over the other's (target: riskbudget < 300 MB at 20 x 10^6):")
    for s in scen_list:
        for y in years_list:
            for mine, other in ((RB, TUNED), ("riskbudget 1 thread", TUNED_1), ("riskbudget no counts", TUNED), (RB, ONE),
                                (RB, SAME), (DRAWS, TUNED), (RB, "numpy plain"), ("riskbudget lef_x_lm", PYFAIR),
                                (RB, PYFAIR)):
                a, o = get(mine, s, y), get(other, s, y)
                if a is not None and o is not None:
                    paired = [r[mine]["wall_s"] / r[other]["wall_s"] for r in rounds[(s, y)]
                              if "error" not in r[mine] and "error" not in r[other]]
                    spread = (f"   per round {min(paired):.2f}-{max(paired):.2f}, median {float(np.median(paired)):.2f}"
                              if len(paired) > 1 else "")
                    if args.warm:
                        hot = [r[mine]["warm_s"] / r[other]["warm_s"] for r in rounds[(s, y)]
                               if "error" not in r[mine] and "error" not in r[other]]
                        best = min(r["warm_s"] for r in runs_of(mine, s, y)) / min(r["warm_s"] for r in runs_of(other, s, y))
                        spread += f"   warm {best:.2f} (per round {min(hot):.2f}-{max(hot):.2f}, median {float(np.median(hot)):.2f})"
                    print(
                        f"  {s:2d} scenarios, {y:>9,d} years: {mine:20s} / {other:20s}  "
                        f"time {a['wall_s'] / o['wall_s']:5.2f}   CPU {a['cpu_s'] / o['cpu_s']:5.2f}   "
                        f"memory {a['peak_mb'] / o['peak_mb']:5.2f}{spread}"
                    )


if __name__ == "__main__":
    main()
