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

import atexit
import difflib
import tempfile
from contextlib import ExitStack
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from .appetite import Appetite, read_appetite
from .controls import Control, Project, read_controls, read_projects
from .exceptions import RiskBudgetError
from .fair import Register
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
    "load_incidents",
    "benchmark_path",
    "benchmark_table",
    "benchmarks_dir",
    "list_benchmarks",
    "describe",
]

_DATA = "_data"  # the package-data folder (a link to the top-level data/ in a checkout)
_EXAMPLE = "example"
_BENCHMARKS = "benchmarks"
_README = "README.md"


class DatasetError(RiskBudgetError, LookupError):
    """A bundled file or table that does not exist; the message lists those that do."""


# -- where the files are ------------------------------------------------------ #

#: Copies made when the package is imported from a zip file; removed at exit.
_extracted = ExitStack()
atexit.register(_extracted.close)
_extracted_root: list[Path] = []


def _data_root() -> Path:
    """The package-data folder as a real directory.

    Installed as files (a wheel, an editable install, a checkout), this is the
    folder itself. Imported from a zip file, the folder is copied once into a
    temporary directory that lives until the interpreter exits. (The copy keeps
    the file names; ``importlib.resources.as_file`` renames files and only
    handles folders from Python 3.12.)
    """
    root = resources.files("riskbudget") / _DATA
    if not root.is_dir():
        raise DatasetError(
            f"the bundled data folder {str(root)!r} is missing, so the example and the benchmark "
            "tables cannot be read; reinstall riskbudget (in a git checkout, data/ must exist and "
            "src/riskbudget/_data must be a symbolic link to it: git config core.symlinks true)"
        )
    if isinstance(root, Path):
        return root
    if not _extracted_root:
        target = Path(_extracted.enter_context(tempfile.TemporaryDirectory(prefix="riskbudget-data-")))
        _copy_tree(root, target)
        _extracted_root.append(target)
    return _extracted_root[0]


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for child in source.iterdir():
        if child.is_dir():
            _copy_tree(child, target / child.name)
        else:
            (target / child.name).write_bytes(child.read_bytes())


def _files(folder: str, suffix: str = "") -> tuple[str, ...]:
    where = _data_root() / folder
    if not where.is_dir():
        raise DatasetError(f"the bundled data folder {str(where)!r} is missing; reinstall riskbudget")
    return tuple(
        sorted(p.name for p in where.iterdir() if p.is_file() and not p.name.startswith(".") and p.name.endswith(suffix))
    )


def _unknown(kind: str, name: str, known: tuple[str, ...], fix: str) -> DatasetError:
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DatasetError(f"no {kind} named {name!r}; the bundled ones are {list(known)}.{hint} {fix}")


# -- the example ---------------------------------------------------------------- #


def list_examples() -> tuple[str, ...]:
    """The file names of the bundled example, sorted.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> {"register.csv", "controls.csv", "projects.csv", "appetite.yaml", "incidents.csv"} <= set(datasets.list_examples())
    True
    """
    return _files(_EXAMPLE)


def example_path(name: str = "register.csv") -> Path:
    """The path on disk of a file of the bundled example.

    A real file that every reader and the command line accept, wherever
    riskbudget is installed.

    Parameters
    ----------
    name : str, default "register.csv"
        A file name from :func:`list_examples`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DatasetError
        For a name that is not in the example; the message lists those that are.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> path = datasets.example_path("controls.csv")
    >>> path.name, path.is_file()
    ('controls.csv', True)
    >>> datasets.example_path("register")
    Traceback (most recent call last):
    ...
    riskbudget.datasets.DatasetError: no example file named 'register'; ... Did you mean 'register.csv'? ...
    """
    known = list_examples()
    if name not in known:
        raise _unknown("example file", name, known, "See riskbudget.datasets.list_examples().")
    return _data_root() / _EXAMPLE / name


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


def list_benchmarks() -> tuple[str, ...]:
    """The names of the bundled benchmark tables, sorted.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> "loss_magnitude" in datasets.list_benchmarks()
    True
    """
    return tuple(name.removesuffix(".csv") for name in _files(_BENCHMARKS, ".csv"))


def benchmarks_dir() -> Path:
    """The folder of the bundled benchmark tables on disk (what :func:`riskbudget.bayes.read_benchmarks` reads)."""
    list_benchmarks()  # raises DatasetError if the folder is missing
    return _data_root() / _BENCHMARKS


def benchmark_path(name: str) -> Path:
    """The path on disk of a benchmark table (a name from :func:`list_benchmarks`, with or without ``.csv``)."""
    known = list_benchmarks()
    stem = name.removesuffix(".csv")
    if stem not in known:
        raise _unknown("benchmark table", name, known, "See riskbudget.datasets.list_benchmarks().")
    return benchmarks_dir() / f"{stem}.csv"


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
    return (_data_root() / _README).read_text(encoding="utf-8")
