"""Published industry benchmarks (``data/benchmarks/``) turned into priors.

Each benchmark file is a tidy CSV, one published figure per row, with the
columns

``id`` (unique), ``population``, ``statistic``, ``value``, ``unit``,
``qualifier``, ``derived``, ``formula``, ``source`` (the report), ``publisher``,
``year``, ``table_or_page``, ``url``, ``note``.

``qualifier`` records how the report states the figure: empty (as published),
``about`` or ``approaches`` (approximate), ``<`` or ``>`` (a bound, not an
estimate). ``derived`` rows are computed from published ones, and ``formula``
says how (e.g. a rate ``-ln(1 - p)`` from an annual probability ``p``).

Statistics used by the prior helpers:

* ``annual_probability`` (of at least one loss event a year) and
  ``annual_rate`` (events per year) -> :func:`benchmark_rate_prior`;
* ``median_loss_per_event`` with ``p90_loss_per_event``,
  ``p95_loss_per_event`` or ``p99_loss_per_event`` ->
  :func:`benchmark_severity_prior`.

Examples
--------
>>> from riskbudget import bayes
>>> table = bayes.read_benchmarks()
>>> row = bayes.benchmark_row("iris2020_f1000_probability", table)
>>> float(row["value"]), row["source"], int(row["year"])
(0.25, 'Information Risk Insights Study (IRIS 20/20)', 2020)
>>> prior = bayes.benchmark_rate_prior("iris2020_f1000_probability", effective_years=2, table=table)
>>> round(prior.mean(), 4)
0.2877
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .. import datasets
from ..distributions import Gamma
from ..exceptions import InvalidParameterError, RiskBudgetError
from .conjugate import SeverityPrior, rate_prior

__all__ = [
    "BENCHMARK_COLUMNS",
    "benchmarks_dir",
    "read_benchmarks",
    "benchmark_row",
    "benchmark_rate_prior",
    "benchmark_severity_prior",
]

BENCHMARK_COLUMNS: tuple[str, ...] = (
    "id",
    "population",
    "statistic",
    "value",
    "unit",
    "qualifier",
    "derived",
    "formula",
    "source",
    "publisher",
    "year",
    "table_or_page",
    "url",
    "note",
)
QUALIFIERS = ("", "about", "approaches", "<", ">")
BOUNDS = ("<", ">")
_QUANTILE_STATISTICS = {"p90_loss_per_event": 0.90, "p95_loss_per_event": 0.95, "p99_loss_per_event": 0.99}


class BenchmarkError(RiskBudgetError):
    """A benchmark file has a bad row, or a row does not fit the prior asked for."""


def benchmarks_dir() -> Path:
    """The folder of the bundled benchmark tables (package data; see :mod:`riskbudget.datasets`)."""
    return datasets.benchmarks_dir()


def read_benchmarks(path: str | os.PathLike[str] | None = None) -> Any:
    """Read benchmark CSVs (a file, a folder, or by default ``data/benchmarks/``).

    Returns
    -------
    pandas.DataFrame
        One row per published figure, indexed by ``id``, with a ``file``
        column naming the CSV it came from.

    Raises
    ------
    BenchmarkError
        Naming the file, line and column of a missing column, a duplicate id,
        a non-numeric value, an unknown qualifier or a missing citation.
    """
    import pandas as pd

    p = Path(path) if path is not None else benchmarks_dir()
    files = sorted(p.glob("*.csv")) if p.is_dir() else [p]
    if not files:
        raise BenchmarkError(f"read_benchmarks: no CSV files in {str(p)!r}")
    frames = []
    for f in files:
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        missing = [c for c in BENCHMARK_COLUMNS if c not in df.columns]
        if missing:
            raise BenchmarkError(f"{f.name}: missing column(s) {missing}; a benchmark file has {list(BENCHMARK_COLUMNS)}")
        rows = []
        for i, r in enumerate(df.to_dict("records")):
            line = i + 2
            where = f"{f.name}, line {line}"
            if not r["id"].strip():
                raise BenchmarkError(f"{where}, column id: missing id")
            try:
                value = float(r["value"])
            except ValueError:
                raise BenchmarkError(f"{where}, column value: {r['value']!r} is not a number") from None
            if not math.isfinite(value):
                raise BenchmarkError(f"{where}, column value: {r['value']!r} is not finite")
            q = r["qualifier"].strip()
            if q not in QUALIFIERS:
                raise BenchmarkError(f"{where}, column qualifier: {q!r} is not one of {list(QUALIFIERS)}")
            derived = r["derived"].strip().lower()
            if derived not in ("true", "false"):
                raise BenchmarkError(f"{where}, column derived: {r['derived']!r} must be true or false")
            if derived == "true" and not r["formula"].strip():
                raise BenchmarkError(f"{where}, column formula: a derived value must state its formula")
            for c in ("source", "publisher", "year", "table_or_page"):
                if not r[c].strip():
                    raise BenchmarkError(f"{where}, column {c}: missing; every figure must be cited")
            try:
                year = int(r["year"])
            except ValueError:
                raise BenchmarkError(f"{where}, column year: {r['year']!r} is not a year") from None
            rows.append({**r, "value": value, "qualifier": q, "derived": derived == "true", "year": year, "file": f.name})
        frames.append(pd.DataFrame(rows, columns=list(BENCHMARK_COLUMNS) + ["file"]))
    table = pd.concat(frames, ignore_index=True)
    dup = table["id"][table["id"].duplicated()].tolist()
    if dup:
        raise BenchmarkError(f"read_benchmarks: id {dup[0]!r} appears more than once")
    return table.set_index("id")


def benchmark_row(benchmark_id: str, table: Any = None) -> Any:
    """One benchmark row (a pandas Series) by id."""
    table = read_benchmarks() if table is None else table
    if benchmark_id not in table.index:
        close = [i for i in table.index if benchmark_id.split("_")[0] in i][:8]
        raise BenchmarkError(
            f"no benchmark with id {benchmark_id!r}; e.g. {close or list(table.index[:8])} (see read_benchmarks())"
        )
    return table.loc[benchmark_id]


def _usable(row: Any, benchmark_id: str, allow_bound: bool) -> None:
    if row["qualifier"] in BOUNDS and not allow_bound:
        raise BenchmarkError(
            f"benchmark {benchmark_id!r} is a bound ({row['qualifier']} {row['value']:g}), not an estimate; "
            f"a prior centred on it would be biased. Pass allow_bound=True to use it anyway"
        )


def benchmark_rate_prior(
    benchmark_id: str,
    *,
    effective_years: float,
    scale: float = 1.0,
    table: Any = None,
    allow_bound: bool = False,
) -> Gamma:
    """A Gamma prior on an event rate from a frequency benchmark row.

    Parameters
    ----------
    benchmark_id : str
        A row with statistic ``annual_probability`` (converted to the rate
        ``-ln(1 - p)``) or ``annual_rate``.
    effective_years : float
        How many years of your own data the benchmark is worth.
    scale : float, default 1
        Multiply the benchmark rate, e.g. for a narrower event definition
        or a share of the business.
    allow_bound : bool, default False
        Accept a row that states a bound (``<``, ``>``).

    Returns
    -------
    Gamma
    """
    row = benchmark_row(benchmark_id, table)
    _usable(row, benchmark_id, allow_bound)
    stat = row["statistic"]
    if stat == "annual_probability":
        base = rate_prior(probability=float(row["value"]), effective_years=1.0).mean()
    elif stat == "annual_rate":
        base = float(row["value"])
    else:
        raise BenchmarkError(
            f"benchmark {benchmark_id!r} states {stat}; a rate prior needs annual_probability or annual_rate"
        )
    s = float(scale)
    if not math.isfinite(s) or s <= 0:
        raise InvalidParameterError(f"benchmark_rate_prior: scale ({scale!r}) must be a finite number > 0")
    return rate_prior(rate=base * s, effective_years=effective_years)


def benchmark_severity_prior(
    median: str,
    upper: str,
    *,
    kappa: float = 1.0,
    nu: float = 4.0,
    table: Any = None,
    allow_bound: bool = False,
) -> SeverityPrior:
    """A lognormal-severity prior from a median row and an upper-quantile row.

    ``mu0 = ln(median)`` and ``sigma0 = (ln(upper) - ln(median)) / z_q``,
    where ``q`` is the upper row's quantile (0.90, 0.95 or 0.99) and ``z_q``
    the standard normal quantile.

    Raises
    ------
    BenchmarkError
        If the rows have the wrong statistics or contradict each other (the
        upper quantile does not exceed the median).
    """
    from scipy import special

    med_row = benchmark_row(median, table)
    up_row = benchmark_row(upper, table)
    for bid, row in ((median, med_row), (upper, up_row)):
        _usable(row, bid, allow_bound)
    if med_row["statistic"] != "median_loss_per_event":
        raise BenchmarkError(f"benchmark {median!r} states {med_row['statistic']}, not median_loss_per_event")
    q = _QUANTILE_STATISTICS.get(up_row["statistic"])
    if q is None:
        raise BenchmarkError(
            f"benchmark {upper!r} states {up_row['statistic']}; the upper row must be one of {list(_QUANTILE_STATISTICS)}"
        )
    m, u = float(med_row["value"]), float(up_row["value"])
    if m <= 0:
        raise BenchmarkError(f"benchmark {median!r}: the median loss ({m:g}) must be > 0")
    if u <= m:
        raise BenchmarkError(
            f"benchmarks {median!r} and {upper!r} contradict each other: the {int(q * 100)}th percentile "
            f"({u:g}) must exceed the median ({m:g})"
        )
    sigma = (math.log(u) - math.log(m)) / float(special.ndtri(q))
    return SeverityPrior(math.log(m), sigma, kappa, nu)
