"""Build riskbudget's sdist and wheel, install the wheel away from the checkout, and use it.

``make test-wheel`` (part of ``make test``) runs this with ``.venv``'s Python. It proves that a
new user who installs the wheel gets a working package: the data ship inside it, and nothing
reads files from the source tree.

1. The build requirements of ``pyproject.toml`` and the ``build`` frontend are pip-installed into
   a temporary folder (PyPI only; ``.venv`` is not changed).
2. ``python -m build --no-isolation`` builds the sdist from the checkout, then the wheel from the
   unpacked sdist, so the sdist is proven to build. Both archives are inspected: the data are real
   files equal to ``data/`` (no symbolic links), the sdist holds everything the tests need.
3. The wheel is installed into a throwaway venv created ``--without-pip``. Only then a ``.pth``
   file adds ``.venv``'s site-packages for the dependencies (no second 1 GB install). Python does
   not process ``.pth`` files in a directory added that way, so the editable install's
   ``__editable__.riskbudget-*.pth`` (which puts ``src/`` on ``sys.path``) has no effect.
4. From a temporary directory, the throwaway interpreter runs this file with ``--installed``: it
   asserts that ``riskbudget`` is imported from the throwaway venv, loads every bundled file,
   runs every README example (extracted by ``tests/test_readme.py``), the command line on the
   bundled example and a benchmark prior.

Everything is removed at the end. Usage: ``python scripts/check_wheel.py [--keep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import io
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the sdist must hold to build the wheel and run ``make test``.
SDIST_FOLDERS = ("data", "tests", "notebooks", "docs", "scripts", "benchmarks", "requirements", "src")
SDIST_FILES = ("pyproject.toml", "README.md", "LICENSE", "Makefile", "MANIFEST.in")


def log(message: str, start: float) -> None:
    print(f"[{time.time() - start:5.1f} s] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, text=True, capture_output=True, **kwargs)
    if out.returncode != 0:
        sys.exit(f"check_wheel: {' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def data_files() -> dict[str, bytes]:
    """Every file of data/ that ships, keyed by its path under data/."""
    files = {"README.md": (ROOT / "data" / "README.md").read_bytes()}
    for folder in ("example", "benchmarks"):
        for f in sorted((ROOT / "data" / folder).iterdir()):
            if f.is_file() and not f.name.startswith("."):
                files[f"{folder}/{f.name}"] = f.read_bytes()
    return files


def tracked(folders: tuple[str, ...]) -> list[str]:
    """Files git tracks under ``folders`` (empty outside a git checkout)."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return []
    out = run(["git", "-C", str(ROOT), "ls-files", "--", *folders])
    return [f for f in out.stdout.splitlines() if (ROOT / f).exists()]


def check_wheel_archive(wheel: Path, version: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        infos = {i.filename: i for i in z.infolist()}
        for name, info in infos.items():
            assert stat.S_ISLNK(info.external_attr >> 16) is False, f"{wheel.name}: {name} is a symbolic link"
        for rel, content in data_files().items():
            name = f"riskbudget/_data/{rel}"
            assert name in infos, f"{wheel.name} lacks {name}"
            assert z.read(name) == content, f"{wheel.name}: {name} differs from data/{rel}"
        for name in ("riskbudget/py.typed", "riskbudget/templates/report.html", "riskbudget/_version.py",
                     "riskbudget/datasets.py", f"riskbudget-{version}.dist-info/licenses/LICENSE"):
            assert name in infos, f"{wheel.name} lacks {name}"
        metadata = z.read(f"riskbudget-{version}.dist-info/METADATA").decode()
        assert "License-Expression: MIT" in metadata and f"Version: {version}\n" in metadata, metadata[:800]
        assert "example.invalid" not in metadata
        return len(infos)


def check_sdist_archive(sdist: Path, version: str) -> int:
    top = f"riskbudget-{version}"
    with tarfile.open(sdist) as t:
        members = {m.name.removeprefix(f"{top}/"): m for m in t.getmembers()}
    links = [n for n, m in members.items() if m.issym() or m.islnk()]
    assert not links, f"{sdist.name} holds links: {links}"
    files = {n for n, m in members.items() if m.isfile()}
    for name in SDIST_FILES:
        assert name in files, f"{sdist.name} lacks {name}"
    for rel in data_files():
        assert f"data/{rel}" in files and f"src/riskbudget/_data/{rel}" in files, f"{sdist.name} lacks data/{rel}"
    missing = [f for f in tracked(SDIST_FOLDERS) if f not in files and not f.startswith("src/riskbudget/_data")]
    assert not missing, f"{sdist.name} lacks tracked files: {missing}"
    return len(files)


def build(tmp: Path, start: float) -> tuple[Path, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tools = tmp / "tools"
    run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--target", str(tools),
         *config["build-system"]["requires"], "build"])
    log(f"build tools installed: {', '.join(config['build-system']['requires'])}, build", start)
    dist = tmp / "dist"
    env = {**os.environ, "PYTHONPATH": str(tools)}
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)], env=env, cwd=tmp)
    (sdist,) = dist.glob("riskbudget-*.tar.gz")
    (wheel,) = dist.glob("riskbudget-*.whl")
    log(f"built {sdist.name}, then {wheel.name} from the unpacked sdist", start)
    return sdist, wheel


def site_listing(site: Path) -> dict[str, float]:
    """riskbudget's entries in a site-packages folder (the editable install's .pth and dist-info)."""
    return {p.name: p.stat().st_mtime for p in site.iterdir() if "riskbudget" in p.name}


def throwaway_venv(tmp: Path, wheel: Path, start: float) -> Path:
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # install into the bare venv first: pip sees nothing of .venv, so it can neither reuse nor
    # uninstall the editable riskbudget there
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check", "-q",
         "--no-deps", "--no-index", str(wheel)])
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_riskbudget_dependencies.pth").write_text("".join(f"{d}\n" for d in deps), encoding="utf-8")
    log(f"installed the wheel into a throwaway venv ({venv}); dependencies from {', '.join(deps)}", start)
    return venv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--installed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.installed:
        installed_checks()
        return

    start = time.time()
    version = _version()
    ours = Path(sysconfig.get_paths()["purelib"])
    before = site_listing(ours)
    tmp = Path(tempfile.mkdtemp(prefix="riskbudget-wheel-"))
    try:
        sdist, wheel = build(tmp, start)
        n_wheel = check_wheel_archive(wheel, version)
        n_sdist = check_sdist_archive(sdist, version)
        log(f"wheel: {n_wheel} files, data as real files equal to data/; sdist: {n_sdist} files, no links", start)
        venv = throwaway_venv(tmp, wheel, start)
        work = tmp / "work"
        (work / "tmp").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(PYTHONNOUSERSITE="1", TMPDIR=str(work / "tmp"), CHECK_WHEEL_CHECKOUT=str(ROOT),
                   CHECK_WHEEL_START=str(start),
                   PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
        # -P: the script's folder (scripts/ of the checkout) is not put on sys.path
        proc = subprocess.run([str(venv / "bin" / "python"), "-P", str(Path(__file__).resolve()), "--installed"],
                              cwd=work, env=env)
        if proc.returncode != 0:
            sys.exit(f"check_wheel: the installed wheel failed its checks (exit {proc.returncode})")
        assert before and site_listing(ours) == before, f"{ours}: the editable install must stay as it was"
        log("OK: the wheel works away from the checkout; .venv is unchanged", start)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "src" / "riskbudget" / "_version.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


# -- run by the throwaway venv's Python, from a temporary directory -------------------------- #


def installed_checks() -> None:
    start = float(os.environ["CHECK_WHEEL_START"])
    checkout = Path(os.environ["CHECK_WHEEL_CHECKOUT"])
    venv = Path(sys.prefix)

    import riskbudget as rb
    from riskbudget import bayes, datasets

    where = Path(rb.__file__).resolve()
    assert where.is_relative_to(venv), f"riskbudget imported from {where}, not from the throwaway venv {venv}"
    assert not where.is_relative_to(checkout), f"riskbudget imported from the checkout: {where}"
    assert str(checkout / "src") not in sys.path and Path.cwd() != checkout, sys.path
    dist = importlib.metadata.distribution("riskbudget")
    assert Path(str(dist.locate_file(""))).resolve().is_relative_to(venv), dist.locate_file("")
    assert dist.version == rb.__version__, (dist.version, rb.__version__)
    log(f"riskbudget {rb.__version__} imported from {where.parent}", start)

    names = datasets.list_examples()
    paths = {name: datasets.example_path(name) for name in names}
    for path in paths.values():
        assert path.is_file() and path.resolve().is_relative_to(venv), path
        assert rb.io.example_path(path.name) == path
    datasets.load_register(), datasets.load_controls(), datasets.load_projects()
    datasets.load_appetite(), datasets.load_incidents()
    tables = {name: len(datasets.benchmark_table(name)) for name in datasets.list_benchmarks()}
    log(f"datasets: {len(names)} example files and {len(tables)} benchmark tables ({sum(tables.values())} rows)", start)

    prior = bayes.benchmark_rate_prior("iris2020_f1000_probability", effective_years=2)
    assert abs(prior.mean() - 0.2877) < 1e-4, prior
    assert bayes.priors.benchmarks_dir().resolve().is_relative_to(venv)
    log(f"benchmark prior: {prior} (mean {prior.mean():.4f})", start)

    spec = importlib.util.spec_from_file_location("readme_blocks", checkout / "tests" / "test_readme.py")
    assert spec is not None and spec.loader is not None
    readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme)
    blocks = readme.python_blocks()
    assert blocks, "no python blocks in README.md"
    for index, code in enumerate(blocks):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
        assert printed.getvalue().strip(), f"README.md block {index} printed nothing"
        log(f"README python block {index} ran", start)

    cli = Path(sys.prefix) / "bin" / "riskbudget"
    assert cli.read_text().splitlines()[0] == f"#!{sys.executable}", cli.read_text().splitlines()[0]
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version == f"riskbudget {rb.__version__}", version
    report = Path.cwd() / "report.html"
    example = {k.split(".")[0]: str(v) for k, v in paths.items()}
    commands = [
        ["simulate", example["register"], "--years", "2000", "--seed", "7"],
        ["report", example["register"], "--appetite", example["appetite"], "--controls", example["controls"],
         "--out", str(report), "--years", "2000", "--seed", "7"],
        ["optimize", "--register", example["register"], "--controls", example["controls"],
         "--projects", example["projects"], "--budget", "6e6", "--years", "2000", "--seed", "7"],
    ]
    for command in commands:
        out = subprocess.run([str(cli), *command], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip(), f"riskbudget {command[0]} failed:\n{out.stdout}\n{out.stderr}"
        log(f"riskbudget {command[0]} ran", start)
    assert report.stat().st_size > 10_000, report


if __name__ == "__main__":
    main()
