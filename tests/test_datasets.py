"""riskbudget.datasets: the bundled example and benchmark tables, read as package data."""

from __future__ import annotations

import importlib.metadata
import math
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import riskbudget as rb
from riskbudget import bayes, datasets
from riskbudget.bayes.priors import BENCHMARK_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REQUIRED_EXAMPLES = ("register.csv", "controls.csv", "projects.csv", "appetite.yaml", "incidents.csv")


def test_the_example_and_the_benchmarks_are_listed():
    assert set(REQUIRED_EXAMPLES) <= set(datasets.list_examples())
    assert list(datasets.list_examples()) == sorted(datasets.list_examples())
    assert {"loss_event_frequency", "loss_magnitude", "security_budget"} <= set(datasets.list_benchmarks())


@pytest.mark.parametrize("name", datasets.list_examples())
def test_every_example_file_has_a_real_path(name):
    path = datasets.example_path(name)
    assert isinstance(path, Path) and path.is_file() and path.name == name
    assert rb.io.example_path(name) == path  # the old name is an alias
    assert path.read_bytes()


def test_the_packaged_files_are_the_checkout_data_folder():
    # data/ is the single source: every file in it is shipped, byte for byte, and nothing else
    for folder, listed in (("example", datasets.list_examples()),
                           ("benchmarks", [f"{n}.csv" for n in datasets.list_benchmarks()])):
        on_disk = sorted(p.name for p in (DATA / folder).iterdir() if p.is_file() and not p.name.startswith("."))
        if folder == "benchmarks":
            on_disk = [n for n in on_disk if n.endswith(".csv")]
        assert list(listed) == on_disk, folder
    for name in datasets.list_examples():
        assert datasets.example_path(name).read_bytes() == (DATA / "example" / name).read_bytes()
    for name in datasets.list_benchmarks():
        assert datasets.benchmark_path(name).read_bytes() == (DATA / "benchmarks" / f"{name}.csv").read_bytes()
    assert datasets.describe() == (DATA / "README.md").read_text(encoding="utf-8")


def test_the_package_data_folder_links_to_data():
    link = ROOT / "src" / "riskbudget" / "_data"
    if not link.is_symlink():
        pytest.skip("not a git checkout: an unpacked sdist holds a copy of data/")
    assert link.resolve() == DATA.resolve()


def test_loaders_return_library_objects():
    register = datasets.load_register()
    assert isinstance(register, rb.Register) and len(register) == 16
    assert register == rb.read_register(DATA / "example" / "register.csv")

    controls = datasets.load_controls()
    assert isinstance(controls, tuple) and len(controls) == 15
    assert all(isinstance(c, rb.Control) for c in controls)
    projects = datasets.load_projects()
    assert isinstance(projects, tuple) and len(projects) == 8
    assert all(isinstance(p, rb.Project) for p in projects)

    appetite = datasets.load_appetite()
    assert isinstance(appetite, rb.Appetite) and appetite.tolerance is not None

    insurance = datasets.load_insurance()
    assert len(insurance) == 4 and all(isinstance(p, rb.Insurance) for p in insurance)
    assert insurance == rb.read_insurance(DATA / "example" / "insurance.csv")

    incidents = datasets.load_incidents()
    assert isinstance(incidents, pd.DataFrame) and len(incidents) == 45
    assert list(incidents.columns) == ["id", "date", "unit", "category", "loss"]
    assert pd.api.types.is_datetime64_any_dtype(incidents["date"])
    window = {"threshold": 10_000, "start": "2019-07-01", "end": "2024-12-31"}
    from_table = bayes.read_incidents(incidents, **window)
    from_file = bayes.read_incidents(DATA / "example" / "incidents.csv", **window)
    assert from_table.frame.equals(from_file.frame)
    assert from_table.observed_years() == from_file.observed_years()


@pytest.mark.parametrize("name", datasets.list_benchmarks())
def test_every_benchmark_table_loads_with_its_citations(name):
    table = datasets.benchmark_table(name)
    assert isinstance(table, pd.DataFrame) and len(table) > 0
    assert table.index.name == "id" and table.index.is_unique
    assert list(table.columns) == [c for c in BENCHMARK_COLUMNS if c != "id"]
    assert table["value"].dtype == float and table["derived"].dtype == bool
    assert (table["source"].str.strip() != "").all() and (table["publisher"].str.strip() != "").all()
    assert datasets.benchmark_table(f"{name}.csv").equals(table)
    assert f"{name}.csv" in datasets.describe()  # cited in the data's README
    validated = bayes.read_benchmarks()
    assert (validated.loc[table.index, "value"] == table["value"]).all()


def test_bayes_reads_the_benchmarks_through_datasets():
    assert bayes.priors.benchmarks_dir() == datasets.benchmarks_dir()
    files = set(bayes.read_benchmarks()["file"])
    assert files == {f"{n}.csv" for n in datasets.list_benchmarks()}
    prior = bayes.benchmark_rate_prior("iris2020_f1000_probability", effective_years=2)
    assert prior.mean() == pytest.approx(-math.log(1 - 0.25))  # IRIS 20/20: 1 in 4 a year, as a rate


@pytest.mark.parametrize(
    "call, name, listed",
    [
        (datasets.example_path, "register", "register.csv"),
        (datasets.example_path, "../benchmarks/loss_magnitude.csv", "register.csv"),
        (rb.io.example_path, "registers.csv", "register.csv"),
        (datasets.benchmark_table, "loss_magnitudes", "loss_magnitude"),
        (datasets.benchmark_path, "iris", "security_budget"),
    ],
)
def test_unknown_names_list_what_exists(call, name, listed):
    with pytest.raises(datasets.DatasetError, match=r"no (example file|benchmark table) named .*the bundled ones are") as err:
        call(name)
    assert isinstance(err.value, rb.RiskBudgetError) and isinstance(err.value, LookupError)
    assert repr(listed) in str(err.value)


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(datasets.DatasetError, match=r"Did you mean 'register\.csv'\?"):
        datasets.example_path("register")


def test_docstring_examples_run():
    import doctest

    from riskbudget import _package_data  # the path functions datasets re-exports, with their examples

    assert datasets.example_path is _package_data.example_path is rb.io.example_path
    for module, least in ((datasets, 10), (_package_data, 5)):
        outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert outcome.attempted > least and outcome.failed == 0, module.__name__


def test_importing_datasets_stays_light():
    code = (
        "import sys, riskbudget; lazy = 'riskbudget.datasets' not in sys.modules; "
        "import riskbudget.datasets; "
        "heavy = [m for m in ('pandas', 'pymc', 'arviz', 'matplotlib', 'scipy.stats') if m in sys.modules]; "
        "print(lazy, ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]
    assert rb.datasets is datasets


def _zip_package(archive: Path, *, with_data: bool) -> Path:
    package = ROOT / "src" / "riskbudget"
    with zipfile.ZipFile(archive, "w") as z:
        for folder, _dirs, files in os.walk(package, followlinks=True):  # into the _data link
            for name in files:
                f = Path(folder, name)
                if "__pycache__" not in f.parts and (with_data or "_data" not in f.relative_to(package).parts):
                    z.write(f, Path("riskbudget") / f.relative_to(package))
    return archive


def _run_from_zip(archive: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=archive.parent,
                          env={"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin"})


def test_a_zipped_package_extracts_real_files(tmp_path):
    # a zip import has no files on disk: the paths must still be real files with their own names
    archive = _zip_package(tmp_path / "riskbudget.zip", with_data=True)
    code = (
        "import riskbudget, riskbudget.datasets as d; from riskbudget import bayes; "
        f"assert riskbudget.__file__.startswith({str(archive)!r}), riskbudget.__file__; "
        "p = d.example_path('register.csv'); assert p.is_file() and p.name == 'register.csv', p; "
        "assert '.zip' not in str(p); "
        "assert len(d.load_register()) == 16 and len(d.load_controls()) == 15; "
        "assert d.example_path('register.csv') == p; "
        "print(len(bayes.read_benchmarks()), p.parent.parent == bayes.priors.benchmarks_dir().parent)"
    )
    out = _run_from_zip(archive, code)
    assert out.returncode == 0, out.stderr
    n, same_root = out.stdout.split()
    assert int(n) == len(bayes.read_benchmarks()) and same_root == "True"


def test_missing_package_data_is_a_clear_error(tmp_path):
    archive = _zip_package(tmp_path / "riskbudget.zip", with_data=False)
    out = _run_from_zip(archive, "import riskbudget; riskbudget.io.example_path('register.csv')")
    assert "DatasetError: the bundled data folder" in out.stderr
    assert "is missing" in out.stderr and "reinstall riskbudget" in out.stderr


def test_the_version_is_defined_once():
    from riskbudget import _version

    assert rb.__version__ == _version.__version__
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "riskbudget._version.__version__"}
    assert importlib.metadata.version("riskbudget") == rb.__version__  # reinstall after a bump
    out = subprocess.run([sys.executable, "-m", "riskbudget", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"riskbudget {rb.__version__}"
