"""The data that ship with riskbudget: the bundled example and the cited industry benchmarks.

In the spirit of scikit-learn's and statsmodels' ``datasets``:

* **The example** is Meridian Freight, a fictional mid-size logistics company: its
  risk register, security controls, IT projects, risk appetite and a synthetic
  incident history. :func:`example_path` gives a file's path on disk, for any
  reader and for the command line; :func:`list_examples` names the files;
  :func:`load_register`, :func:`load_controls`, :func:`load_projects`,
  :func:`load_appetite` and :func:`load_incidents` read them.
* **The benchmark tables** hold published industry figures, one per row with its
  citation (report, publisher, year, section). :mod:`riskbudget.bayes` turns them
  into priors. :func:`benchmark_table` reads one table and :func:`list_benchmarks`
  names them.
* :func:`describe` returns the data's README: what each file holds and where each
  figure comes from.

The files are package data read through :mod:`importlib.resources`, so the same
calls work from a source checkout, an editable install and an installed wheel. In
the source tree they live in the top-level ``data/`` folder, the one copy to edit;
``src/riskbudget/_data`` is a symbolic link to it, and builds store real files.
Finding them is the job of the private :mod:`riskbudget._package_data` (which
:mod:`riskbudget.io` shares for its older ``io.example_path``); this module
re-exports its functions and adds the loaders. :class:`DatasetError` lives in
:mod:`riskbudget.exceptions` and is importable from here.

Examples
--------
>>> from riskbudget import datasets
>>> "register.csv" in datasets.list_examples()
True
>>> register = datasets.load_register()
>>> len(register)
16
>>> import riskbudget as rb
>>> rb.read_register(datasets.example_path("register.csv")) == register
True
>>> table = datasets.benchmark_table("loss_event_frequency")
>>> float(table.loc["iris2020_f1000_probability", "value"])
0.25
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._package_data import (
    README,
    benchmark_path,
    benchmarks_dir,
    data_root,
    example_path,
    list_benchmarks,
    list_examples,
)
from .appetite import Appetite, read_appetite
from .controls import Control, Project, read_controls, read_projects
from .exceptions import DatasetError
from .fair import Register
from .insurance import Insurance, read_insurance
from .io import read_register

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DatasetError",
    "example_path",
    "list_examples",
    "load_register",
    "load_controls",
    "load_projects",
    "load_appetite",
    "load_insurance",
    "load_incidents",
    "benchmark_path",
    "benchmark_table",
    "benchmarks_dir",
    "list_benchmarks",
    "describe",
]

# -- the example ---------------------------------------------------------------- #


def load_register() -> Register:
    """The example's risk register: 16 scenarios of a fictional logistics company.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> register = datasets.load_register()
    >>> register[0].name
    'Ransomware on ERP and warehouse systems'
    """
    return read_register(example_path("register.csv"))


def load_controls() -> tuple[Control, ...]:
    """The example's candidate security controls (see :func:`riskbudget.read_controls`).

    Examples
    --------
    >>> from riskbudget import datasets
    >>> len(datasets.load_controls())
    15
    """
    return read_controls(example_path("controls.csv"))


def load_projects() -> tuple[Project, ...]:
    """The example's candidate IT projects (see :func:`riskbudget.read_projects`).

    Examples
    --------
    >>> from riskbudget import datasets
    >>> len(datasets.load_projects())
    8
    """
    return read_projects(example_path("projects.csv"))


def load_appetite() -> Appetite:
    """The example board's risk appetite: a tolerance curve and limits (needs PyYAML).

    Examples
    --------
    >>> from riskbudget import datasets
    >>> datasets.load_appetite().tolerance is not None
    True
    """
    return read_appetite(example_path("appetite.yaml"))


def load_insurance() -> tuple[Insurance, ...]:
    """The example's insurance options: two alternative primary layers, an excess layer, a ransomware layer.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> [p.basis for p in datasets.load_insurance()]
    ['annual', 'annual', 'annual', 'per_event']
    """
    return read_insurance(example_path("insurance.csv"))


def load_incidents() -> pd.DataFrame:
    """The example's synthetic incident history, one row per incident.

    Columns ``id``, ``date`` (datetime), ``unit``, ``category`` and ``loss``
    (USD). Pass the table to :func:`riskbudget.bayes.read_incidents` with the
    record's reporting threshold and window: ``threshold=10_000,
    start="2019-07-01", end="2024-12-31"`` (``describe()`` gives the exposure
    per year and how the file was generated).

    Examples
    --------
    >>> from riskbudget import bayes, datasets
    >>> incidents = datasets.load_incidents()
    >>> len(incidents), str(incidents["date"].min().date())
    (45, '2019-12-12')
    >>> data = bayes.read_incidents(incidents, threshold=10_000, start="2019-07-01", end="2024-12-31")
    >>> round(data.observed_years(), 3)
    5.504
    """
    import pandas as pd

    return pd.read_csv(example_path("incidents.csv"), parse_dates=["date"])


# -- the benchmark tables --------------------------------------------------------- #


def benchmark_table(name: str) -> pd.DataFrame:
    """One benchmark table as published in its file, indexed by ``id``.

    Each row is one figure with its citation: ``population``, ``statistic``,
    ``value`` (float), ``unit``, ``qualifier``, ``derived`` (bool), ``formula``,
    ``source``, ``publisher``, ``year`` (int), ``table_or_page``, ``url``,
    ``note``. :func:`riskbudget.bayes.read_benchmarks` validates and combines
    all the tables; :func:`riskbudget.bayes.benchmark_rate_prior` and
    :func:`~riskbudget.bayes.benchmark_severity_prior` turn rows into priors.

    Parameters
    ----------
    name : str
        A name from :func:`list_benchmarks` (``.csv`` may be added).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DatasetError
        For an unknown name; the message lists the bundled tables.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> row = datasets.benchmark_table("loss_magnitude").loc["iris2020_median_loss"]
    >>> float(row["value"]), row["publisher"], int(row["year"])
    (200000.0, 'Cyentia Institute', 2020)
    """
    import pandas as pd

    path = benchmark_path(name)
    return pd.read_csv(path, keep_default_na=False, dtype={"value": float}, index_col="id")


def describe() -> str:
    """The README of the bundled data: what each file holds and the source of every figure.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> datasets.describe().splitlines()[0]
    '# Data bundled with riskbudget'
    """
    return (data_root() / README).read_text(encoding="utf-8")
