"""Generate the synthetic incident history of the example company (data/example/incidents.csv).

The example company of ``data/example/register.csv`` is a fictional mid-size
logistics company. Its incident log is SYNTHETIC: this script draws it from
the parameters below, so a fit on it can be checked against the truth.

Generating model
----------------
* Observation window 2019-07-01 to 2024-12-31 (the log started mid-2019).
* Exposure grows with the business: relative weights per calendar year in
  ``EXPOSURE`` (2024 = 1).
* Loss events of unit ``u`` happen as a Poisson process with
  ``GROUND_UP_RATE[u]`` events per year at exposure 1 (every loss, however
  small), independently across units and years.
* The loss of each event is lognormal with median ``MEDIAN[u]`` and log-scale
  standard deviation ``SIGMA`` (the same for every unit).
* Only losses of at least ``THRESHOLD`` are recorded. The recorded (reported)
  rate is therefore ``GROUND_UP_RATE[u] * P(loss >= THRESHOLD)``; it is printed
  with ``--truth``.
* Each event's category is drawn with the probabilities in ``CATEGORIES``,
  independently of its loss (categories are labels here, not drivers).

Run ``python scripts/make_incidents.py`` to rewrite the file (bit-identical for
the same seed) and ``python scripts/make_incidents.py --truth`` to print the
generating parameters, including the implied reported rates, as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SEED = 20240917
START = "2019-07-01"
END = "2024-12-31"
THRESHOLD = 10_000.0
EXPOSURE = {2019: 0.70, 2020: 0.75, 2021: 0.82, 2022: 0.88, 2023: 0.94, 2024: 1.00}
UNITS = ("Road freight", "Warehousing", "Freight forwarding", "Corporate IT")
GROUND_UP_RATE = {"Road freight": 4.5, "Warehousing": 3.0, "Freight forwarding": 2.5, "Corporate IT": 1.5}
MEDIAN = {"Road freight": 45_000.0, "Warehousing": 70_000.0, "Freight forwarding": 35_000.0, "Corporate IT": 110_000.0}
SIGMA = 1.25
CATEGORIES = {
    "bec_fraud": 0.30,
    "lost_device": 0.18,
    "web_application": 0.12,
    "ddos": 0.10,
    "third_party": 0.10,
    "cloud_misconfiguration": 0.10,
    "ransomware": 0.10,
}


def truth() -> dict:
    """The generating parameters, with the implied reported (recorded) rates and log-medians."""
    from scipy import special

    reported = {}
    for u in UNITS:
        z = (math.log(THRESHOLD) - math.log(MEDIAN[u])) / SIGMA
        reported[u] = GROUND_UP_RATE[u] * float(special.ndtr(-z))
    return {
        "seed": SEED,
        "start": START,
        "end": END,
        "threshold": THRESHOLD,
        "exposure": EXPOSURE,
        "ground_up_rate": GROUND_UP_RATE,
        "reported_rate": reported,
        "median": MEDIAN,
        "mu": {u: math.log(MEDIAN[u]) for u in UNITS},
        "sigma": SIGMA,
        "categories": CATEGORIES,
    }


def generate(seed: int = SEED):
    """The incident table (a pandas DataFrame), drawn from the stated parameters."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp(START), pd.Timestamp(END)
    cats = list(CATEGORIES)
    probs = np.array([CATEGORIES[c] for c in cats])
    rows = []
    for year, weight in EXPOSURE.items():
        y0 = max(pd.Timestamp(year=year, month=1, day=1), start)
        y1 = min(pd.Timestamp(year=year, month=12, day=31), end)
        days = (y1 - y0).days + 1
        year_days = 366 if pd.Timestamp(year=year, month=12, day=31).day_of_year == 366 else 365
        fraction = days / year_days
        for unit in UNITS:
            n = rng.poisson(GROUND_UP_RATE[unit] * weight * fraction)
            offsets = np.sort(rng.integers(0, days, n))
            losses = np.exp(math.log(MEDIAN[unit]) + SIGMA * rng.standard_normal(n))
            category = rng.choice(len(cats), size=n, p=probs)
            for d, x, c in zip(offsets, losses, category):
                rows.append({"date": y0 + pd.Timedelta(days=int(d)), "unit": unit, "category": cats[c], "loss": round(float(x))})
    df = pd.DataFrame(rows)
    df = df[df["loss"] >= THRESHOLD].sort_values(["date", "unit"], kind="stable").reset_index(drop=True)
    df.insert(0, "id", [f"INC-{i + 1:03d}" for i in range(len(df))])
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    return df[["id", "date", "unit", "category", "loss"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "data" / "example" / "incidents.csv"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--truth", action="store_true", help="print the generating parameters as JSON and exit")
    args = parser.parse_args(argv)
    if args.truth:
        print(json.dumps(truth(), indent=2))
        return 0
    from riskbudget.io import atomic_write

    df = generate(args.seed)
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    atomic_write(args.out, buf.getvalue())
    print(f"wrote {len(df)} incidents to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
