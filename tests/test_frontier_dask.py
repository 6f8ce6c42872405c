"""The efficient frontier on a Dask cluster (``frontier(..., client=)``): the plans of the local run, bit for bit.

One LocalCluster of two worker processes (one thread each), as in tests/test_dask.py; a small problem so that
the module stays lean (about 10 s, most of it starting the cluster).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.exceptions import RiskBudgetError
from riskbudget.optimization import frontier, precompute


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client  # the session's LocalCluster (tests/conftest.py), shared with tests/test_dask.py


@pytest.fixture(scope="module")
def problem():
    ds = rb.datasets
    return precompute(ds.load_register(), ds.load_controls(), ds.load_projects(), years=1_000, seed=7, progress=False)


def _same(a, b) -> None:
    assert a.table.equals(b.table)
    assert a.best_index == b.best_index
    for p, q in zip(a.plans, b.plans):
        assert p.funding == q.funding
        assert p.notes == q.notes and p.status == q.status and p.bound == q.bound or np.isnan(p.bound)
        assert p.problem is q.problem
        assert np.array_equal(p.result.annual_loss.to_numpy(), q.result.annual_loss.to_numpy())


def test_frontier_on_a_cluster_is_the_local_frontier(client, problem):
    appetite = rb.Appetite(tvar95=20e6)
    local = frontier(problem, budget=6e6, appetite=appetite, points=4, n_jobs=2)
    remote = frontier(problem, budget=6e6, appetite=appetite, points=4, client=client)  # one task per share
    _same(remote, local)
    assert set(local.table["status"]) == {"optimal", "infeasible_appetite"}
    # every share on its own: the plans depend neither on n_jobs nor on where a share ran
    _same(local, frontier(problem, budget=6e6, appetite=appetite, points=4, n_jobs=1))
    many = frontier(problem, budget=6e6, appetite=appetite, points=4, client=client, n_jobs=4, appetite_mode="check")
    _same(many, frontier(problem, budget=6e6, appetite=appetite, points=4, n_jobs=3, appetite_mode="check"))


def test_the_problem_travels_without_its_locks_and_caches(problem):
    copy = pickle.loads(pickle.dumps(problem))
    funding = problem.funding(())
    assert np.array_equal(copy.total_losses(funding), problem.total_losses(funding))


def test_client_must_be_a_dask_client(problem):
    with pytest.raises(RiskBudgetError, match="client must be a dask.distributed.Client"):
        frontier(problem, budget=6e6, points=2, client="tcp://localhost:8786")
