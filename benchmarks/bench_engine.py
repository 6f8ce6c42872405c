"""Engine benchmark: riskbudget vs pyfair (LEF x LM) vs a plain numpy aggregate model.

The standard scenario of issue #2: threat event frequency PERT(0.5, 2, 8);
threat capability PERT(0.2, 0.5, 0.9) vs resistance strength
PERT(0.3, 0.6, 0.85); primary loss PERT(50,000, 200,000, 2,000,000); secondary
loss probability PERT(0.1, 0.3, 0.5); secondary loss PERT(10,000, 100,000,
1,000,000). The portfolio has 20 scaled variants (frequency x 0.5..2.0, losses
x 2.0..0.5).

Every case runs in its own subprocess so that its peak memory (max RSS, which
includes the interpreter and libraries) is its own. Run:

    python benchmarks/bench_engine.py                # full table (10^4, 10^5, 10^6 years)
    python benchmarks/bench_engine.py --years 100000 # one size
    python benchmarks/bench_engine.py --big          # also 10^7 years x 20 scenarios (memory check)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

TEF = (0.5, 2.0, 8.0)
TCAP = (0.2, 0.5, 0.9)
RS = (0.3, 0.6, 0.85)
PL = (50_000.0, 200_000.0, 2_000_000.0)
SLP = (0.1, 0.3, 0.5)
SL = (10_000.0, 100_000.0, 1_000_000.0)


def variants(n_scenarios: int) -> list[tuple[float, float]]:
    """(frequency factor, loss factor) of each scenario of the portfolio."""
    if n_scenarios == 1:
        return [(1.0, 1.0)]
    f = np.linspace(0.5, 2.0, n_scenarios)
    loss = np.linspace(2.0, 0.5, n_scenarios)
    return list(zip(f.tolist(), loss.tolist()))


def _scale(t: tuple[float, float, float], c: float) -> tuple[float, float, float]:
    return (t[0] * c, t[1] * c, t[2] * c)


# --------------------------------------------------------------------------- #
def run_riskbudget(years: int, n_scenarios: int, method: str = "aggregate") -> float:
    import riskbudget as rb

    scenarios = [
        rb.Scenario(
            f"S{i:02d}",
            threat_event_frequency=rb.PERT(*_scale(TEF, f)),
            threat_capability=rb.PERT(*TCAP),
            resistance_strength=rb.PERT(*RS),
            primary_loss=rb.PERT(*_scale(PL, c)),
            secondary_loss_probability=rb.PERT(*SLP),
            secondary_loss=rb.PERT(*_scale(SL, c)),
        )
        for i, (f, c) in enumerate(variants(n_scenarios))
    ]
    result = rb.simulate(scenarios, years=years, seed=2024, method=method, progress=False)
    return float(result.annual_loss.mean())


def _pert(rng: np.random.Generator, low: float, mode: float, high: float, n: int) -> np.ndarray:
    a = 1 + 4 * (mode - low) / (high - low)
    b = 1 + 4 * (high - mode) / (high - low)
    return low + (high - low) * rng.beta(a, b, n)


def run_numpy(years: int, n_scenarios: int) -> float:
    """The same aggregate model written plainly with numpy (one generator, no chunks)."""
    rng = np.random.default_rng(2024)
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
        m = pyfair.FairModel(name=f"S{i:02d}", n_simulations=years, random_seed=2024 + i)
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


CASES = {
    "riskbudget aggregate": lambda y, s: run_riskbudget(y, s, "aggregate"),
    "riskbudget lef_x_lm": lambda y, s: run_riskbudget(y, s, "lef_x_lm"),
    "numpy aggregate": run_numpy,
    "pyfair lef_x_lm": run_pyfair,
}


def child(case: str, years: int, n_scenarios: int) -> None:
    t0 = time.perf_counter()
    ale = CASES[case](years, n_scenarios)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "years": years, "scenarios": n_scenarios, "wall_s": wall, "peak_mb": peak_mb, "ale": ale}))


def measure(case: str, years: int, n_scenarios: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--years", str(years), "--scenarios", str(n_scenarios)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {"case": case, "years": years, "scenarios": n_scenarios, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child")
    parser.add_argument("--years", type=int, action="append")
    parser.add_argument("--scenarios", type=int, action="append")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--big", action="store_true", help="also run 10^7 years x 20 scenarios (riskbudget only)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.years[0], args.scenarios[0])
        return
    years_list = args.years or [10_000, 100_000, 1_000_000]
    scen_list = args.scenarios or [1, 20]
    cases = [c.strip() for c in args.cases.split(",")]
    rows = []
    print(f"{'case':24s} {'scen':>4s} {'years':>10s} {'wall s':>8s} {'peak MB':>8s} {'ALE':>14s}")
    for s in scen_list:
        for y in years_list:
            for case in cases:
                r = measure(case, y, s)
                rows.append(r)
                if "error" in r:
                    print(f"{case:24s} {s:4d} {y:10,d}   failed: {r['error']}")
                else:
                    print(f"{case:24s} {s:4d} {y:10,d} {r['wall_s']:8.2f} {r['peak_mb']:8.0f} {r['ale']:14,.0f}")
    if args.big:
        r = measure("riskbudget aggregate", 10_000_000, 20)
        rows.append(r)
        print(f"{'riskbudget aggregate':24s} {20:4d} {10_000_000:10,d} {r.get('wall_s', float('nan')):8.2f} {r.get('peak_mb', float('nan')):8.0f}")

    def get(case: str, s: int, y: int) -> dict | None:
        for r in rows:
            if r["case"] == case and r["scenarios"] == s and r["years"] == y and "error" not in r:
                return r
        return None

    print("\nRatios (higher is better for riskbudget):")
    for s in scen_list:
        for y in years_list:
            ours = get("riskbudget aggregate", s, y)
            if ours is None:
                continue
            for other in ("pyfair lef_x_lm", "numpy aggregate"):
                o = get(other, s, y)
                if o is not None:
                    print(
                        f"  {s:2d} scenarios, {y:>9,d} years: {other:16s} / riskbudget: "
                        f"time x{o['wall_s'] / ours['wall_s']:.2f}, memory x{o['peak_mb'] / ours['peak_mb']:.2f}"
                    )


if __name__ == "__main__":
    main()
