"""Monte Carlo on a Dask cluster: :func:`~riskbudget.simulate` with ``client=``.

What runs where
---------------
Scenarios are split into *blocks* of consecutive scenarios (in register
order); each block is one task that simulates its scenarios over **all** the
years, chunk by chunk, exactly as a local run does. Every random stream is
keyed by the scenario's and the factor's names and consumed in year order
(:mod:`riskbudget._random`), so a worker reproduces a local run's draws bit for
bit without knowing the other scenarios. Splitting *years* across workers is
not done: a worker starting a stream mid-way would have to draw and discard
everything before (Poisson counts and per-event draws consume a variable
number of raw values), which costs what it saves.

What couples scenarios is kept whole:

* **dependence** (:class:`~riskbudget.simulation.FrequencyCoupling`): each
  block that needs it redraws the driver's year-ordered stream for the whole
  register (copula draws and shocks are per year, cheap next to the events)
  and keeps its own scenarios' columns;
* **posterior draws** shared across scenarios (``posterior_key``) and shared
  control streams are run-level streams that each scenario reads from its
  start, so they need nothing;
* **annual insurance layers** pay on the aggregate of the scenarios they
  cover: those scenarios are put in one block.

The blocks stay on the workers (``result.losses`` is a dask array). The
portfolio total per year (``years`` floats, 8 MB at a million years) is
folded on the workers block after block in register order, which is the order
NumPy adds the columns of a local run (``losses.sum(axis=1)`` on the
column-major matrix), and then gathered: it is bit-identical to the local
total, and every portfolio metric (ALE, VaR, TVaR, exceedance, LEC) is the
local code run on it. Per-scenario metrics run on the worker holding the
scenario's column, with the local code. Euler contributions send the tail
weights to the workers and bring back one row per scenario; each contribution
is a dot product there and a matrix product locally, so the two agree to
rounding (BLAS may add in another order), not necessarily bit for bit. Nothing
else differs, and nothing is approximated.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _allocator, metrics
from .._memory import describe_bytes
from ..exceptions import RiskBudgetError
from ..fair import Register
from ..insurance import Tower
from .coupling import FrequencyCoupling
from .kernel import ScenarioKernel
from .result import ALE_RSE_LIMIT, SimulationResult

__all__ = ["DistributedSimulationResult", "simulate_distributed", "plan_blocks", "import_distributed", "BLOCK_BYTES"]

#: Default upper bound of one block's result arrays (losses, counts, recoveries) on a worker.
BLOCK_BYTES = 128 << 20


def import_distributed() -> Any:
    """``dask.distributed``, or an error saying how to install it."""
    try:
        import dask.distributed as dd
    except ImportError as exc:  # pragma: no cover - the test extra installs dask
        raise ImportError(
            "client= needs Dask's distributed scheduler; install it with: pip install 'riskbudget[dask]'"
        ) from exc
    return dd


def check_client(client: Any, where: str) -> Any:
    """Refuse anything but a ``dask.distributed.Client`` (naming what was passed)."""
    dd = import_distributed()
    if not isinstance(client, dd.Client):
        raise RiskBudgetError(
            f"{where}: client must be a dask.distributed.Client (e.g. Client('tcp://scheduler:8786')), "
            f"not {type(client).__name__}"
        )
    return client


def _threads(client: Any) -> int:
    info = client.scheduler_info()
    return max(sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()), 1)


def _worker_memory(client: Any) -> float | None:
    info = client.scheduler_info()
    limits = [float(w.get("memory_limit") or 0) for w in info.get("workers", {}).values()]
    limits = [m for m in limits if m > 0]
    return min(limits) if limits else None


def plan_blocks(
    register: Register,
    years: int,
    *,
    scenarios_per_task: int | None,
    threads: int,
    bytes_per_cell: int,
    tower: Tower | None = None,
) -> list[list[int]]:
    """Blocks of scenario indices (each in register order), one task each.

    By default a block holds about ``n / (4 threads)`` scenarios (four tasks
    per thread, so that the cluster stays busy), fewer when its arrays would
    exceed :data:`BLOCK_BYTES`. Scenarios covered by one annual insurance
    layer are kept in one block (the layer pays on their aggregate), wherever
    they are in the register; otherwise blocks are runs of consecutive
    scenarios.
    """
    n = len(register)
    if scenarios_per_task is None:
        per_task = max(1, math.ceil(n / (4 * threads)))
        per_task = max(1, min(per_task, BLOCK_BYTES // max(years * bytes_per_cell, 1)))
    else:
        per_task = scenarios_per_task
    # Scenarios that must share a block: union of the annual layers' covered sets.
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if tower is not None:
        col = {nm: j for j, nm in enumerate(register.names)}
        for _policy, covered in tower.annual:
            idx = [col[c] for c in covered if c in col]
            for j in idx[1:]:
                a, b = find(j), find(idx[0])
                parent[max(a, b)] = min(a, b)  # the root is the group's first scenario
    members: dict[int, list[int]] = {}
    for j in range(n):
        members.setdefault(find(j), []).append(j)
    blocks: list[list[int]] = []
    current: list[int] = []
    for root in sorted(members):  # groups in the order of their first scenario
        current.extend(members[root])
        if len(current) >= per_task:
            blocks.append(sorted(current))
            current = []
    if current:
        blocks.append(sorted(current))
    return blocks


def fold_runs(blocks: Sequence[Sequence[int]]) -> list[tuple[int, list[int]]]:
    """(block, columns of the block) runs that visit every scenario in register order.

    Folding these runs one after another adds the columns in the order NumPy
    adds a local run's columns; consecutive blocks give one run each.
    """
    where = {j: (b, c) for b, block in enumerate(blocks) for c, j in enumerate(block)}
    runs: list[tuple[int, list[int]]] = []
    for j in sorted(where):
        b, c = where[j]
        if runs and runs[-1][0] == b:
            runs[-1][1].append(c)
        else:
            runs.append((b, [c]))
    return runs


# --------------------------------------------------------------------------- #
# Tasks (run on the workers)
# --------------------------------------------------------------------------- #
def _run_block(
    register: Register,
    indices: Sequence[int],
    years: int,
    root: np.random.SeedSequence,
    method: str,
    chunk_size: int,
    record_counts: bool,
    dependence: FrequencyCoupling | None,
    policies: tuple[Any, ...],
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Losses (and counts, recoveries) of the scenarios ``indices`` over all years, as a local run draws them."""
    _allocator.tune_once()  # as simulate() does in its own process (speed only)
    scenarios = [register[j] for j in indices]
    names = [s.name for s in scenarios]
    tower = Tower.build(policies, list(register)) if policies else None
    driver = dependence.chunk_driver(register, root) if dependence is not None else None
    k = len(scenarios)
    losses = np.empty((years, k), order="F")
    counts = np.empty((years, k), dtype=np.int32, order="F") if record_counts else None
    recovered = np.zeros((years, k), order="F") if tower is not None else None
    kernels = [ScenarioKernel(s, root, method, _event_recovery(tower, s.name)) for s in scenarios]
    for a in range(0, years, chunk_size):
        b = min(a + chunk_size, years)
        uniforms, multipliers = driver(a, b) if driver is not None else ({}, {})
        for j, nm in enumerate(names):
            loss, count = kernels[j].run(b - a, uniforms.get(nm), multipliers.get(nm))
            losses[a:b, j] = loss
            if recovered is not None and kernels[j].recovered is not None:
                recovered[a:b, j] = kernels[j].recovered
            if counts is not None and count is not None:
                if count.size and count.max() > np.iinfo(np.int32).max:  # pragma: no cover - absurd rates
                    raise RiskBudgetError(f"Scenario {nm!r}: more than 2**31 loss events in a year")
                counts[a:b, j] = count
    if tower is not None and recovered is not None:
        tower.apply_annual(names, losses, recovered)
    return losses, counts, recovered


def _event_recovery(tower: Tower | None, scenario: str) -> Any:
    if tower is None or scenario not in tower.per_event:
        return None
    return lambda losses: tower.event_recovery(scenario, losses)


def _aligned(a: Any) -> Any:
    """``a`` itself, or an aligned copy when it arrived misaligned.

    Arrays deserialised from the network may start at any byte; NumPy then
    takes another (unaligned) loop whose sums round differently. Copying into
    fresh memory makes every reduction here the one a local run does.
    """
    if a is None or not isinstance(a, np.ndarray) or a.flags.aligned:
        return a
    return np.array(a, order="K", copy=True)


def _fold(previous: np.ndarray | None, block: np.ndarray | None, columns: Sequence[int] | None = None) -> np.ndarray | None:
    """``previous`` plus the block's ``columns`` (all by default), added one at a time in order.

    This is the order NumPy sums the columns of a column-major matrix along
    axis 1, so folding the blocks in register order gives the local total bit
    for bit.
    """
    if block is None:
        return previous
    previous, block = _aligned(previous), _aligned(block)
    cols = range(block.shape[1]) if columns is None else columns
    out = previous
    for j in cols:
        out = block[:, j].copy() if out is None else out + block[:, j]
    return out


def _describe_block(
    block: np.ndarray, counts: np.ndarray | None, quantiles: tuple[float, ...], q: float
) -> list[dict[str, float]]:
    import pandas as pd

    block, counts = _aligned(block), _aligned(counts)
    rows = []
    for j in range(block.shape[1]):
        row = metrics.describe(block[:, j], quantiles=quantiles, q=q)
        if counts is not None:
            row["loss_events"] = float(pd.Series(counts[:, j]).mean())
        rows.append(row)
    return rows


def _count_total(counts: np.ndarray | None) -> int:
    return 0 if counts is None else int(_aligned(counts).sum(dtype=np.int64))


def _tail_block(
    block: np.ndarray, weights: np.ndarray, near_var: np.ndarray, q: float, m_share: float
) -> list[dict[str, float]]:
    """Per scenario of the block: what :func:`riskbudget.portfolio.contributions` computes per column."""
    block, weights, near_var = _aligned(block), _aligned(weights), _aligned(near_var)
    n = block.shape[0]
    out = []
    for j in range(block.shape[1]):
        col = np.ascontiguousarray(block[:, j])
        part = float(weights @ col / m_share)
        out.append(
            {
                "ale": float(col.mean()),
                "ale_se": float(col.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "tvar_contribution": part,
                "tvar_contribution_se": metrics.tail_contribution_se(col, weights, near_var, q),
                "standalone_var": metrics.var(col, q),
                "standalone_tvar": metrics.tvar(col, q),
            }
        )
    return out



def _take_columns(block: np.ndarray | None, columns: Sequence[int]) -> np.ndarray | None:
    return None if block is None else np.asfortranarray(_aligned(block)[:, list(columns)])


def _column(block: np.ndarray, j: int) -> np.ndarray:
    return np.ascontiguousarray(_aligned(block)[:, j])


# --------------------------------------------------------------------------- #
# Client side
# --------------------------------------------------------------------------- #
def simulate_distributed(
    client: Any,
    register: Register,
    *,
    years: int,
    root: np.random.SeedSequence,
    method: str,
    chunk_size: int,
    record_counts: bool,
    dependence: FrequencyCoupling | None,
    policies: tuple[Any, ...],
    tower: Tower | None,
    scenarios_per_task: int | None,
) -> DistributedSimulationResult:
    """Run :func:`~riskbudget.simulate` on ``client``'s workers (arguments checked by ``simulate``)."""
    check_client(client, "simulate")
    if dependence is not None:
        # Check the coupling on the client, so that a mistake is reported here, not from a worker.
        dependence.chunk_driver(register, root)
    bytes_per_cell = 8 + (4 if record_counts else 0) + (8 if tower is not None else 0)
    blocks = plan_blocks(
        register, years, scenarios_per_task=scenarios_per_task, threads=_threads(client),
        bytes_per_cell=bytes_per_cell, tower=tower,
    )
    biggest = max(len(b) for b in blocks) * years * bytes_per_cell
    room = _worker_memory(client)
    if room is not None and biggest > 0.5 * room:
        raise RiskBudgetError(
            f"simulate: one task holds {max(len(b) for b in blocks)} scenario(s) x {years:,} years "
            f"({describe_bytes(biggest)}), more than half a worker's memory limit ({describe_bytes(room)}); "
            "pass a smaller scenarios_per_task, simulate fewer years, or give the workers more memory"
        )
    reg_future = client.scatter(register, broadcast=True, hash=False)
    futures = [
        client.submit(
            _run_block, reg_future, b, years, root, method, chunk_size, record_counts, dependence, policies,
            pure=False,
        )
        for b in blocks
    ]
    return DistributedSimulationResult._from_futures(
        client, futures, blocks, register=register, years=years, root=root, method=method,
        record_counts=record_counts, recovered=tower is not None, insurance=policies,
    )


@dataclass(frozen=True, eq=False)
class DistributedSimulationResult(SimulationResult):
    """A :class:`SimulationResult` whose per-scenario arrays stay on a Dask cluster.

    ``losses``, ``counts`` and ``recoveries`` are dask arrays (years x
    scenarios, one chunk per block of scenarios, in register order);
    ``annual_loss`` is the portfolio total per year (a pandas Series, gathered).
    ``summary()``, ``summary_by()``, ``contributions()``, ``ale()``,
    ``var()``, ``tvar()``, ``exceedance()`` and ``lec()`` give exactly what
    the local result gives, without bringing the matrix to the client; one
    scenario's column (``column(name)``) is ``years`` floats. :meth:`compute`
    gathers everything into an ordinary :class:`SimulationResult`, identical
    to a local run with the same seed.
    """

    client: Any = None
    blocks: tuple[tuple[int, ...], ...] = ()
    block_futures: tuple[Any, ...] = field(default=(), repr=False)

    @classmethod
    def _from_futures(
        cls,
        client: Any,
        futures: list[Any],
        blocks: list[list[int]],
        *,
        register: Register,
        years: int,
        root: np.random.SeedSequence,
        method: str,
        record_counts: bool,
        recovered: bool,
        insurance: tuple[Any, ...],
        spawn_key: tuple[int, ...] | None = None,
    ) -> DistributedSimulationResult:
        import pandas as pd

        losses = _dask_matrix(client, futures, blocks, years, 0, np.float64)
        counts = _dask_matrix(client, futures, blocks, years, 1, np.int32) if record_counts else None
        recoveries = _dask_matrix(client, futures, blocks, years, 2, np.float64) if recovered else None
        total = _fold_total(client, futures, blocks, 0)
        entropy = root.entropy
        return cls(
            losses=losses,
            annual_loss=pd.Series(total, index=pd.RangeIndex(years, name="year"), name="Total", copy=False),
            counts=counts,
            register=register,
            years=years,
            seed=int(entropy) if isinstance(entropy, (int, np.integer)) else entropy,  # type: ignore[arg-type]
            method=method,
            spawn_key=tuple(root.spawn_key) if spawn_key is None else spawn_key,
            recoveries=recoveries,
            insurance=tuple(insurance),
            client=client,
            blocks=tuple(tuple(b) for b in blocks),
            block_futures=tuple(futures),
        )

    # ------------------------------------------------------------------ #
    def _where(self, scenario: str) -> tuple[int, int]:
        """(block, column in the block) of a scenario."""
        try:
            j = self.names.index(scenario)
        except ValueError:
            raise KeyError(f"no scenario named {scenario!r}; the result has {list(self.names)} and 'Total'") from None
        for b, block in enumerate(self.blocks):
            if j in block:
                return b, block.index(j)
        raise AssertionError(scenario)  # pragma: no cover

    def column(self, scenario: str | None = None) -> np.ndarray:
        """Annual losses of one scenario (gathered: ``years`` floats), or the portfolio total."""
        if scenario is None or scenario == "Total":
            return self.annual_loss.to_numpy()
        b, j = self._where(scenario)
        part = self.client.submit(operator.getitem, self.block_futures[b], 0)
        return _aligned(self.client.submit(_column, part, j).result())

    def compute(self) -> SimulationResult:
        """Everything gathered into an ordinary :class:`SimulationResult` (years x scenarios in memory)."""
        parts = self.client.gather(list(self.block_futures))
        order = [j for block in self.blocks for j in block]
        n = len(self.names)
        inverse = np.argsort(order)
        losses = np.asfortranarray(np.hstack([p[0] for p in parts])[:, inverse])
        counts = np.asfortranarray(np.hstack([p[1] for p in parts])[:, inverse]) if self.counts is not None else None
        recovered = (
            np.asfortranarray(np.hstack([p[2] for p in parts])[:, inverse]) if self.recoveries is not None else None
        )
        assert losses.shape == (self.years, n)
        return SimulationResult._from_arrays(
            losses, counts, register=self.register, years=self.years,
            seed=np.random.SeedSequence(self.seed, spawn_key=self.spawn_key), method=self.method,
            recovered=recovered, insurance=self.insurance,
        )

    @property
    def recovered(self) -> Any:
        """The insurer's payments per year (a Series, folded on the workers; None without insurance)."""
        import pandas as pd

        if self.recoveries is None:
            return None
        total = _fold_total(self.client, list(self.block_futures), self.blocks, 2)
        return pd.Series(total, index=self.annual_loss.index, name="Recovered")

    def summary(
        self, *, quantiles: Iterable[float] = (0.5, 0.9, 0.95, 0.99), q: float = 0.95, by: str | None = None
    ) -> Any:
        """As :meth:`SimulationResult.summary`; each scenario's row is computed on the worker holding it."""
        if by is not None:
            return self.summary_by(by, q=q)
        qs = tuple(float(v) for v in quantiles)
        client = self.client
        jobs = []
        for fut in self.block_futures:
            loss = client.submit(operator.getitem, fut, 0)
            cnt = client.submit(operator.getitem, fut, 1) if self.counts is not None else None
            jobs.append(client.submit(_describe_block, loss, cnt, qs, q))
        per_block = client.gather(jobs)
        rows: dict[str, dict[str, float]] = {}
        for block, block_rows in zip(self.blocks, per_block):
            for j, row in zip(block, block_rows):
                rows[self.names[j]] = row
        total = metrics.describe(self.annual_loss.to_numpy(), quantiles=qs, q=q)
        if self.counts is not None:
            events = sum(client.gather([client.submit(_count_total, client.submit(operator.getitem, f, 1)) for f in self.block_futures]))
            total["loss_events"] = float(np.float64(events) / self.years)
        rows = {name: rows[name] for name in self.names}
        rows["Total"] = total
        return self._summary_table(rows)

    def precision_notes(self, limit: float = ALE_RSE_LIMIT) -> list[str]:
        """As :meth:`SimulationResult.precision_notes`, from the summary computed on the workers."""
        table = self.summary()
        return self._precision_notes(table["ale"], table["ale_se"], limit)

    def _group_matrix(self, groups: dict[str, list[str]]) -> np.ndarray:
        """Each group's annual loss (years x groups), folded on the workers in register order, then gathered."""
        client = self.client
        index = {name: j for j, name in enumerate(self.names)}
        parts = [client.submit(operator.getitem, fut, 0) for fut in self.block_futures]
        columns = []
        for names in groups.values():
            wanted = {index[nm] for nm in names}
            # the group's columns, in register order, as runs of one block each
            sub = [[j for j in block if j in wanted] for block in self.blocks]
            local = [[block.index(j) for j in cols] for block, cols in zip(self.blocks, sub)]
            acc = None
            for b, cols in fold_runs(sub):
                acc = client.submit(_fold, acc, parts[b], [local[b][c] for c in cols])
            columns.append(acc)
        return np.column_stack([_aligned(c) for c in client.gather(columns)])

    def contributions(self, *, q: float = 0.95) -> Any:
        """Euler allocation of ALE and TVaR_q per scenario, as :func:`riskbudget.portfolio.contributions`.

        The tail weights and the VaR window's weights (``years`` floats each,
        for the standard errors) are computed here from the portfolio total
        and sent to the workers; each worker returns one row
        per scenario it holds. The tail weights, VaR, ALE, standalone VaR and
        TVaR are the local ones bit for bit; a contribution is one dot product
        per scenario where the local function does one matrix product, which
        BLAS may add up in another order: the two agree to rounding (relative
        difference below 1e-12, tested), not necessarily bit for bit.
        """
        import pandas as pd

        q = metrics.check_level(q)
        client = self.client
        total = self.annual_loss.to_numpy()
        n = total.size
        v = metrics.var(total, q)
        weights = metrics.tail_weights(total, q)
        near_var = metrics.var_weights(total, q)
        m_share = n * (1.0 - q)
        tvar_total = float(weights @ total / m_share)
        ale_total = float(total.mean())
        w = client.scatter(weights, broadcast=True, hash=False)
        near = client.scatter(near_var, broadcast=True, hash=False)
        jobs = [client.submit(_tail_block, client.submit(operator.getitem, f, 0), w, near, q, m_share)
                for f in self.block_futures]
        rows: dict[int, dict[str, float]] = {}
        for block, block_rows in zip(self.blocks, client.gather(jobs)):
            for j, row in zip(block, block_rows):
                rows[j] = row
        table = []
        for j in range(len(self.names)):
            r = rows[j]
            table.append(
                {
                    "ale": r["ale"],
                    "ale_se": r["ale_se"],
                    "ale_share": float(r["ale"] / ale_total) if ale_total > 0 else math.nan,
                    "tvar_contribution": r["tvar_contribution"],
                    "tvar_contribution_se": r["tvar_contribution_se"],
                    "tvar_share": float(r["tvar_contribution"] / tvar_total) if tvar_total > 0 else math.nan,
                    "standalone_var": r["standalone_var"],
                    "standalone_tvar": r["standalone_tvar"],
                }
            )
        out = pd.DataFrame(table, index=pd.Index(list(self.names), name="scenario"))
        out["diversification"] = out["standalone_tvar"] - out["tvar_contribution"]
        out.attrs.update(
            {"q": q, "var": v, "tvar": tvar_total, "ale": ale_total, "tail_years": int(np.count_nonzero(weights))}
        )
        return out

    def select(self, names: Iterable[str]) -> DistributedSimulationResult:
        """The result restricted to some scenarios (on the cluster; total folded again)."""
        names = list(names)
        for nm in names:
            if nm not in self.names:
                raise KeyError(f"no scenario named {nm!r}; the result has {list(self.names)}")
        sub = self.register.select(names)
        new_index = {nm: i for i, nm in enumerate(sub.names)}
        futures, blocks = [], []
        for block, fut in zip(self.blocks, self.block_futures):
            cols = [c for c, j in enumerate(block) if self.names[j] in new_index]
            if not cols:
                continue
            cols.sort(key=lambda c: new_index[self.names[block[c]]])  # each block in the new register order
            futures.append(self.client.submit(_take_block, fut, cols))
            blocks.append([new_index[self.names[block[c]]] for c in cols])
        return DistributedSimulationResult._from_futures(
            self.client, futures, blocks, register=sub, years=self.years,
            root=np.random.SeedSequence(self.seed, spawn_key=self.spawn_key), method=self.method,
            record_counts=self.counts is not None, recovered=self.recoveries is not None, insurance=self.insurance,
        )

    def __repr__(self) -> str:
        return (
            f"DistributedSimulationResult({len(self.names)} scenario(s) in {len(self.blocks)} block(s) on the cluster, "
            f"{self.years:,} years, seed={self.seed}, method={self.method!r}, ALE={self.ale():,.0f})"
        )


def _take_block(part: tuple[Any, ...], columns: Sequence[int]) -> tuple[Any, ...]:
    return tuple(_take_columns(a, columns) for a in part)


def _fold_total(client: Any, futures: Sequence[Any], blocks: Sequence[Sequence[int]], item: int) -> np.ndarray:
    """Year-by-year sum of item ``item`` over every scenario, folded on the workers in register order, gathered."""
    parts = [client.submit(operator.getitem, fut, item) for fut in futures]
    acc = None
    for b, cols in fold_runs(blocks):
        acc = client.submit(_fold, acc, parts[b], cols)
    return _aligned(np.asarray(client.gather(acc)))


def _dask_matrix(client: Any, futures: Sequence[Any], blocks: Sequence[Sequence[int]], years: int, item: int, dtype: Any) -> Any:
    """A dask array (years x scenarios) over item ``item`` of every block's result, in register order."""
    import dask.array as da

    parts = [
        da.from_delayed(client.submit(operator.getitem, fut, item), shape=(years, len(block)), dtype=dtype)
        for fut, block in zip(futures, blocks)
    ]
    out = da.concatenate(parts, axis=1)
    order = [j for block in blocks for j in block]
    return out if order == sorted(order) else out[:, np.argsort(order)]
