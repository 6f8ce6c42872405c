"""Re-execute the notebooks in place, so their saved outputs are what nbval compares.

Usage::

    python scripts/run_notebooks.py                     # every notebooks/*.ipynb
    python scripts/run_notebooks.py notebooks/01_quickstart.ipynb
    python scripts/run_notebooks.py --check             # only check: executed, every code cell has outputs

Each notebook runs in a fresh kernel whose working directory is the
notebook's folder (as under nbval), with the test environment
(``PYTHONHASHSEED=0``, ``RISKBUDGET_PROGRESS=0``, the inline matplotlib
backend) unless the caller already set those variables. Cell timing metadata
is not recorded, so an unchanged result leaves the file unchanged in git.
The script prints each notebook's wall time and fails (exit status 1) when a
cell raises or a notebook takes longer than ``--budget`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: The deterministic environment the notebooks are executed (and tested) in.
TEST_ENV = {
    "PYTHONHASHSEED": "0",
    "RISKBUDGET_PROGRESS": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def find(paths: list[str]) -> list[Path]:
    if not paths:
        return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if not p.name.startswith("_"))
    out = []
    for p in paths:
        path = Path(p).resolve()
        if path.is_dir():
            out += sorted(path.glob("*.ipynb"))
        elif path.suffix == ".ipynb" and path.exists():
            out.append(path)
        else:
            raise SystemExit(f"run_notebooks: {p}: not a notebook or a folder of notebooks")
    return out


def missing_outputs(nb) -> list[int]:
    """Indices of code cells that were never executed or have no outputs."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and cell.source.strip() and (not cell.outputs or cell.execution_count is None)
    ]


def execute(path: Path, timeout: int) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:  # one output per stream, however the kernel happened to flush it
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    # Written atomically: an interrupted run never leaves a half-written notebook.
    from riskbudget.io import atomic_write

    text = nbformat.writes(nb)
    atomic_write(path, text if text.endswith("\n") else text + "\n")
    return elapsed


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stdout (or stderr) outputs, as nbval does before comparing."""
    merged: list = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            merged[-1]["text"] = merged[-1]["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="do not execute; check that every code cell has outputs")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell (default 300)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds allowed per notebook (default 60)")
    args = parser.parse_args(argv)

    import nbformat

    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)
    status = 0
    for path in find(args.paths):
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if args.check:
            missing = missing_outputs(nbformat.read(path, as_version=4))
            if missing:
                print(f"{rel}: code cells {missing} have no saved outputs; run scripts/run_notebooks.py {rel}")
                status = 1
            else:
                print(f"{rel}: every code cell has outputs")
            continue
        try:
            elapsed = execute(path, args.timeout)
        except Exception as exc:  # a failing cell: report it and go on with the others
            print(f"{rel}: FAILED\n{exc}", file=sys.stderr)
            status = 1
            continue
        over = elapsed > args.budget
        note = f"  (over the budget of {args.budget:.0f} s)" if over else ""
        print(f"{rel}: executed in {elapsed:.1f} s{note}")
        status |= int(over)
        missing = missing_outputs(nbformat.read(path, as_version=4))
        if missing:
            print(f"{rel}: code cells {missing} produced no output (nbval will not compare them)")
    return status


if __name__ == "__main__":
    sys.exit(main())
