"""Value of information for the funding decision: EVPI and EVPPI per uncertain input.

With alternatives ``a`` (funding choices) and simulated years ``t``, the net
benefit ``NB[t, a]`` is the value the funded projects deliver that year minus
the spend minus that year's loss, all on common random numbers.

* **EVPI** (expected value of perfect information, the value of
  clairvoyance): ``mean_t max_a NB[t, a] - max_a mean_t NB[t, a]``. It is what
  knowing everything about the coming year before deciding would be worth,
  an upper bound on the value of any measurement.
* **EVPPI** of one input ``theta`` (a per-year draw such as a scenario's
  threat event frequency, a control's strength or a project's value):
  ``E_theta[max_a E[NB_a | theta]] - max_a E[NB_a]``. The conditional means
  are estimated nonparametrically by grouping the years into ``bins``
  equal-count bins of ``theta`` (Strong and Oakley's regression idea with a
  step-function fit). On the sample this estimate always lies between 0 and
  the EVPI (Jensen's inequality holds bin by bin).

Binning adds a small upward bias from noise (the maximum of noisy means), so
each EVPPI comes with a ``noise_floor``: the same statistic with ``theta``
randomly shuffled, which carries no information. Only inputs clearly above
their floor are worth measuring; they are often not the ones people measure
(Hubbard's measurement inversion).

The inputs are the quantities the simulation draws once per year: frequencies
and susceptibilities stated as estimates, controls' strengths (one draw per
control and year, shared by every scenario it covers), projects' added risk
and delivered value. Loss magnitudes are drawn per event, so they are not
per-year inputs here.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> theta = rng.random(20_000)
>>> nb = np.column_stack([2 * theta - 1, np.zeros(theta.size)])  # fund or not
>>> round(evpi(nb), 2)  # E[max(2 theta - 1, 0)] = 0.25
0.25
>>> round(float(evppi(nb, {"theta": theta})["evppi"].iloc[0]), 2)
0.25
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ._random import Streams, control_stream_name, project_stream_name, value_stream
from .controls import CONTROL_COMPONENTS, FUNCTIONS, control_component, project_component
from .exceptions import RiskBudgetError
from .formatting import money
from .optimization import Constraints, DecisionProblem, Funding, FundingRules, Plan
from .simulation.distributed import check_client
from .simulation.kernel import posterior_draw_index, yearly_rates

__all__ = ["evpi", "evppi", "value_of_information", "ValueOfInformation", "decision_inputs", "net_benefits"]


def _nb(net_benefit: Any) -> np.ndarray:
    a = np.asarray(net_benefit, dtype=float)
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise RiskBudgetError(
            f"net_benefit must be a 2-D array (years x alternatives) with at least 2 years, got shape {a.shape}"
        )
    if not np.isfinite(a).all():
        raise RiskBudgetError("net_benefit holds NaN or infinite values")
    return a


def evpi(net_benefit: Any) -> float:
    """Expected value of perfect information: ``mean max_a NB - max_a mean NB``."""
    a = _nb(net_benefit)
    return float(a.max(axis=1).mean() - a.mean(axis=0).max())


def _binned(a: np.ndarray, order: np.ndarray, bins: int) -> float:
    n = a.shape[0]
    edges = np.linspace(0, n, bins + 1).astype(int)
    sorted_nb = a[order]
    sums = np.add.reduceat(sorted_nb, edges[:-1], axis=0)
    counts = np.diff(edges)[:, None]
    means = sums / counts
    return float((counts[:, 0] * means.max(axis=1)).sum() / n - a.mean(axis=0).max())


def _evppi_row(a: np.ndarray, x: np.ndarray, bins: int, permutations: int, state: dict[str, Any] | None) -> tuple[float, float]:
    """EVPPI of one input and its noise floor; ``state`` is the shuffles' generator state where this input starts."""
    n = a.shape[0]
    order = np.argsort(x, kind="stable")
    value = _binned(a, order, bins)
    if not permutations or state is None:
        return value, math.nan
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state
    return value, float(np.mean([_binned(a, rng.permutation(n), bins) for _ in range(permutations)]))


def _aligned(a: Any) -> Any:
    """An aligned copy of an array that arrived misaligned from the network (NumPy would round its sums differently)."""
    return a if a.flags.aligned else np.array(a, copy=True)


def _evppi_task(a: np.ndarray, x: np.ndarray, bins: int, permutations: int, state: dict[str, Any] | None) -> tuple[float, float]:
    return _evppi_row(_aligned(a), _aligned(x), bins, permutations, state)


def evppi(
    net_benefit: Any,
    inputs: Mapping[str, Any],
    *,
    bins: int = 20,
    permutations: int = 5,
    seed: int = 0,
    client: Any = None,
) -> Any:
    """Expected value of partial perfect information of each input, ranked.

    Parameters
    ----------
    net_benefit : array (years, alternatives)
    inputs : mapping name -> array (years,)
        Per-year draws of each uncertain input, aligned with ``net_benefit``.
    bins : int, default 20
        Equal-count bins of each input.
    permutations : int, default 5
        Shuffles used for the noise floor (0 to skip).
    seed : int
        Seed of the shuffles.
    client : dask.distributed.Client, optional
        Compute the inputs' EVPPIs on a Dask cluster, one task per input
        (``pip install 'riskbudget[dask]'``). The net benefits are sent to
        every worker once; each input's shuffles start where a local run's
        would (the generator's state is handed over), so the table is the
        local one, bit for bit.

    Returns
    -------
    pandas.DataFrame
        Indexed by input: ``evppi``, ``noise_floor`` (mean EVPPI of the input
        shuffled), ``above_noise`` (``evppi - noise_floor``; the ranking key),
        ``share_of_evpi`` and ``rank`` (1 = most worth measuring).
    """
    import pandas as pd

    a = _nb(net_benefit)
    n = a.shape[0]
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2 or bins > n // 2:
        raise RiskBudgetError(f"evppi: bins ({bins!r}) must be a whole number between 2 and half the years ({n // 2})")
    total = evpi(a)
    rng = np.random.default_rng(seed)
    checked: dict[str, tuple[np.ndarray, dict[str, Any] | None]] = {}
    for name, values in inputs.items():
        x = np.asarray(values, dtype=float)
        if x.shape != (n,):
            raise RiskBudgetError(f"evppi: input {name!r} has shape {x.shape}; expected ({n},), one draw per year")
        if not np.isfinite(x).all():
            raise RiskBudgetError(f"evppi: input {name!r} holds NaN or infinite values")
        # The shuffles of the inputs come one after another from one generator: each input starts from the
        # state the previous ones left (shuffled here again when the work is done elsewhere).
        state = dict(rng.bit_generator.state) if permutations else None
        if client is not None:
            for _ in range(permutations):
                rng.permutation(n)
        checked[str(name)] = (x, state)
    if client is None:
        results = {}
        for name, (x, _state) in checked.items():
            order = np.argsort(x, kind="stable")
            value = _binned(a, order, int(bins))
            floor = (
                float(np.mean([_binned(a, rng.permutation(n), int(bins)) for _ in range(permutations)]))
                if permutations
                else math.nan
            )
            results[name] = (value, floor)
    else:
        results = _evppi_on_cluster(client, a, checked, int(bins), int(permutations))
    rows = {}
    for name, (value, floor) in results.items():
        rows[name] = {
            "evppi": value,
            "noise_floor": floor,
            "above_noise": value - floor if permutations else value,
            "share_of_evpi": value / total if total > 0 else math.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["evppi", "noise_floor", "above_noise", "share_of_evpi"])
    out = out.sort_values(["above_noise", "evppi"], ascending=False)
    out["rank"] = np.arange(1, len(out) + 1)
    out.index.name = "input"
    return out


# --------------------------------------------------------------------------- #
# On a decision problem
# --------------------------------------------------------------------------- #
def _evppi_on_cluster(
    client: Any, a: np.ndarray, checked: Mapping[str, tuple[np.ndarray, dict[str, Any] | None]], bins: int,
    permutations: int,
) -> dict[str, tuple[float, float]]:
    """One task per input on a Dask cluster (the net benefits scattered to every worker once)."""
    check_client(client, "evppi")
    shared = client.scatter(a, broadcast=True, hash=False)
    futures = {
        name: client.submit(_evppi_task, shared, x, bins, permutations, state, pure=False)
        for name, (x, state) in checked.items()
    }
    values = client.gather(list(futures.values()))
    return dict(zip(futures, values))


def net_benefits(problem: Any, alternatives: Sequence[Any]) -> np.ndarray:
    """Per-year net benefit ``(years, alternatives)`` of funding choices on a problem's sample.

    Value delivered is drawn per year (value estimate x delivered or not)
    from a stream per project, the same for every alternative; spend is
    fixed; losses come from the precomputed columns.
    """
    cols = []
    for alt in alternatives:
        f = problem.funding(alt)
        sec, it = problem.spend(f)
        value = np.zeros(problem.years)
        for name in f.projects:
            p = problem.projects[problem.project_index[name]]
            value += p.sample_value(
                problem.years, value_stream(problem.root, name), security_by_design=name in f.security_by_design
            )
        cols.append(value - sec - it - problem.total_losses(f))
    return np.column_stack(cols)


def decision_inputs(problem: Any) -> dict[str, np.ndarray]:
    """Per-year draws of every uncertain input of a problem, regenerated from its random streams."""
    n = problem.years
    out: dict[str, np.ndarray] = {}
    for s in problem.universe:
        g = Streams(problem.root, s.name)
        kind = s.frequency_kind
        dist = getattr(s, kind)
        if dist.base_kind != "none" or kind == "contact_frequency":
            # as the engine draws them (a posterior's draw for each year from the run-level stream of its key)
            rate = yearly_rates(s, n, g, posterior_index=partial(posterior_draw_index, n=n, streams=g))
            if np.ptp(rate) > 0:
                out[f"{kind.replace('_', ' ')}: {s.name}"] = rate
        if s.susceptibility is not None and s.susceptibility.base_kind != "none":
            out[f"susceptibility: {s.name}"] = s.susceptibility.sample(n, g("susceptibility"))
    anchor = Streams(problem.root, "")
    for c in problem.controls:
        u = anchor.shared(control_stream_name(c.name), "voi").random((n, len(CONTROL_COMPONENTS)))
        for fn in FUNCTIONS:
            d = getattr(c, fn)
            if d is not None and d.base_kind != "none":
                out[f"{fn} of {c.name}"] = _present(control_component(c, fn, u))
        if c.response_sla is not None:
            h0 = _present(control_component(c, "hours_without", u))
            h1 = _present(control_component(c, "hours_with", u))
            out[f"hours to contain under {c.name}"] = np.minimum(h0, h1)
            out[f"hours to contain without {c.name}"] = h0
    for p in problem.projects:
        out[f"value delivered by {p.name}"] = p.sample_value(n, value_stream(problem.root, p.name))
        u = anchor.shared(project_stream_name(p.name), "voi").random((n, len(p.risk_changes) + 1))
        for i, rc in enumerate(p.risk_changes):
            if rc.increase.base_kind != "none":
                out[f"risk added by {p.name} ({', '.join(rc.targets)})"] = _present(project_component(p, i, u))
        if p.security_by_design is not None and p.security_by_design.risk_removed.base_kind != "none":
            out[f"risk removed by security by design of {p.name}"] = _present(project_component(p, "risk_removed", u))
    return out


def _present(values: np.ndarray | None) -> np.ndarray:
    """The draws of a component the caller checked is there (the component functions give None when it is not)."""
    assert values is not None
    return values


@dataclass(frozen=True, eq=False)
class ValueOfInformation:
    """EVPI of the funding decision and EVPPI of each uncertain input.

    Attributes
    ----------
    evpi : float
    table : pandas.DataFrame
        EVPPI per input, ranked (see :func:`evppi`).
    alternatives : tuple of Funding
    expected_net_benefit : pandas.Series
        Mean net benefit of each alternative on the sample.
    best : int
        Index of the alternative chosen without more information.
    years : int
    """

    evpi: float
    table: Any
    alternatives: tuple[Any, ...]
    expected_net_benefit: Any
    best: int
    years: int

    def describe(self, top: int = 10) -> str:
        lines = [
            f"EVPI (value of knowing everything before deciding): {money(self.evpi)} per year",
            f"Inputs worth measuring (EVPPI; noise floor in brackets), top {top}:",
        ]
        for name, r in self.table.head(top).iterrows():
            lines.append(f"  {int(r['rank']):2d}. {name}: {money(r['evppi'])} [{money(r['noise_floor'])}]")
        return "\n".join(lines)


def _label(f: Any) -> str:
    parts = list(f.controls) + [p + (" +SbD" if p in f.security_by_design else "") for p in f.projects]
    return " | ".join(parts) or "(nothing)"


def value_of_information(
    plan_or_problem: Any,
    alternatives: Iterable[Any] | None = None,
    *,
    bins: int = 20,
    permutations: int = 5,
    seed: int = 0,
    client: Any = None,
) -> ValueOfInformation:
    """EVPI for the funding decision and EVPPI per uncertain input, ranked.

    Parameters
    ----------
    plan_or_problem : Plan or DecisionProblem
        A plan from :func:`riskbudget.optimization` (its sample is used) or a
        problem from :func:`riskbudget.optimization.precompute`.
    alternatives : iterable of Funding (or name lists), optional
        The funding choices compared. By default, for a plan: the plan, every
        plan one change away (fund or drop one control or project, buy or drop
        a security-by-design option) that stays within its budget, and
        funding nothing. A problem needs explicit alternatives.
    bins, permutations, seed
        See :func:`evppi`.
    client : dask.distributed.Client, optional
        Compute the EVPPIs (most of the time taken) on a Dask cluster, one
        task per input; the result is the local one, bit for bit. The net
        benefits and the inputs are computed here, from the problem's
        precomputed columns.

    Returns
    -------
    ValueOfInformation

    Notes
    -----
    Perfect information here chooses among the alternatives given; the value
    of re-optimising the whole portfolio for every possible state of the
    world is not computed (it needs one optimisation per year).
    """
    if isinstance(plan_or_problem, Plan):
        plan = plan_or_problem
        problem = plan.problem
    elif isinstance(plan_or_problem, DecisionProblem):
        plan, problem = None, plan_or_problem
    else:
        raise RiskBudgetError(
            f"value_of_information: expected a Plan or a DecisionProblem, not {type(plan_or_problem).__name__}"
        )
    if alternatives is None:
        if plan is None:
            raise RiskBudgetError("value_of_information: give alternatives (funding choices) for a DecisionProblem")
        alts = _neighbours(problem, plan)
    else:
        alts = [problem.funding(a) for a in alternatives]
        if len(alts) < 2:
            raise RiskBudgetError("value_of_information: needs at least two alternatives to choose between")
    nb = net_benefits(problem, alts)
    import pandas as pd

    means = pd.Series(nb.mean(axis=0), index=[_label(a) for a in alts], name="expected_net_benefit")
    table = evppi(nb, decision_inputs(problem), bins=bins, permutations=permutations, seed=seed, client=client)
    return ValueOfInformation(
        evpi=evpi(nb),
        table=table,
        alternatives=tuple(alts),
        expected_net_benefit=means,
        best=int(np.argmax(nb.mean(axis=0))),
        years=problem.years,
    )


def _neighbours(problem: Any, plan: Any) -> list[Any]:
    """The plan and every choice one switch away from it that the funding rules allow (under its budget)."""
    rules = FundingRules(problem, Constraints(budget=plan.budget), where="value_of_information")
    base = plan.funding
    out = [base]
    seen = {(base.controls, base.projects, base.security_by_design)}

    def add(f: Funding) -> None:
        key = (f.controls, f.projects, f.security_by_design)
        if key not in seen and rules.allows(f):
            seen.add(key)
            out.append(f)

    for c in problem.controls:
        names = set(base.controls) ^ {c.name}
        add(Funding(tuple(x.name for x in problem.controls if x.name in names), base.projects, base.security_by_design))
    for p in problem.projects:
        if p.name in base.projects:
            add(
                Funding(
                    base.controls,
                    tuple(x for x in base.projects if x != p.name),
                    tuple(x for x in base.security_by_design if x != p.name),
                )
            )
            if p.security_by_design is not None:
                sbd = set(base.security_by_design) ^ {p.name}
                add(Funding(base.controls, base.projects, tuple(x.name for x in problem.projects if x.name in sbd)))
        else:
            projs = tuple(x.name for x in problem.projects if x.name in base.projects or x.name == p.name)
            add(Funding(base.controls, projs, base.security_by_design))
    add(Funding())
    return out
