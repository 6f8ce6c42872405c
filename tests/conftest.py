"""Shared fixtures for the riskbudget test suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("RISKBUDGET_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import riskbudget as rb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"


@pytest.fixture(scope="session")
def example_register_path() -> Path:
    return EXAMPLE / "register.csv"


@pytest.fixture(scope="session")
def example_register(example_register_path: Path) -> rb.Register:
    return rb.read_register(example_register_path)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def standard_scenario() -> rb.Scenario:
    """The standard scenario of the engine benchmark (issue #2)."""
    return rb.Scenario(
        "standard",
        threat_event_frequency=rb.PERT(0.5, 2, 8),
        threat_capability=rb.PERT(0.2, 0.5, 0.9),
        resistance_strength=rb.PERT(0.3, 0.6, 0.85),
        primary_loss=rb.PERT(50_000, 200_000, 2_000_000),
        secondary_loss_probability=rb.PERT(0.1, 0.3, 0.5),
        secondary_loss=rb.PERT(10_000, 100_000, 1_000_000),
    )


def within_se(estimate: float, exact: float, se: float, k: float = 4.0) -> bool:
    """True when |estimate - exact| <= k standard errors."""
    return abs(estimate - exact) <= k * se


@pytest.fixture(scope="session")
def dask_client():
    """One LocalCluster (two worker processes, one thread each, no dashboard) for every Dask test of the session.

    dask is in the test extra (``riskbudget[dask]``), so ``make test`` runs these tests; an import error here
    means the environment lacks it, and is a failure, not a skip.
    """
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, memory_limit="2GiB"
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()

