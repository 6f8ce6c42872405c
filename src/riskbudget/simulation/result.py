"""The result of a simulation: annual losses per year and scenario, and the metrics boards read."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import metrics
from ..exceptions import RiskBudgetError
from ..fair import Register

__all__ = ["SimulationResult", "PrecisionWarning", "ALE_RSE_LIMIT"]

#: Above this ratio of standard error to ALE, results say that the ALE is imprecise.
ALE_RSE_LIMIT = 0.05


class PrecisionWarning(UserWarning):
    """A Monte Carlo estimate is too imprecise to rely on (e.g. ALE standard error above 5% of the ALE)."""


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Simulated annual losses, one row per year and one column per scenario.

    Attributes
    ----------
    losses : pandas.DataFrame
        Annual loss per year (rows) and scenario (columns).
    annual_loss : pandas.Series
        The portfolio total per year: the year-by-year sum of ``losses``.
    counts : pandas.DataFrame or None
        Number of loss events per year and scenario (``method="aggregate"``),
        in the smallest signed integer type that holds the largest
        (``int8`` up to 127 events a year, then ``int16``, ``int32``). Sums
        widen; convert before arithmetic that could exceed it.
    register : Register
        The scenarios simulated.
    years : int
    seed : int
        The root entropy; ``simulate(..., seed=result.seed)`` reproduces the run.
    method : str
    recoveries : pandas.DataFrame or None
        With insurance: the insurer's payments per year and scenario
        (``losses`` then holds the retained losses).
    insurance : tuple of Insurance
        The policies applied (empty without insurance).
    """

    losses: Any
    annual_loss: Any
    counts: Any
    register: Register
    years: int
    seed: int
    method: str
    spawn_key: tuple[int, ...] = field(default=())
    recoveries: Any = None
    insurance: tuple[Any, ...] = ()

    @property
    def recovered(self) -> Any:
        """The insurer's payments per year (a Series; None without insurance)."""
        if self.recoveries is None:
            return None
        return self.recoveries.sum(axis=1).rename("Recovered")

    @property
    def ground_up(self) -> Any:
        """Annual loss per year and scenario before insurance (``losses`` plus ``recoveries``)."""
        return self.losses if self.recoveries is None else self.losses + self.recoveries

    @property
    def premium(self) -> float:
        """The yearly premium of the policies applied."""
        return float(sum(p.premium for p in self.insurance))

    @classmethod
    def _from_arrays(
        cls,
        losses: np.ndarray,
        counts: np.ndarray | None,
        *,
        register: Register,
        years: int,
        seed: np.random.SeedSequence,
        method: str,
        recovered: np.ndarray | None = None,
        insurance: tuple[Any, ...] = (),
    ) -> SimulationResult:
        import pandas as pd

        columns = pd.Index(list(register.names), name="scenario")
        index = pd.RangeIndex(years, name="year")
        loss_df = pd.DataFrame(losses, index=index, columns=columns, copy=False)
        total = pd.Series(losses.sum(axis=1), index=index, name="Total", copy=False)
        count_df = pd.DataFrame(counts, index=index, columns=columns, copy=False) if counts is not None else None
        entropy = seed.entropy
        return cls(
            losses=loss_df,
            annual_loss=total,
            counts=count_df,
            register=register,
            years=years,
            seed=int(entropy) if isinstance(entropy, (int, np.integer)) else entropy,  # type: ignore[arg-type]
            method=method,
            spawn_key=tuple(seed.spawn_key),
            recoveries=None if recovered is None else pd.DataFrame(recovered, index=index, columns=columns, copy=False),
            insurance=tuple(insurance),
        )

    # ------------------------------------------------------------------ #
    @property
    def names(self) -> tuple[str, ...]:
        return self.register.names

    def column(self, scenario: str | None = None) -> np.ndarray:
        """Annual losses of one scenario, or of the portfolio total (``None`` or ``"Total"``)."""
        if scenario is None or scenario == "Total":
            return self.annual_loss.to_numpy()
        if scenario not in self.losses.columns:
            raise KeyError(f"no scenario named {scenario!r}; the result has {list(self.names)} and 'Total'")
        return self.losses[scenario].to_numpy()

    def summary(
        self, *, quantiles: Iterable[float] = (0.5, 0.9, 0.95, 0.99), q: float = 0.95, by: str | None = None
    ) -> Any:
        """Metrics per scenario plus a ``Total`` row (the year-by-year sum).

        With ``by`` (a register column such as ``"owner"`` or ``"category"``),
        one row per value of that column instead, see :meth:`summary_by`.

        ``summary().attrs["notes"]`` says in words which ALEs are imprecise
        (standard error above 5% of the ALE, :data:`ALE_RSE_LIMIT`); when the
        portfolio's own ALE is, a :class:`PrecisionWarning` is issued too.

        Columns: ``ale``, ``ale_se``, ``sd``, ``p_loss``, ``p50``, ``p90``,
        ``p95``, ``p99``, ``var95``, ``var95_se``, ``tvar95``, ``tvar95_se``,
        ``max``, and ``loss_events`` (mean loss events per year) when counts
        were kept. Raw numbers; format them only for display.
        """

        if by is not None:
            return self.summary_by(by, q=q)
        rows = {}
        for name in list(self.names) + ["Total"]:
            x = self.column(name)
            row = metrics.describe(x, quantiles=quantiles, q=q)
            if self.counts is not None:
                row["loss_events"] = (
                    float(self.counts.to_numpy().sum(axis=1).mean()) if name == "Total" else float(self.counts[name].mean())
                )
            rows[name] = row
        return self._summary_table(rows)

    def _summary_table(self, rows: dict[str, dict[str, float]]) -> Any:
        """The summary DataFrame of rows (scenarios then ``Total``), with its precision notes and warning."""
        import pandas as pd

        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "scenario"
        notes = self._precision_notes(out["ale"], out["ale_se"])
        out.attrs["notes"] = notes
        total = [n for n in notes if n.startswith("the portfolio's ALE")]
        if total:  # the result's own ALE; scenarios' notes stay in attrs["notes"]
            warnings.warn(total[0], PrecisionWarning, stacklevel=3)
        return out

    def groups(self, by: str) -> dict[str, list[str]]:
        """Scenario names grouped by a register column (``owner``, ``category``, ``id``, ...), in register order.

        Scenarios with an empty value form the group ``"(none)"``.
        """
        allowed = ("owner", "category", "id", "name")
        if by not in allowed:
            raise RiskBudgetError(f"summary: by ({by!r}) must be a register column, one of {list(allowed)}")
        out: dict[str, list[str]] = {}
        for s in self.register:
            key = str(getattr(s, by) or "").strip() or "(none)"
            out.setdefault(key, []).append(s.name)
        return out

    def summary_by(self, by: str, *, q: float = 0.95) -> Any:
        """Risk per group of scenarios (e.g. per owner or business unit), adding up to the portfolio.

        Columns: ``scenarios`` (how many), ``ale``, ``ale_se``, ``ale_share``,
        ``var_contribution`` and ``tvar_contribution`` (the Euler allocation of
        the portfolio's VaR_q and TVaR_q, see
        :func:`riskbudget.metrics.euler_contributions`: groups add up to the
        total) with their shares, and the group's standalone ``var`` and
        ``tvar`` (its own annual loss, as if alone). A ``Total`` row holds the
        portfolio.

        Examples
        --------
        >>> import riskbudget as rb
        >>> result = rb.simulate(rb.datasets.load_register(), years=5_000, seed=1)
        >>> table = result.summary_by("owner")
        >>> bool(abs(table.drop(index="Total")["tvar_contribution"].sum() - result.tvar(0.95)) < 1e-6 * result.tvar(0.95))
        True
        """

        q = metrics.check_level(q)
        groups = self.groups(by)
        return self._summary_by_table(by, groups, self._group_matrix(groups), q)

    def _group_matrix(self, groups: dict[str, list[str]]) -> np.ndarray:
        """Annual loss per year (rows) and group (columns): each group's scenarios summed year by year."""
        losses = self.losses
        return np.column_stack([losses[names].to_numpy().sum(axis=1) for names in groups.values()])

    def _summary_by_table(self, by: str, groups: dict[str, list[str]], matrix: np.ndarray, q: float) -> Any:
        import pandas as pd

        euler = metrics.euler_contributions(matrix, q)
        total = self.annual_loss.to_numpy()
        ale_t, var_t, tvar_t = float(total.mean()), metrics.var(total, q), metrics.tvar(total, q)
        label = metrics.quantile_label(q)
        rows = {}
        for j, (key, names) in enumerate(groups.items()):
            col = matrix[:, j]
            rows[key] = {
                "scenarios": len(names),
                "ale": float(euler["ale"][j]),
                "ale_se": metrics.ale_se(col),
                "ale_share": float(euler["ale"][j] / ale_t) if ale_t > 0 else math.nan,
                f"var{label}_contribution": float(euler["var"][j]),
                f"var{label}_share": float(euler["var"][j] / var_t) if var_t > 0 else math.nan,
                f"tvar{label}_contribution": float(euler["tvar"][j]),
                f"tvar{label}_share": float(euler["tvar"][j] / tvar_t) if tvar_t > 0 else math.nan,
                f"var{label}": metrics.var(col, q),
                f"tvar{label}": metrics.tvar(col, q),
            }
        rows["Total"] = {
            "scenarios": len(self.names), "ale": ale_t, "ale_se": metrics.ale_se(total), "ale_share": 1.0,
            f"var{label}_contribution": var_t, f"var{label}_share": 1.0,
            f"tvar{label}_contribution": tvar_t, f"tvar{label}_share": 1.0,
            f"var{label}": var_t, f"tvar{label}": tvar_t,
        }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = by
        out.attrs.update({"q": q, "by": by})
        return out

    def precision_notes(self, limit: float = ALE_RSE_LIMIT) -> list[str]:
        """Plain-language notes on every ALE (scenarios and Total) whose standard error exceeds ``limit`` of it."""
        names = [*self.names, "Total"]
        ales = [metrics.ale(self.column(n)) for n in names]
        ses = [metrics.ale_se(self.column(n)) for n in names]
        import pandas as pd

        return self._precision_notes(pd.Series(ales, index=names), pd.Series(ses, index=names), limit)

    def _precision_notes(self, ale: Any, ale_se: Any, limit: float = ALE_RSE_LIMIT) -> list[str]:
        notes = []
        for name in ale.index:
            a, se = float(ale[name]), float(ale_se[name])
            if a > 0 and math.isfinite(se) and se > limit * a:
                what = "the portfolio's ALE" if name == "Total" else f"the ALE of {name!r}"
                notes.append(
                    f"{what} is imprecise: its Monte Carlo standard error is {se / a:.1%} of it (above "
                    f"{limit:.0%}); simulate more years, or check for a heavy-tailed loss estimate"
                )
        return notes

    def ale(self, scenario: str | None = None) -> float:
        """Expected (mean) annual loss."""
        return metrics.ale(self.column(scenario))

    def ale_se(self, scenario: str | None = None) -> float:
        """Monte Carlo standard error of the ALE."""
        return metrics.ale_se(self.column(scenario))

    def var(self, q: float = 0.95, scenario: str | None = None) -> float:
        """Value at risk: the q-quantile of annual loss."""
        return metrics.var(self.column(scenario), q)

    def tvar(self, q: float = 0.95, scenario: str | None = None) -> float:
        """Tail value at risk: the mean of the worst ``1 - q`` share of years (:func:`riskbudget.metrics.tvar`)."""
        return metrics.tvar(self.column(scenario), q)

    def exceedance(self, x: Any, scenario: str | None = None) -> Any:
        """P(annual loss > x), for a number or an array of thresholds."""
        return metrics.exceedance(self.column(scenario), x)

    def lec(self, losses: Any = None, *, scenario: str | None = None, points: int = 200) -> Any:
        """The loss exceedance curve as a DataFrame (see :func:`riskbudget.metrics.lec`)."""
        return metrics.lec(self.column(scenario), losses=losses, points=points)

    def select(self, names: Iterable[str]) -> SimulationResult:
        """The result restricted to some scenarios (total re-summed year by year)."""
        import pandas as pd

        names = list(names)
        for n in names:
            if n not in self.losses.columns:
                raise KeyError(f"no scenario named {n!r}; the result has {list(self.names)}")
        sub = self.losses[names]
        return SimulationResult(
            losses=sub,
            annual_loss=pd.Series(sub.to_numpy().sum(axis=1), index=sub.index, name="Total", copy=False),
            counts=None if self.counts is None else self.counts[names],
            register=self.register.select(names),
            years=self.years,
            seed=self.seed,
            method=self.method,
            spawn_key=self.spawn_key,
            recoveries=None if self.recoveries is None else self.recoveries[names],
            insurance=self.insurance,
        )

    def __repr__(self) -> str:
        return (
            f"SimulationResult({len(self.names)} scenario(s), {self.years:,} years, seed={self.seed}, "
            f"method={self.method!r}, ALE={self.ale():,.0f})"
        )
