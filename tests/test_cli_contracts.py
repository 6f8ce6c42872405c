"""The command line keeps its contracts, checked at the file-descriptor level with real processes.

* every verb with ``--json`` writes exactly one JSON document to standard output and nothing
  else, with progress bars and solver threads on (``capsys`` cannot see file descriptor 1, so
  these run ``python -m riskbudget`` in a subprocess);
* native writes to file descriptor 1 (HiGHS prints from C++) go to stderr, and fd 1 is restored
  when the command ends, whatever its threads did;
* negative numbers reach our own validation; absurd sizes are refused before any work starts;
* a drawn seed is printed in a form that can be copied, and reproduces the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from riskbudget.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "example"
DECISION_FILES = [
    "--register", str(EXAMPLE / "register.csv"),
    "--controls", str(EXAMPLE / "controls.csv"),
    "--projects", str(EXAMPLE / "projects.csv"),
]
JSON_VERBS = {
    "simulate": ["simulate", str(EXAMPLE / "register.csv"), "--years", "3000", "--seed", "1", "--json"],
    "optimize": ["optimize", *DECISION_FILES, "--budget", "6e6", "--years", "1000", "--seed", "1",
                 "--appetite-tvar95", "30e6", "--json"],
    "frontier": ["frontier", *DECISION_FILES, "--budget", "6e6", "--years", "1000", "--seed", "1",
                 "--points", "4", "--appetite-tvar95", "30e6", "--json"],
}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RISKBUDGET_PROGRESS": "1", **env}
    return subprocess.run([sys.executable, "-m", "riskbudget", *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("verb", sorted(JSON_VERBS))
def test_json_verbs_write_exactly_one_document_to_stdout(verb):
    proc = _run(JSON_VERBS[verb])
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)  # raises on anything before or after the one document
    assert isinstance(doc, dict) and doc
    assert proc.stdout.lstrip().startswith("{") and proc.stdout.rstrip().endswith("}")
    # the progress bars were on, and went to stderr
    assert "%|" in proc.stderr or "it/s" in proc.stderr or "chunk" in proc.stderr


def test_native_writes_to_fd_1_go_to_stderr_and_fd_1_is_restored_after_threads():
    """HiGHS writing to fd 1 from two frontier threads: stdout keeps only the JSON; fd 1 comes back."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from riskbudget.optimization import _highs as solver  # riskbudget's one HiGHS call
        real_solve = solver.solve
        def noisy_solve(*args, **kwargs):
            os.write(1, b"NATIVE SOLVER NOISE\\n")  # what C++ code printing to stdout does
            return real_solve(*args, **kwargs)
        solver.solve = noisy_solve
        from riskbudget.cli import main
        code = main({JSON_VERBS["frontier"]!r})
        sys.stdout.flush()
        os.write(1, b"\\nAFTER THE COMMAND\\n")
        sys.exit(code)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "RISKBUDGET_PROGRESS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NATIVE SOLVER NOISE" in proc.stderr
    assert "NATIVE SOLVER NOISE" not in proc.stdout
    document, after = proc.stdout.rsplit("AFTER THE COMMAND", 1)
    assert after.strip() == ""
    assert json.loads(document)["points"]


def test_library_calls_leave_file_descriptors_alone():
    """Only the CLI redirects: a notebook or script calling the optimiser keeps its own fd 1."""
    script = textwrap.dedent(
        """
        import os
        from riskbudget.optimization import _highs as solver
        real_solve = solver.solve
        seen = []
        def spy(*args, **kwargs):
            seen.append(os.readlink("/proc/self/fd/1"))
            return real_solve(*args, **kwargs)
        solver.solve = spy
        import riskbudget as rb
        from riskbudget.optimization import optimize
        reg = rb.read_register("data/example/register.csv")
        ctl = rb.read_controls("data/example/controls.csv")
        prj = rb.read_projects("data/example/projects.csv")
        optimize(reg, ctl, prj, budget=6e6, years=500, seed=1, progress=False)
        print(len(seen) > 0 and len(set(seen)) == 1 and seen[0] == os.readlink("/proc/self/fd/1"))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "True"


def test_a_negative_budget_reaches_our_validation():
    proc = _run(["optimize", *DECISION_FILES, "--budget", "-6e6"])
    assert proc.returncode == 2
    assert "expected one argument" not in proc.stderr
    assert "argument --budget: '-6e6'" in proc.stderr and ">= 0" in proc.stderr
    assert proc.stdout == ""


def test_negative_values_of_every_number_option_reach_validation(capsys):
    for argv in (
        ["simulate", "r.csv", "--years", "-5"],
        ["simulate", "r.csv", "--seed", "-1"],
        ["optimize", *DECISION_FILES, "--budget", "6e6", "--appetite-var95", "-2e7"],
        ["optimize", *DECISION_FILES, "--budget", "6e6", "--min-security-share", "-0.1"],
        ["optimize", *DECISION_FILES, "--budget", "6e6", "--time-limit", "-.5"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "expected one argument" not in err, argv
        assert f"argument {argv[-2]}" in err, (argv, err)


def test_a_drawn_seed_is_short_printed_and_reproduces_the_run():
    first = _run(["simulate", str(EXAMPLE / "register.csv"), "--years", "500", "--json"])
    assert first.returncode == 0, first.stderr
    seed = json.loads(first.stdout)["seed"]
    assert isinstance(seed, int) and 0 <= seed < 10**9
    again = _run(["simulate", str(EXAMPLE / "register.csv"), "--years", "500", "--json", "--seed", str(seed)])
    assert json.loads(again.stdout) == json.loads(first.stdout)
    table = _run(["simulate", str(EXAMPLE / "register.csv"), "--years", "500"])
    line = table.stdout.splitlines()[0]
    assert "drawn at random: rerun with --seed " in line
    drawn = int(line.rsplit("--seed ", 1)[1].split()[0])
    assert f"seed={drawn}," in line


def test_frontier_refuses_too_many_points_and_an_unknown_plot_format_before_working(monkeypatch, capsys, tmp_path):
    import importlib

    optimize_module = importlib.import_module("riskbudget.optimization")

    def must_not_run(*args, **kwargs):
        raise AssertionError("the frontier was computed before the arguments were checked")

    monkeypatch.setattr(optimize_module, "frontier", must_not_run)
    args = ["frontier", *DECISION_FILES, "--budget", "6e6", "--years", "500"]
    assert main([*args, "--points", "1000000"]) == 1
    assert "--points (1000000) must lie between 2 and 201" in capsys.readouterr().err
    assert main([*args, "--plot", str(tmp_path / "front.xyz")]) == 1
    err = capsys.readouterr().err
    assert ".xyz is not an image format" in err and ".png" in err
    assert not (tmp_path / "front.xyz").exists()


def test_absurd_years_are_refused_before_any_allocation():
    proc = _run(["simulate", str(EXAMPLE / "register.csv"), "--years", "1e30"], RISKBUDGET_MEMORY_LIMIT="2G")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "1,000,000,000,000,000,000,000,000,000,000 years x 16 scenario(s) needs about" in proc.stderr
    assert "simulate fewer years" in proc.stderr
    proc = _run(["optimize", *DECISION_FILES, "--budget", "6e6", "--years", "2e6"], RISKBUDGET_MEMORY_LIMIT="2G")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "optimize: 2,000,000 years x" in proc.stderr and "use fewer years" in proc.stderr
