"""Tornado sensitivity: each input estimate from its 10th to its 90th percentile, others held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _progress, metrics
from .._random import root_sequence
from ..distributions import Constant, Distribution
from ..exceptions import RiskBudgetError
from ..fair import ESTIMATE_FIELDS, LossForms, Register, Scenario, as_register
from ..simulation import simulate
from .dependence import Dependence

# --------------------------------------------------------------------------- #
# Tornado sensitivity
# --------------------------------------------------------------------------- #
_FACTORS = ESTIMATE_FIELDS


def sensitivity_inputs(scenario: Scenario) -> list[tuple[str, Distribution, Callable[[Distribution], Scenario]]]:
    """The uncertain input estimates of a scenario, as ``(input, estimate, rebuild)``.

    ``input`` is the factor's name (``"primary_loss.response"`` for a form of
    loss, ``"adjustment:<source>:<factor>"`` for an adjustment's multiplier);
    ``rebuild(d)`` returns the scenario with that estimate replaced by ``d``.
    Constants are left out: they have no spread to explore. So are the
    multipliers of controls and projects (:mod:`riskbudget.controls`), which
    are functions of the control's own estimates rather than estimates.
    """
    out: list[tuple[str, Distribution, Callable[[Distribution], Scenario]]] = []
    for f in _FACTORS:
        value = getattr(scenario, f)
        if value is None:
            continue
        if isinstance(value, LossForms):
            for form, dist in value.items():
                if isinstance(dist, Constant):
                    continue

                def rebuild(d: Distribution, f: str = f, form: str = form, forms: LossForms = value) -> Scenario:
                    changes: dict[str, Any] = {f: replace(forms, **{form: d})}
                    return replace(scenario, **changes)

                out.append((f"{f}.{form}", dist, rebuild))
        elif not isinstance(value, Constant):
            def rebuild_factor(d: Distribution, f: str = f) -> Scenario:
                changes: dict[str, Any] = {f: d}
                return replace(scenario, **changes)

            out.append((f, value, rebuild_factor))
    for i, adj in enumerate(scenario.adjustments):
        if isinstance(adj.multiplier, Constant) or not isinstance(adj.multiplier, Distribution):
            # A control's or project's multiplier is built from that control's own
            # estimates (strength, coverage, reliability) and has no quantiles of its
            # own to move; vary the control's estimates and re-apply it instead.
            continue

        def rebuild_adj(d: Distribution, i: int = i) -> Scenario:
            adjs = list(scenario.adjustments)
            adjs[i] = replace(adjs[i], multiplier=d)
            return replace(scenario, adjustments=tuple(adjs))

        out.append((f"adjustment:{adj.source}:{adj.factor}", adj.multiplier, rebuild_adj))
    return out


@dataclass(frozen=True, eq=False)
class Tornado:
    """How the portfolio ALE and VaR move when each input goes from one percentile to another.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per uncertain input, sorted by ALE swing (largest first):
        ``scenario``, ``input``, ``estimate``, ``low_value``, ``high_value``
        (the input at the low and high percentile), ``ale_low``, ``ale_high``,
        ``ale_swing`` (|ale_high - ale_low|), ``ale_swing_se`` (paired
        standard error), ``var_low``, ``var_high``, ``var_swing``,
        ``rank_ale`` and ``rank_var`` (1 = largest swing).
    base_ale, base_var : float
        The portfolio ALE and VaR_q with every estimate as given.
    q, low, high : float
        VaR level and the two percentiles.
    years : int
    seed : int
    """

    table: Any
    base_ale: float
    base_var: float
    q: float
    low: float
    high: float
    years: int
    seed: Any

    def top(self, n: int = 10, *, by: str = "ale") -> Any:
        """The ``n`` inputs with the largest swing in ``"ale"`` or ``"var"``."""
        if by not in ("ale", "var"):
            raise RiskBudgetError(f"Tornado.top: by ({by!r}) must be 'ale' or 'var'")
        return self.table.sort_values(f"{by}_swing", ascending=False, kind="stable").head(n)


def tornado(
    register: Register | Iterable[Scenario] | Scenario,
    *,
    years: int = 20_000,
    seed: int | np.random.SeedSequence | None = None,
    q: float = 0.95,
    low: float = 0.10,
    high: float = 0.90,
    method: str = "aggregate",
    dependence: Dependence | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> Tornado:
    """Tornado sensitivity of the portfolio ALE and VaR to each input estimate.

    Each uncertain input (a frequency, susceptibility, capability, resistance,
    loss or adjustment estimate of one scenario) is replaced by a constant at
    its ``low`` and then its ``high`` percentile, all others as given, and
    the portfolio is re-simulated under the same seed. Every scenario and
    factor has its own random stream, so only the changed input's draws
    change: the swings are paired differences, not Monte Carlo noise. The
    inputs are ranked by the swing in ALE and in VaR_q.

    Parameters
    ----------
    register : Register, Scenario or iterable of Scenario
    years : int, default 20_000
    seed : int, optional
        Seed shared by every run (fresh entropy if None, recorded in the result).
    q : float, default 0.95
        VaR level.
    low, high : float, default 0.10 and 0.90
        The percentiles each input moves between.
    method : {"aggregate", "lef_x_lm"}
    dependence : Dependence, optional
        Dependence between scenarios (then the whole portfolio is re-simulated
        for every input, which is slower).
    n_jobs : int, optional
        Threads per simulation.
    progress : bool, optional
        Progress bar over the inputs (off with ``RISKBUDGET_PROGRESS=0``).

    Returns
    -------
    Tornado

    Examples
    --------
    >>> import riskbudget as rb
    >>> s = rb.Scenario("Phishing", threat_event_frequency=rb.PERT(2, 6, 20),
    ...                 susceptibility=rb.PERT(0.05, 0.1, 0.3),
    ...                 primary_loss=rb.LogNormal.from_ci(10_000, 400_000))
    >>> t = tornado(s, years=5_000, seed=3)
    >>> list(t.table["input"])[:1]
    ['primary_loss']
    """
    import pandas as pd

    reg = as_register(register)
    q = metrics.check_level(q)
    for name, v in (("low", low), ("high", high)):
        if not 0.0 < float(v) < 1.0:
            raise RiskBudgetError(f"tornado: {name} percentile ({v!r}) must lie in (0, 1), e.g. 0.10 and 0.90")
    if not low < high:
        raise RiskBudgetError(f"tornado: low ({low!r}) must be below high ({high!r})")
    if dependence is not None and not isinstance(dependence, Dependence):
        raise RiskBudgetError(f"tornado: dependence must be a Dependence, not {type(dependence).__name__}")
    root = root_sequence(seed)

    def run(r: Register, strict: bool = True) -> Any:
        coupling = None if dependence is None else (dependence if strict else dependence.relaxed())
        return simulate(r, years=years, seed=root, method=method, n_jobs=n_jobs, progress=False,  # type: ignore[arg-type]
                        keep_counts=False, dependence=coupling)

    base = run(reg)
    base_losses = np.array(base.losses.to_numpy(), order="F")
    base_total = base.annual_loss.to_numpy()
    base_ale = float(base_total.mean())
    base_var = metrics.var(base_total, q)

    tasks = [(j, s, inp) for j, s in enumerate(reg) for inp in sensitivity_inputs(s)]
    bar = _progress.bar(_progress.enabled(progress, len(tasks) * years * (len(reg) if dependence else 1) * 2),
                        len(tasks), "tornado")
    rows = []
    try:
        for j, scenario, (label, dist, rebuild) in tasks:
            values = (float(dist.ppf(low)), float(dist.ppf(high)))
            totals = []
            for v in values:
                try:
                    changed = rebuild(Constant(v))
                except RiskBudgetError as exc:
                    raise RiskBudgetError(
                        f"tornado: scenario {scenario.name!r}, {label} at {v:g}: {exc}"
                    ) from None
                if dependence is not None:
                    totals.append(run(reg.replace(changed), strict=False).annual_loss.to_numpy())
                else:
                    column = run(Register([changed])).losses.to_numpy()[:, 0]
                    losses = base_losses.copy(order="F")
                    losses[:, j] = column
                    totals.append(losses.sum(axis=1))
            t_low, t_high = totals
            ale_low, ale_high = float(t_low.mean()), float(t_high.mean())
            var_low, var_high = metrics.var(t_low, q), metrics.var(t_high, q)
            rows.append(
                {
                    "scenario": scenario.name,
                    "input": label,
                    "estimate": str(dist),
                    "low_value": values[0],
                    "high_value": values[1],
                    "ale_low": ale_low,
                    "ale_high": ale_high,
                    "ale_swing": abs(ale_high - ale_low),
                    "ale_swing_se": metrics.paired_se(t_high - t_low),
                    "var_low": var_low,
                    "var_high": var_high,
                    "var_swing": abs(var_high - var_low),
                }
            )
            bar.update(1)
    finally:
        bar.close()
    columns = ["scenario", "input", "estimate", "low_value", "high_value", "ale_low", "ale_high", "ale_swing",
               "ale_swing_se", "var_low", "var_high", "var_swing"]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        table["rank_ale"] = table["ale_swing"].rank(ascending=False, method="min").astype(int)
        table["rank_var"] = table["var_swing"].rank(ascending=False, method="min").astype(int)
        table = table.sort_values(["ale_swing", "var_swing"], ascending=False, kind="stable").reset_index(drop=True)
    else:
        table["rank_ale"] = pd.Series(dtype=int)
        table["rank_var"] = pd.Series(dtype=int)
    return Tornado(table=table, base_ale=base_ale, base_var=base_var, q=q, low=float(low), high=float(high),
                   years=base.years, seed=base.seed)
