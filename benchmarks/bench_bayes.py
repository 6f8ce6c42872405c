"""Bayesian fit benchmark: a frequency + severity fit on the bundled example, cold and warm.

Targets (issue #4, 2 cores): under 60 s from a cold PyTensor compile cache and
under 15 s warm, for 2 chains x 1000 draws (plus 1000 tuning steps).

Each run is a fresh Python process, so "total" includes ``import pymc``. The
*cold* run gets a new, empty compile cache (``PYTENSOR_FLAGS=base_compiledir=``
a temporary folder), as CI on a new machine would; the *warm* runs reuse that
cache. Models timed:

* ``simple``: Poisson rate with exposure + lognormal severity truncated at the
  reporting threshold (one rate, one ``mu``, one ``sigma``);
* ``pooled``: the same with partial pooling across the four business units
  (hierarchical rates and ``mu``), the model the example is generated from.

Also timed in-process: the exact conjugate update (the path interactive
widgets use) and ``to_scenario`` + ``simulate`` of 100,000 years.

Run::

    python benchmarks/bench_bayes.py                    # both models, pymc sampler
    python benchmarks/bench_bayes.py --sampler nutpie   # nutpie instead
    python benchmarks/bench_bayes.py --models simple --warm-runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPOSURE = {2019: 0.70, 2020: 0.75, 2021: 0.82, 2022: 0.88, 2023: 0.94, 2024: 1.00}

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import riskbudget as rb
from riskbudget import bayes
import pymc  # noqa: F401  (counted in import time)
t_import = time.perf_counter() - t0
data = bayes.read_incidents(rb.io.example_path("incidents.csv"), threshold=10_000,
                            start="2019-07-01", end="2024-12-31", exposure={exposure})
t1 = time.perf_counter()
result = bayes.fit(data, rate_prior=bayes.rate_prior(rate=2.0, effective_years=0.5),
                   severity_prior=bayes.severity_prior(50_000, 1_000_000, kappa=1.0, nu=3.0),
                   pooling={pooling}, draws=1000, tune=1000, chains=2, seed=1, sampler={sampler!r},
                   progress=False)
t_fit = time.perf_counter() - t1
print(json.dumps({{"import_s": t_import, "fit_s": t_fit, "total_s": time.perf_counter() - t0,
                  "ok": result.diagnostics.ok, "min_ess_bulk": result.diagnostics.min_ess_bulk,
                  "max_rhat": result.diagnostics.max_rhat, "divergences": result.diagnostics.divergences}}))
"""


def run_child(pooling: str | None, sampler: str, compiledir: str) -> dict:
    code = CHILD.format(exposure=repr(EXPOSURE), pooling=repr(pooling), sampler=sampler)
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}", RISKBUDGET_PROGRESS="0", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["process_s"] = wall
    return data


def in_process() -> dict:
    import numpy as np

    import riskbudget as rb
    from riskbudget import bayes

    prior = bayes.rate_prior(probability=0.25, effective_years=2)
    n = 20_000
    t0 = time.perf_counter()
    for k in range(n):
        post = bayes.update_rate(prior, k % 7, 3.0)
    t_update = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(2000):
        bayes.predictive_count(post).pmf(np.arange(10))
    t_pmf = (time.perf_counter() - t0) / 2000

    g = np.random.default_rng(0)
    scenario = rb.Scenario(
        "posterior",
        loss_event_frequency=bayes.PosteriorRate(g.gamma(40, 0.2, 2000), posterior_key="k"),
        primary_loss=bayes.PosteriorLoss(g.normal(10.8, 0.2, 2000), g.uniform(1.2, 1.5, 2000), lower=10_000, posterior_key="k"),
    )
    plain = rb.Scenario("plain", loss_event_frequency=rb.Gamma(40, 5), primary_loss=rb.LogNormal(10.8, 1.35))
    rb.simulate([scenario, plain], years=1000, seed=0, progress=False)  # warm-up: imports, caches
    t0 = time.perf_counter()
    rb.simulate(scenario, years=100_000, seed=1, progress=False)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    rb.simulate(plain, years=100_000, seed=1, progress=False)
    t_plain = time.perf_counter() - t0
    return {"update_rate_us": t_update * 1e6, "predictive_pmf10_us": t_pmf * 1e6, "simulate_posterior_100k_s": t_sim, "simulate_plain_100k_s": t_plain}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", choices=["pymc", "nutpie"], default="pymc")
    parser.add_argument("--models", choices=["simple", "pooled", "all"], default="all")
    parser.add_argument("--warm-runs", type=int, default=2)
    args = parser.parse_args(argv)
    models = {"simple": None, "pooled": "unit"}
    chosen = list(models) if args.models == "all" else [args.models]

    print(f"bench_bayes: example incidents, 2 chains x 1000 draws (+1000 tune), sampler={args.sampler}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'model':<8} {'cache':<6} {'import s':>9} {'fit s':>7} {'total s':>8}  {'target':>7}  diagnostics")
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix="pytensor-cold-") as cache:
            runs = [("cold", run_child(models[name], args.sampler, cache))]
            for _ in range(args.warm_runs):
                runs.append(("warm", run_child(models[name], args.sampler, cache)))
        for label, r in runs:
            target = 60.0 if label == "cold" else 15.0
            verdict = "ok" if r["total_s"] < target else "MISSED"
            diag = f"R-hat {r['max_rhat']:.3f}, ESS {r['min_ess_bulk']:.0f}, {r['divergences']} div"
            print(f"{name:<8} {label:<6} {r['import_s']:9.1f} {r['fit_s']:7.1f} {r['total_s']:8.1f}  <{target:4.0f} {verdict:<3}  {diag}")

    ip = in_process()
    print()
    print(f"conjugate update_rate:                {ip['update_rate_us']:8.1f} us per call")
    print(f"predictive_count(...).pmf(0..9):      {ip['predictive_pmf10_us']:8.1f} us per call")
    print(f"simulate 100k years, posterior (2000 draws): {ip['simulate_posterior_100k_s']:6.3f} s "
          f"(plain Gamma x LogNormal: {ip['simulate_plain_100k_s']:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
