"""Where the bundled data live on disk: the example's files and the benchmark tables.

The one place that finds the package-data folder (``riskbudget/_data``, a link
to the top-level ``data/`` in a checkout). It imports nothing of riskbudget
but :mod:`~riskbudget.exceptions`, so both :mod:`riskbudget.io` (whose
``example_path`` is the older name of :func:`example_path`) and
:mod:`riskbudget.datasets` (which re-exports these functions next to its
loaders) can use it without importing each other.

The files are read through :mod:`importlib.resources`, so the same calls work
from a source checkout, an editable install, an installed wheel and a zip
file (whose data folder is copied once into a temporary directory).
"""

from __future__ import annotations

import atexit
import difflib
import tempfile
from contextlib import ExitStack
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .exceptions import DatasetError

__all__ = [
    "DATA",
    "EXAMPLE",
    "BENCHMARKS",
    "README",
    "data_root",
    "example_path",
    "list_examples",
    "benchmark_path",
    "list_benchmarks",
    "benchmarks_dir",
]

#: The package-data folder (a link to the top-level data/ in a checkout).
DATA = "_data"
#: Its folder of the bundled example.
EXAMPLE = "example"
#: Its folder of the benchmark tables.
BENCHMARKS = "benchmarks"
#: Its README, describing every file and the source of every figure.
README = "README.md"

#: Copies made when the package is imported from a zip file; removed at exit.
_extracted = ExitStack()
atexit.register(_extracted.close)
_extracted_root: list[Path] = []


def data_root() -> Path:
    """The package-data folder as a real directory.

    Installed as files (a wheel, an editable install, a checkout), this is the
    folder itself. Imported from a zip file, the folder is copied once into a
    temporary directory that lives until the interpreter exits. (The copy keeps
    the file names; ``importlib.resources.as_file`` renames files and only
    handles folders from Python 3.12.)
    """
    root = resources.files("riskbudget") / DATA
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


def _listing(folder: str, suffix: str = "") -> tuple[str, ...]:
    where = data_root() / folder
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
    return _listing(EXAMPLE)


def example_path(name: str = "register.csv") -> Path:
    """The path on disk of a file of the bundled example.

    A real file that every reader and the command line accept, wherever
    riskbudget is installed. ``riskbudget.io.example_path`` is the same
    function under its older name.

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
    riskbudget.exceptions.DatasetError: no example file named 'register'; ... Did you mean 'register.csv'? ...
    """
    known = list_examples()
    if name not in known:
        raise _unknown("example file", name, known, "See riskbudget.datasets.list_examples().")
    return data_root() / EXAMPLE / name


# -- the benchmark tables --------------------------------------------------------- #


def list_benchmarks() -> tuple[str, ...]:
    """The names of the bundled benchmark tables, sorted.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> "loss_magnitude" in datasets.list_benchmarks()
    True
    """
    return tuple(name.removesuffix(".csv") for name in _listing(BENCHMARKS, ".csv"))


def benchmarks_dir() -> Path:
    """The folder of the bundled benchmark tables on disk (what :func:`riskbudget.bayes.read_benchmarks` reads)."""
    list_benchmarks()  # raises DatasetError if the folder is missing
    return data_root() / BENCHMARKS


def benchmark_path(name: str) -> Path:
    """The path on disk of a benchmark table (a name from :func:`list_benchmarks`, with or without ``.csv``)."""
    known = list_benchmarks()
    stem = name.removesuffix(".csv")
    if stem not in known:
        raise _unknown("benchmark table", name, known, "See riskbudget.datasets.list_benchmarks().")
    return benchmarks_dir() / f"{stem}.csv"
