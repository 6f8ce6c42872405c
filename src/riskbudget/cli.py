"""The ``riskbudget`` command line: a thin layer over the library.

Each subcommand is a pair of functions, ``_add_<name>(subparsers)`` and
``_run_<name>(args)``, registered in ``COMMANDS``. Errors in the input go to
stderr with exit status 1; usage errors exit with 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import RiskBudgetError

__all__ = ["main", "COMMANDS"]

SUMMARY_KEYS = ("ale", "ale_se", "p_loss", "p50", "p90", "p95", "p99", "var95", "tvar95")


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# --------------------------------------------------------------------------- #
# simulate
# --------------------------------------------------------------------------- #
def _add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a register's annual loss and print ALE, VaR and TVaR",
        description="Simulate the aggregate annual loss of every scenario in a register and the portfolio total.",
    )
    p.add_argument("register", help="register file (.csv, .xlsx, .yaml, .json)")
    p.add_argument("--years", type=_positive_int, default=100_000, help="simulated years (default 100000)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (default: fresh entropy, printed)")
    p.add_argument("--method", choices=("aggregate", "lef_x_lm"), default="aggregate")
    p.add_argument("--layout", default="riskbudget", help="flat register layout: riskbudget, riskquant, one_for_one")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _run_simulate(args: argparse.Namespace) -> int:
    from . import io
    from ._format import money, percent
    from .simulate import simulate

    register = io.read_register(args.register, layout=args.layout)
    result = simulate(register, years=args.years, seed=args.seed, method=args.method)
    summary = result.summary()
    if args.json:
        rows = {
            name: {k: _jsonable(float(summary.loc[name, k])) for k in SUMMARY_KEYS}
            for name in summary.index
        }
        total = rows.pop("Total")
        _print_json(
            {"years": result.years, "seed": result.seed, "method": result.method, "scenarios": rows, "total": total}
        )
        return 0
    print(
        f"{len(register)} scenarios, {result.years:,} simulated years, method={result.method}, seed={result.seed}"
    )
    header = f"{'scenario':40s} {'ALE':>10s} {'± SE':>9s} {'P(loss)':>8s} {'P90':>10s} {'VaR95':>10s} {'TVaR95':>10s}"
    print(header)
    print("-" * len(header))
    for name, row in summary.iterrows():
        if name == "Total":
            print("-" * len(header))
        label = name if len(name) <= 40 else name[:37] + "..."
        print(
            f"{label:40s} {money(row['ale']):>10s} {money(row['ale_se']):>9s} {percent(row['p_loss']):>8s} "
            f"{money(row['p90']):>10s} {money(row['var95']):>10s} {money(row['tvar95']):>10s}"
        )
    print("\nTotal = the year-by-year sum of the scenarios (percentiles are never added).")
    return 0


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
def _add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write the board report: one self-contained HTML file",
        description=(
            "Simulate a register and write the board report (headline ALE and VaR, the loss exceedance curve "
            "against the tolerance curve, top scenarios and their share of the tail, appetite status, inherent vs "
            "residual risk with controls, assumptions) as one HTML file with the figures embedded."
        ),
    )
    p.add_argument("register", help="register file (.csv, .xlsx, .yaml, .json)")
    p.add_argument("--controls", default=None, help="controls file; adds inherent vs residual risk")
    p.add_argument("--appetite", default=None, help="risk appetite file (.yaml/.json): limits and tolerance curve")
    p.add_argument("--out", default="report.html", help="where to write the HTML (default report.html)")
    p.add_argument("--years", type=_positive_int, default=100_000, help="simulated years (default 100000)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (default: fresh entropy, recorded)")
    p.add_argument("--layout", default="riskbudget", help="flat register layout: riskbudget, riskquant, one_for_one")
    p.add_argument("--title", default="Cyber risk: board report", help="title at the top of the report")
    p.add_argument("--organisation", default="", help="organisation name shown under the title")


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._format import money
    from .report import report

    board = report(
        args.register,
        controls=args.controls,
        appetite=args.appetite,
        years=args.years,
        seed=args.seed,
        layout=args.layout,
        title=args.title,
        organisation=args.organisation,
        out=args.out,
    )
    r = board.result
    status = board.appetite_status
    state = "" if status is None else ("; within appetite" if status.ok else "; OUTSIDE appetite")
    label = "inherent: " if board.residual_result is not None else ""
    print(f"{label}ALE {money(r.ale())}, VaR95 {money(r.var(0.95))}, TVaR95 {money(r.tvar(0.95))} "
          f"({r.years:,} years, seed {r.seed}){state}")
    if board.residual_result is not None:
        res = board.residual_result
        cmp = board.comparison
        res_status = board.residual_appetite_status
        res_state = "" if res_status is None else ("; within appetite" if res_status.ok else "; OUTSIDE appetite")
        print(f"with controls: ALE {money(res.ale())} (reduction {money(cmp.reduction('ale'))} ± "
              f"{money(cmp.reduction_se('ale'))}), VaR95 {money(res.var(0.95))}, TVaR95 {money(res.tvar(0.95))}"
              f"{res_state}")
    print(f"wrote the board report to {Path(board.path).resolve()}")  # type: ignore[arg-type]
    return 0


COMMANDS: list[tuple[str, Callable[[Any], None], Callable[[argparse.Namespace], int]]] = [
    ("simulate", _add_simulate, _run_simulate),
    ("report", _add_report, _run_report),
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="riskbudget",
        description="Quantitative cyber-risk decisions: Open FAIR Monte Carlo and budget allocation.",
    )
    parser.add_argument("--version", action="version", version=f"riskbudget {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for _name, add, _run in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``riskbudget`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    runner = {name: run for name, _add, run in COMMANDS}[args.command]
    try:
        return runner(args)
    except RiskBudgetError as exc:
        print(f"riskbudget {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"riskbudget {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
