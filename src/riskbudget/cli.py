"""The ``riskbudget`` command line: a thin layer over the library.

Each subcommand is a pair of functions, ``_add_<name>(subparsers)`` and
``_run_<name>(args, out)``, registered in ``COMMANDS``. A runner writes its
results to ``out`` and nowhere else. Errors in the input go to stderr with exit
status 1; usage errors exit with 2 (argparse's convention).

Standard output carries the command's results only: with ``--json`` exactly
one JSON document. While a command runs, file descriptor 1 points at stderr
(:func:`_results_stream`), so whatever native libraries (HiGHS, a C compiler)
or stray prints write there cannot mix into the results. This is the one place
riskbudget redirects file descriptors.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from io import BytesIO, UnsupportedOperation
from typing import Any, TextIO

from ._parse import parse_money, parse_number, parse_share, parse_whole
from .exceptions import RiskBudgetError

__all__ = ["main", "COMMANDS"]

SUMMARY_KEYS = ("ale", "ale_se", "p_loss", "p50", "p90", "p95", "p99", "var95", "tvar95")


# Option values are read by riskbudget._parse, as every typed number is; these wrappers only turn its
# RiskBudgetError into argparse's usage error (exit status 2), with the same message. argparse adds the
# option's name ("argument --budget: '-6e6' must be ..."), so the parsers get an empty where and name.
def _usage_error(exc: RiskBudgetError) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(str(exc))


def _positive_int(text: str) -> int:
    try:  # exact: "1e30" is 10**30, "2.5e0" is not whole
        return parse_whole(text, where="", name="", minimum=1, error=RiskBudgetError)
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None


def _positive_seconds(text: str) -> float:
    try:
        value = parse_number(text, where="", name="", error=RiskBudgetError, hint=" of seconds, such as 30 or 2.5")
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _whole_or_zero(text: str) -> int:
    try:
        return parse_whole(text, where="", name="", minimum=0, error=RiskBudgetError)
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None


def _discount_rate(text: str) -> float:
    from ._parse import parse_share

    t = text.strip()
    try:
        if t.endswith("%"):
            value = parse_share(t, where="", name="", error=RiskBudgetError) if not t.startswith("-") else -parse_share(
                t[1:], where="", name="", error=RiskBudgetError)
        else:
            value = parse_number(t, where="", name="", error=RiskBudgetError, hint=", such as 0.08 or 8%")
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None
    if not value > -1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above -100% (-1)")
    return value


def _confidence(text: str) -> float:
    try:
        value = parse_number(text, where="", name="", error=RiskBudgetError, hint=", such as 0.95")
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must lie in [0.5, 1): the chance a limit holds (0.5: no margin)")
    return value


#: The chance each appetite limit holds on fresh years that ``riskbudget optimize`` plans for by default.
CLI_CONFIDENCE = 0.95


def _seed(text: str) -> int:
    try:
        return parse_whole(text, where="", name="", minimum=0, error=RiskBudgetError)
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None


def _drawn(given: int | None, used: int) -> str:
    """A note on a seed the run drew itself, so that the user can copy it."""
    return "" if given is not None else f", drawn at random: rerun with --seed {used} to reproduce"


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _print_json(obj: Any, out: TextIO) -> None:
    print(json.dumps(obj, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v)), file=out)


@contextlib.contextmanager
def _results_stream() -> Iterator[TextIO]:
    """The stream for a command's results, with file descriptor 1 sent to stderr meanwhile.

    When ``sys.stdout`` is the process's real standard output, the results go
    to a private duplicate of it and fd 1 (which native code and stray Python
    prints use) points at fd 2 until the command ends, whatever threads the
    command starts. When ``sys.stdout`` is something else (a test's capture,
    an embedding application), results go to ``sys.stdout`` and only native
    writes are diverted.
    """
    try:
        real = sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError, UnsupportedOperation):
        real = False
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError):  # no usable fd 1 or 2 (embedded interpreters)
        yield sys.stdout
        return
    out: TextIO = sys.stdout
    if real:
        out = open(saved, "w", encoding=sys.stdout.encoding or "utf-8", errors="replace", closefd=False)  # noqa: SIM115
    try:
        yield out
    finally:
        with contextlib.suppress(OSError, ValueError):
            out.flush()
            sys.stdout.flush()
        if out is not sys.stdout:
            with contextlib.suppress(OSError, ValueError):
                out.close()
        os.dup2(saved, 1)
        os.close(saved)


#: A value that looks like a negative number ("-6e6", "-.5", "-$2M") rather than an option.
_NEGATIVE_VALUE = re.compile(r"^-(\$?\d|\.\d)")


def _attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--budget -6e6`` -> ``--budget=-6e6``, so negative numbers reach our own validation.

    argparse takes ``-6e6`` for an unknown option ("expected one argument")
    because its negative-number pattern knows no exponents or currency signs.
    """
    args = list(argv)
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" not in a and i + 1 < len(args) and _NEGATIVE_VALUE.match(args[i + 1]):
            out.append(f"{a}={args[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


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
    _insurance_arguments(p)
    p.add_argument("--by", default=None, choices=("owner", "category", "id"),
                   help="also show risk per owner, category or id: ALE and Euler contributions to VaR95 and TVaR95 "
                        "(groups add up to the total)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _horizon_arguments(p: Any, horizon_help: str) -> None:
    """``--horizon N`` and ``--discount-rate R`` of the decision commands."""
    p.add_argument("--horizon", type=_positive_int, default=None, help=horizon_help)
    p.add_argument("--discount-rate", type=_discount_rate, default=0.0,
                   help="discount rate of the net present value with --horizon (e.g. 0.08 or 8%%; default 0)")


def _insurance_arguments(p: Any, *, offered: bool = False) -> None:
    """``--insurance FILE`` and ``--policy NAME``: layers bought, or (``offered``) layers the optimiser may buy."""
    if offered:
        p.add_argument("--insurance", default=None, metavar="FILE",
                       help="insurance file (.csv): its layers are options. Every set of layers that can be bought "
                            "together is compared, its premium paid from the budget (risk transfer); losses and the "
                            "appetite are those retained")
        p.add_argument("--policy", action="append", default=None, metavar="NAME",
                       help="offer only this layer of the insurance file (repeat; default: every layer)")
        return
    p.add_argument("--insurance", default=None, metavar="FILE",
                   help="insurance file (.csv): losses shown are what the company retains; the insurer's "
                        "payments and the premiums are reported")
    p.add_argument("--policy", action="append", default=None, metavar="NAME",
                   help="buy this layer of the insurance file (repeat for a tower; default: every layer)")


def _chosen_policies(args: argparse.Namespace) -> Any:
    """The layers of ``--insurance FILE`` named by ``--policy`` (all of them by default)."""
    from .insurance import read_insurance

    if not args.insurance:
        if args.policy:
            raise RiskBudgetError("--policy needs --insurance FILE")
        return None
    policies = read_insurance(args.insurance)
    if not args.policy:
        return policies
    known = {p.name: p for p in policies}
    unknown = [n for n in args.policy if n not in known]
    if unknown:
        raise RiskBudgetError(f"--policy {unknown}: not in {args.insurance}; its layers are {list(known)}")
    return tuple(known[n] for n in args.policy)


def _run_simulate(args: argparse.Namespace, out: TextIO) -> int:
    say = functools.partial(print, file=out)
    from . import io
    from .formatting import money, percent
    from .simulation import PrecisionWarning, simulate

    register = io.read_register(args.register, layout=args.layout)
    insurance = _chosen_policies(args)
    result = simulate(register, years=args.years, seed=args.seed, method=args.method, insurance=insurance)
    with warnings.catch_warnings():  # imprecise ALEs are reported below, once, in the output itself
        warnings.simplefilter("ignore", PrecisionWarning)
        summary = result.summary()
    notes = summary.attrs.get("notes", [])
    if args.json:
        rows = {
            name: {k: _jsonable(float(summary.loc[name, k])) for k in SUMMARY_KEYS}
            for name in summary.index
        }
        total = rows.pop("Total")
        doc = {"years": result.years, "seed": result.seed, "method": result.method, "scenarios": rows, "total": total,
               "notes": notes}
        if insurance is not None:
            recovered = result.recovered.to_numpy()
            doc["insurance"] = {"policies": [p.to_dict() for p in insurance], "premium": result.premium,
                                "recovered_mean": float(recovered.mean()),
                                "ground_up_ale": float(result.ground_up.to_numpy().sum(axis=1).mean())}
        if args.by:
            groups = result.summary_by(args.by)
            doc["by"] = {"column": args.by, "groups": {
                str(name): {k: _jsonable(float(v)) for k, v in row.items()} for name, row in groups.iterrows()
            }}
        _print_json(doc, out)
        return 0
    say(
        f"{len(register)} scenarios, {result.years:,} simulated years, method={result.method}, "
        f"seed={result.seed}{_drawn(args.seed, result.seed)}"
    )
    header = f"{'scenario':40s} {'ALE':>10s} {'± SE':>9s} {'P(loss)':>8s} {'P90':>10s} {'VaR95':>10s} {'TVaR95':>10s}"
    say(header)
    say("-" * len(header))
    for name, row in summary.iterrows():
        if name == "Total":
            say("-" * len(header))
        label = name if len(name) <= 40 else name[:37] + "..."
        say(
            f"{label:40s} {money(row['ale']):>10s} {money(row['ale_se']):>9s} {percent(row['p_loss']):>8s} "
            f"{money(row['p90']):>10s} {money(row['var95']):>10s} {money(row['tvar95']):>10s}"
        )
    say("\nTotal = the year-by-year sum of the scenarios (percentiles are never added).")
    if insurance is not None:
        ground = result.ground_up.to_numpy().sum(axis=1)
        say(f"Insurance ({len(insurance)} layer(s)): losses above are retained; before insurance the ALE is "
            f"{money(ground.mean())}, the insurer pays {money(result.recovered.mean())} a year on average, "
            f"for premiums of {money(result.premium)} a year.")
    if args.by:
        groups = result.summary_by(args.by)
        say(f"\nRisk by {args.by} (Euler contributions: the groups add up to the total)")
        head = f"{args.by:30s} {'ALE':>10s} {'share':>7s} {'VaR95 part':>11s} {'TVaR95 part':>12s} {'share':>7s}"
        say(head)
        say("-" * len(head))
        for name, row in groups.iterrows():
            if name == "Total":
                say("-" * len(head))
            label = str(name) if len(str(name)) <= 30 else str(name)[:27] + "..."
            say(f"{label:30s} {money(row['ale']):>10s} {percent(row['ale_share'], digits=0):>7s} "
                f"{money(row['var95_contribution']):>11s} {money(row['tvar95_contribution']):>12s} "
                f"{percent(row['tvar95_share'], digits=0):>7s}")
    for note in notes:
        say(f"Note: {note}.")
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
    p.add_argument("register", nargs="?", default=None,
                   help="register file (.csv, .xlsx, .yaml, .json); optional with --plan (then it must be the plan's)")
    p.add_argument("--plan", default=None, metavar="PLAN.json",
                   help="write the decision pack for a plan saved with riskbudget optimize --save: what is funded and "
                        "why, risk before and after, the appetite, every candidate, the frontier, the years")
    p.add_argument("--history", nargs="+", default=None, metavar="OLD.json",
                   help="with --plan: saved plans of earlier reviews, oldest first; the pack draws the trend")
    p.add_argument("--frontier-points", type=_whole_or_zero, default=None,
                   help="with --plan: shares on the pack's efficient frontier (default 11; 0 leaves it out)")
    p.add_argument("--controls", default=None, help="controls file; adds inherent vs residual risk")
    p.add_argument("--appetite", default=None, help="risk appetite file (.yaml/.json): limits and tolerance curve")
    _insurance_arguments(p)
    p.add_argument("--out", default="report.html", help="where to write the HTML (default report.html)")
    p.add_argument("--years", type=_positive_int, default=None,
                   help="simulated years (default 100000; with --plan the plan's own)")
    p.add_argument("--seed", type=_seed, default=None,
                   help="random seed (default: fresh entropy, recorded; with --plan the plan's own)")
    p.add_argument("--layout", default="riskbudget", help="flat register layout: riskbudget, riskquant, one_for_one")
    p.add_argument("--title", default=None, help="title at the top of the report")
    p.add_argument("--organisation", default="", help="organisation name shown under the title")


def _run_report(args: argparse.Namespace, out: TextIO) -> int:
    say = functools.partial(print, file=out)
    from pathlib import Path

    from .formatting import money
    from .reporting import report

    if args.plan is not None:
        return _run_pack(args, out)
    if args.register is None:
        raise RiskBudgetError("report: give a register file, or --plan PLAN.json for the decision pack")
    if args.history:
        raise RiskBudgetError("report: --history goes with --plan PLAN.json (the decision pack)")
    board = report(
        args.register,
        controls=args.controls,
        appetite=args.appetite,
        insurance=_chosen_policies(args),
        years=args.years if args.years is not None else 100_000,
        seed=args.seed,
        layout=args.layout,
        title=args.title or "Cyber risk: board report",
        organisation=args.organisation,
        out=args.out,
    )
    r = board.result
    status = board.appetite_status
    state = "" if status is None else ("; within appetite" if status.ok else "; OUTSIDE appetite")
    label = "inherent: " if board.residual_result is not None else ""
    say(f"{label}ALE {money(r.ale())}, VaR95 {money(r.var(0.95))}, TVaR95 {money(r.tvar(0.95))} "
          f"({r.years:,} years, seed {r.seed}{_drawn(args.seed, r.seed)}){state}")
    if board.residual_result is not None:
        res = board.residual_result
        cmp = board.comparison
        res_status = board.residual_appetite_status
        res_state = "" if res_status is None else ("; within appetite" if res_status.ok else "; OUTSIDE appetite")
        say(f"with controls: ALE {money(res.ale())} (reduction {money(cmp.reduction('ale'))} ± "
              f"{money(cmp.reduction_se('ale'))}), VaR95 {money(res.var(0.95))}, TVaR95 {money(res.tvar(0.95))}"
              f"{res_state}")
    for note in board.notes:
        say(f"Note: {note}")
    say(f"wrote the board report to {Path(board.path).resolve()}")  # type: ignore[arg-type]
    return 0


def _run_pack(args: argparse.Namespace, out: TextIO) -> int:
    """``riskbudget report [REGISTER] --plan PLAN.json``: the decision pack, on the plan's own sample."""
    say = functools.partial(print, file=out)
    from pathlib import Path

    from .formatting import money
    from .reporting import report

    for flag, value in (("--years", args.years), ("--seed", args.seed), ("--controls", args.controls),
                        ("--insurance", args.insurance), ("--policy", args.policy)):
        if value is not None:
            raise RiskBudgetError(f"report: {flag} does not go with --plan: the pack uses the plan's own sample and "
                                  "candidates")
    points = 11 if args.frontier_points is None else args.frontier_points
    kwargs: dict[str, Any] = {"plan": args.plan, "appetite": args.appetite, "frontier": points or None,
                              "organisation": args.organisation, "out": args.out, "history": args.history}
    if args.title:
        kwargs["title"] = args.title
    board = report(args.register, **kwargs)
    before, after = board.result, board.residual_result
    say(f"today: ALE {money(before.ale())}, VaR95 {money(before.var(0.95))}, TVaR95 {money(before.tvar(0.95))}")
    if after is not None:
        status = board.residual_appetite_status
        state = "" if status is None else ("; within appetite" if status.ok else "; OUTSIDE appetite")
        say(f"with the plan: ALE {money(after.ale())}, VaR95 {money(after.var(0.95))}, "
            f"TVaR95 {money(after.tvar(0.95))}{state}")
    for note in board.notes:
        say(f"Note: {note}")
    say(f"wrote the decision pack to {Path(board.path).resolve()}")  # type: ignore[arg-type]
    return 0


# --------------------------------------------------------------------------- #
# optimize and frontier
# --------------------------------------------------------------------------- #
def _money(text: str) -> float:
    try:  # 6000000, 6e6, 6M, $6,000,000, 6 000 000; >= 0 and at most 1e15
        return parse_money(text, where="", name="", error=RiskBudgetError)
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None


def _check_plot_format(path: str) -> str:
    """The image format of ``path`` (its suffix), checked before any computation starts."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
    known = FigureCanvasBase.get_supported_filetypes()
    if fmt not in known:
        raise RiskBudgetError(
            f"--plot {path!r}: {('.' + fmt) if fmt else 'no suffix'} is not an image format matplotlib writes; "
            f"use one of {', '.join('.' + k for k in sorted(known))}"
        )
    return fmt


def _write_figure(draw: Callable[..., Any], *what: Any, path: str, **options: Any) -> None:
    """Draw a figure on the Agg backend and write it to ``path`` atomically, in the format its suffix names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._files import atomic_write

    ax = draw(*what, **options)
    buf = BytesIO()
    try:
        ax.figure.savefig(buf, format=_check_plot_format(path), bbox_inches="tight", dpi=120)
    finally:
        plt.close(ax.figure)
    atomic_write(path, buf.getvalue())


def _share(text: str) -> float:
    try:  # 0.15 or 15%, in [0, 1]
        return parse_share(text, where="", name="", error=RiskBudgetError)
    except RiskBudgetError as exc:
        raise _usage_error(exc) from None


def _decision_arguments(p: Any) -> None:
    p.add_argument("--register", required=True, help="register file (.csv, .xlsx, .yaml, .json)")
    p.add_argument("--controls", required=True, help="controls CSV (see data/example/controls.csv)")
    p.add_argument("--projects", required=True, help="projects CSV (see data/example/projects.csv)")
    p.add_argument("--budget", required=True, type=_money, help="total budget per year (e.g. 6e6 or 6M)")
    p.add_argument("--appetite", default=None, metavar="FILE",
                   help="risk appetite file (.yaml/.json, as for report): limits and tolerance curve")
    p.add_argument("--appetite-var95", type=_money, default=None, help="largest acceptable VaR95 of annual loss")
    p.add_argument("--appetite-tvar95", type=_money, default=None, help="largest acceptable TVaR95 of annual loss")
    p.add_argument("--appetite-var99", type=_money, default=None, help="largest acceptable VaR99 of annual loss")
    p.add_argument("--var-method", choices=("exact", "cvar"), default="exact",
                   help="VaR limits as VaR (default) or through the tail mean (a conservative stand-in, labelled so)")
    p.add_argument("--confidence", type=_confidence, default=None,
                   help="give each limit a margin of its Monte Carlo standard errors so that it holds on fresh years "
                        "with about this chance, e.g. 0.95 (optimize's default: 0.95; frontier's: none, 0.5)")
    p.add_argument("--years", type=_positive_int, default=20_000, help="simulated years (default 20000)")
    p.add_argument("--seed", type=_seed, default=7, help="random seed (default 7)")
    p.add_argument("--time-limit", type=_positive_seconds, default=None, help="seconds per solver call (default: none)")
    p.add_argument("--layout", default="riskbudget", help="flat register layout: riskbudget, riskquant, one_for_one")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _appetite(args: argparse.Namespace) -> Any:
    """The appetite of ``--appetite FILE`` with the ``--appetite-*`` limits on top (a flag replaces the file's
    limit of the same kind and level), or None when neither is given."""
    from .appetite import Appetite, LimitKind, read_appetite

    base = read_appetite(args.appetite) if args.appetite else None
    flags = {k: getattr(args, f"appetite_{k}") for k in ("var95", "tvar95", "var99")}
    extra = Appetite(**{k: v for k, v in flags.items() if v is not None}).limits
    if base is None and not extra:
        return None
    replaced = {(lim.kind, lim.param) for lim in extra}
    kept = [] if base is None else [lim for lim in base.limits if (lim.kind, lim.param) not in replaced]
    if extra and base is not None:
        for lim in base.limits:
            if (lim.kind, lim.param) in replaced and lim.kind is not LimitKind.EXCEEDANCE:
                print(f"riskbudget: --appetite-{lim.label.lower()} replaces the file's {lim.label} limit",
                      file=sys.stderr)
    return Appetite(limits=[*kept, *extra], tolerance=None if base is None else base.tolerance,
                    revenue=None if base is None else base.revenue,
                    materiality=None if base is None else base.materiality)


def _decision_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    from . import io
    from .controls import read_controls, read_projects

    register = io.read_register(args.register, layout=args.layout)
    controls = read_controls(args.controls)
    projects = read_projects(args.projects)
    return register, controls, projects, _appetite(args)


def _add_optimize(sub: Any) -> None:
    p = sub.add_parser(
        "optimize",
        help="find the best funded set of controls and projects within a budget and risk appetite",
        description="Exact optimisation on the simulated years (mixed-integer program, HiGHS): expected project value "
        "delivered - expected annual loss - spend, subject to the budget and the appetite. Prints the plan, "
        "return on control, and an out-of-sample check on fresh years.",
    )
    _decision_arguments(p)
    p.add_argument("--min-security-share", type=_share, default=None, help="minimum security share of spend (e.g. 10%%)")
    p.add_argument("--max-security-share", type=_share, default=None, help="maximum security share of spend")
    p.add_argument("--validate-seed", type=_seed, default=None, help="seed of the out-of-sample check (default: seed + 1)")
    _horizon_arguments(p, "plan over this many years: one-off costs in year 1, lead times, the appetite in every "
                          "year; the objective is the net present value (JSON: npv, by_year)")
    _insurance_arguments(p, offered=True)
    p.add_argument("--save", default=None, metavar="FILE",
                   help="also save the plan as versioned JSON (the inputs with their files' names and hashes, seed, "
                        "years, budget, appetite, every item with its reason, the metrics) for riskbudget compare "
                        "and riskbudget trend")


def _check_save_path(path: str) -> None:
    """Refuse a ``--save`` path that cannot be written, before any computation starts."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise RiskBudgetError(f"--save {path!r}: is a directory; give the path of a .json file, such as "
                              f"{p / 'plan.json'}")
    parent = next((q for q in p.absolute().parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise RiskBudgetError(f"--save {path!r}: {parent} is a file, not a directory")


def _input_files(args: argparse.Namespace) -> dict[str, str | None]:
    """The files a decision command read its inputs from, by kind, for a saved plan."""
    return {"register": args.register, "controls": args.controls, "projects": args.projects,
            "appetite": args.appetite}


def _run_optimize(args: argparse.Namespace, out: TextIO) -> int:
    say = functools.partial(print, file=out)
    from .formatting import money
    from .optimization import optimize, validate

    if args.save:
        _check_save_path(args.save)
    register, controls, projects, appetite = _decision_inputs(args)
    plan = optimize(
        register, controls, projects, budget=args.budget, appetite=appetite, years=args.years, seed=args.seed,
        min_security_share=args.min_security_share, max_security_share=args.max_security_share,
        var_method=args.var_method, time_limit=args.time_limit,
        confidence=_confidence_of(args, CLI_CONFIDENCE if appetite is not None and args.horizon is None
                                  and not args.insurance else None),
        horizon=args.horizon, discount_rate=args.discount_rate, insurance=_chosen_policies(args),
    )
    oos = validate(plan, seed=args.validate_seed)
    saved = plan.save(args.save, files=_input_files(args)) if args.save else None
    if args.json:
        doc = plan.to_dict()
        doc["out_of_sample"] = oos.to_dict()
        doc["reasons"] = _reason_rows(plan)
        doc["saved"] = None if saved is None else str(saved)
        _print_json({k: _jsonable(v) for k, v in doc.items()}, out)
        return 0
    say(plan.describe())
    if plan.towers is not None:
        say()
        say("Insurance options compared (expected net value = value - retained ALE - spend - premium):")
        for name, r in plan.towers.iterrows():
            what = r["skipped"] if r["skipped"] else (
                f"{money(r['expected_net_value'])}, {'within' if r['meets_appetite'] else 'outside'} appetite")
            say(f"  {'*' if r['chosen'] else ' '} {name} (premium {money(r['premium'])}): {what}")
    say()
    say(oos.describe())
    say()
    say("Why each candidate is funded or not (checked on the same simulated years):")
    for r in plan.reasons:
        mark = "funded" if r.funded else "not funded"
        say(f"  {r.item} [{mark}]: {r.reason} - {r.detail}")
    say()
    over = "roc_horizon_marginal" in plan.returns.columns  # a multi-year plan: the return over its horizon too
    say("Return on control ((ALE reduction - cost) / cost; 95% interval from common random numbers):")
    if over:
        say(f"  (the last column over the {plan.horizon}-year horizon: one-off cost, lead time and discounting "
            "counted; the others for a year with every item live)")
    header = f"  {'control':45s} {'cost':>8s} {'funded':>6s} {'standalone':>22s} {'marginal in plan':>22s}"
    say(header + (f" {f'marginal, {plan.horizon} years':>22s}" if over else ""))
    def roc(r: Any, kind: str) -> str:
        v = r[f"roc_{kind}"]
        if not math.isfinite(v):
            return "n/a"
        return f"{v:+.0%} [{r[f'roc_{kind}_low']:+.0%}, {r[f'roc_{kind}_high']:+.0%}]"

    for name, r in plan.returns.iterrows():
        label = name if len(name) <= 45 else name[:42] + "..."
        say(f"  {label:45s} {money(r['cost_per_year']):>8s} {'yes' if r['funded'] else 'no':>6s} {roc(r, 'standalone'):>22s} {roc(r, 'marginal'):>22s}"
            + (f" {roc(r, 'horizon_marginal'):>22s}" if over else ""))
    if saved is not None:
        say()
        say(f"Saved the plan to {saved} (riskbudget compare OLD.json {saved.name} shows what changed)")
    return 0


def _confidence_of(args: argparse.Namespace, default: float | None) -> float | None:
    """``--confidence``, or the command's default; 0.5 means no margin."""
    c = args.confidence if args.confidence is not None else default
    return None if c is None or c <= 0.5 else c


def _reason_rows(plan: Any) -> list[dict[str, Any]]:
    return [
        {"item": r.item, "kind": r.kind, "funded": r.funded, "reason": str(r.reason), "detail": r.detail,
         "delta_net_value": r.delta_net_value, "delta_se": r.delta_se, "limits": list(r.limits)}
        for r in plan.reasons
    ]


def _add_frontier(sub: Any) -> None:
    p = sub.add_parser(
        "frontier",
        help="best plan for each security share of the budget (efficient frontier)",
        description="For each security share of the budget (0%%..100%%), the best plan with security spend capped at "
        "that share and IT spend at the rest; expected net value against TVaR95, best appetite-feasible split marked.",
    )
    _decision_arguments(p)
    p.add_argument("--points", type=_positive_int, default=21, help="number of shares from 0%% to 100%% (default 21)")
    p.add_argument("--plot", default=None, help="write the frontier plot to this image file (PNG, SVG, PDF)")
    p.add_argument(
        "--appetite-mode",
        choices=("constraint", "check"),
        default="constraint",
        help="best plan within the appetite at each share (default), or best plan regardless, checked against it",
    )
    _insurance_arguments(p, offered=True)
    _horizon_arguments(p, "plan over this many years at every share (the table gains the net present value, npv; "
                          "the best split has the highest)")


def _run_frontier(args: argparse.Namespace, out: TextIO) -> int:
    say = functools.partial(print, file=out)
    from .formatting import money, percent
    from .optimization import MAX_FRONTIER_POINTS, frontier
    from .plotting import plot_frontier

    if not 2 <= args.points <= MAX_FRONTIER_POINTS:
        raise RiskBudgetError(
            f"frontier: --points ({args.points}) must lie between 2 and {MAX_FRONTIER_POINTS} (a share every 0.5%)"
        )
    if args.plot:
        _check_plot_format(args.plot)
    register, controls, projects, appetite = _decision_inputs(args)
    front = frontier(register, controls, projects, budget=args.budget, appetite=appetite, points=args.points,
                     appetite_mode=args.appetite_mode,
                     years=args.years, seed=args.seed, var_method=args.var_method, time_limit=args.time_limit,
                     confidence=_confidence_of(args, None), insurance=_chosen_policies(args),
                     horizon=args.horizon, discount_rate=args.discount_rate)
    if args.plot:
        _write_figure(plot_frontier, front, path=args.plot)
    if args.json:
        _print_json(front.to_dict(), out)
        return 0
    say(f"Efficient frontier, budget {money(front.budget)}, {args.years:,} years, seed {args.seed}")
    t = front.table
    npv = "npv" in t.columns
    insured = "insurance" in t.columns
    say(f"  {'share':>6s} {'security':>9s} {'IT':>9s} {'net value':>10s} " + (f"{'NPV':>10s} " if npv else "")
        + (f"{'premium':>9s} " if insured else "") + f"{'ALE':>9s} {'TVaR95':>9s} {'appetite':>9s}")
    for _, r in t.iterrows():
        mark = " <- best split" if r["best"] else ""
        ok = "ok" if r["feasible"] else "missed"
        extra = (f"{money(r['npv']):>10s} " if npv else "") + (f"{money(r['risk_transfer_spend']):>9s} " if insured
                                                                 else "")
        bought = f" [{r['insurance']}]" if insured and r["insurance"] else ""
        say(f"  {percent(r['security_share'], digits=0):>6s} {money(r['security_spend']):>9s} {money(r['it_spend']):>9s} "
            f"{money(r['expected_net_value']):>10s} {extra}{money(r['ale']):>9s} {money(r['tvar95']):>9s} "
            f"{ok:>9s}{mark}{bought}")
    if front.best_index is None:
        if front.appetite_mode == "constraint":
            say("No split meets the appetite; each row holds the least-risk plan at that share.")
        else:
            say("No share's best plan meets the appetite; try --appetite-mode constraint.")
    if args.plot:
        say(f"plot written to {args.plot}")
    return 0


# --------------------------------------------------------------------------- #
# compare and trend: joint reviews of saved plans
# --------------------------------------------------------------------------- #
def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="what changed between two saved plans (joint review)",
        description="What changed between two plans saved with 'riskbudget optimize ... --save': items funded and "
        "dropped, each metric's change, the inputs that changed (scenarios added, removed or re-estimated; controls "
        "and projects added, removed or re-costed; the appetite), and how much of the ALE change comes from the "
        "changed inputs and how much from the changed plan (the old plan is valued again on the new inputs and the "
        "new plan's simulated years; the two parts add up).",
    )
    p.add_argument("old", help="the earlier saved plan (.json)")
    p.add_argument("new", help="the later saved plan (.json)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _run_compare(args: argparse.Namespace, out: TextIO) -> int:
    from .review import compare, load_plan

    old, new = load_plan(args.old), load_plan(args.new)  # both read before the re-valuation starts
    comparison = compare(old, new, progress=None)
    if args.json:
        _print_json(comparison.to_dict(), out)
        return 0
    print(comparison.describe(), file=out)
    return 0


def _add_trend(sub: Any) -> None:
    from .review import METRIC_LABELS

    p = sub.add_parser(
        "trend",
        help="saved plans' ALE, VaR, TVaR and spend across reviews (quarterly), as a table and a chart",
        description="Line several saved plans up in the order given (oldest first; quarterly reviews): status, "
        "budget, items funded, spend, ALE, VaR95, TVaR95 and expected net value, and whether each met its appetite.",
    )
    p.add_argument("plans", nargs="+", metavar="PLAN", help="saved plans (.json), oldest first")
    p.add_argument("--plot", default=None, metavar="FILE", help="write the trend chart to this image file (PNG, SVG, PDF)")
    p.add_argument("--metric", action="append", default=None, choices=tuple(METRIC_LABELS),
                   help="a metric to chart (repeat for several; default: ale, var95, tvar95, total_spend)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _run_trend(args: argparse.Namespace, out: TextIO) -> int:
    say = functools.partial(print, file=out)
    from .formatting import money
    from .review import METRICS, trend

    if args.plot:
        _check_plot_format(args.plot)
    table = trend(args.plans)
    if args.plot:
        from .plotting import plot_trend

        _write_figure(plot_trend, table, path=args.plot,
                      metrics=tuple(args.metric or ("ale", "var95", "tvar95", "total_spend")))
    if args.json:
        rows = [{"plan": str(label), **{k: _jsonable(v) for k, v in row.items()}}
                for label, row in zip(table.index, table.to_dict("records"), strict=True)]
        _print_json({"plans": rows, "metrics": list(METRICS), "plot": args.plot}, out)
        return 0
    width = max(12, *(len(str(i)) for i in table.index))
    head = (f"{'plan':{width}s} {'created':20s} {'funded':>6s} {'spend':>9s} {'ALE':>9s} {'VaR95':>9s} "
            f"{'TVaR95':>9s} {'net value':>10s} {'appetite':>9s}")
    say(head)
    say("-" * len(head))
    for label, r in table.iterrows():
        ok = {True: "ok", False: "MISSED"}.get(r["appetite_ok"], "-")
        say(f"{str(label):{width}s} {str(r['created'])[:19]:20s} {int(r['funded']):>6d} {money(r['total_spend']):>9s} "
            f"{money(r['ale']):>9s} {money(r['var95']):>9s} {money(r['tvar95']):>9s} "
            f"{money(r['expected_net_value']):>10s} {ok:>9s}")
    if args.plot:
        say(f"chart written to {args.plot}")
    return 0


COMMANDS: list[tuple[str, Callable[[Any], None], Callable[[argparse.Namespace, TextIO], int]]] = [
    ("simulate", _add_simulate, _run_simulate),
    ("report", _add_report, _run_report),
    ("optimize", _add_optimize, _run_optimize),
    ("frontier", _add_frontier, _run_frontier),
    ("compare", _add_compare, _run_compare),
    ("trend", _add_trend, _run_trend),
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
    args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    if args.command == "report" and args.register is None and args.plan is None:
        parser.error("report: give a register file, or --plan PLAN.json for the decision pack")  # exits 2
    runner = {name: run for name, _add, run in COMMANDS}[args.command]
    try:
        with _results_stream() as out:
            return runner(args, out)
    except RiskBudgetError as exc:
        print(f"riskbudget {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # missing file, a directory where a file should be, no permission, disk full
        print(f"riskbudget {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
