"""Memory is estimated before a run, and chunks keep it bounded at any event rate."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import riskbudget as rb
from riskbudget import _memory
from riskbudget.exceptions import MemoryLimitError, RiskBudgetError
from riskbudget.simulation import BYTES_PER_EVENT, memory_estimate


def _busy(rate: float) -> rb.Scenario:
    return rb.Scenario("Busy", loss_event_frequency=rate, primary_loss=rb.LogNormal.from_ci(100, 1_000))


def test_the_environment_override_is_read_in_every_unit(monkeypatch):
    for text, value in (("2G", 2 * 2**30), ("512M", 512 * 2**20), ("1.5K", 1536), ("4096", 4096), ("3gb", 3 * 2**30)):
        monkeypatch.setenv("RISKBUDGET_MEMORY_LIMIT", text)
        assert _memory.available_bytes() == value
    monkeypatch.delenv("RISKBUDGET_MEMORY_LIMIT")
    detected = _memory.available_bytes()
    assert detected is None or detected > 0


def test_a_run_too_big_for_memory_is_refused_naming_the_years_and_the_sizes(monkeypatch):
    register = rb.read_register(rb.datasets.example_path("register.csv"))
    monkeypatch.setenv("RISKBUDGET_MEMORY_LIMIT", "100M")
    with pytest.raises(MemoryLimitError, match=r"simulate: 10,000,000 years x 16 scenario\(s\) needs about 2\.\d+ GB of "
                                               r"memory, but only 105 MB is available"):
        rb.simulate(register, years=10_000_000, seed=1)
    # without the loss-event counts 10M x 16 x 8 bytes is still 1.28 GB
    with pytest.raises(MemoryLimitError, match="simulate fewer years"):
        rb.simulate(register, years=10_000_000, seed=1, keep_counts=False)
    # a run that fits goes ahead
    assert rb.simulate(register, years=1_000, seed=1).years == 1_000
    assert issubclass(MemoryLimitError, RiskBudgetError)


def test_the_estimate_counts_the_result_arrays_and_the_busiest_chunks():
    register = rb.Register([_busy(1e5), _busy(10.0).renamed("Quiet")])
    result, working = memory_estimate(register, 1_000, chunk_size=3, n_jobs=1, keep_counts=True)
    assert result == 1_000 * (2 * 12 + 16)
    assert working == pytest.approx(2 * 1e5 * 3 * BYTES_PER_EVENT)
    result, working = memory_estimate(register, 1_000, chunk_size=3, n_jobs=2, keep_counts=False)
    assert result == 1_000 * (2 * 8 + 16)
    assert working == pytest.approx(2 * (1e5 + 10.0) * 3 * BYTES_PER_EVENT)


def test_a_scenario_whose_single_year_cannot_fit_is_named(monkeypatch):
    monkeypatch.setenv("RISKBUDGET_MEMORY_LIMIT", "64M")
    with pytest.raises(MemoryLimitError, match=r"Scenario 'Busy': about 1e\+06 threat events a year \(expected\), "
                                               r"so one simulated year needs about 256 MB.*units of its frequency"):
        rb.simulate(_busy(1e6), years=10, seed=1)


def test_chunks_shrink_so_a_busy_scenario_stays_within_a_few_tens_of_mb():
    """1e5 events a year: chunks of about 2.6 years (not 1,024) keep the working set near 30 MB."""
    tracemalloc.start()
    try:
        result = rb.simulate(_busy(1e5), years=64, seed=3, n_jobs=1, keep_counts=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 120e6, f"peak traced memory {peak / 1e6:.0f} MB"
    # 64 years of about 1e5 events of mean ~ 370: the ALE matches its closed form within 4 SE
    mean_loss = rb.LogNormal.from_ci(100, 1_000).mean()
    assert abs(result.ale() - 1e5 * mean_loss) < 4 * result.ale_se() + 1e-6


def test_chunk_size_never_changes_a_busy_result():
    a = rb.simulate(_busy(3e4), years=20, seed=5, n_jobs=1).losses.to_numpy()
    b = rb.simulate(_busy(3e4), years=20, seed=5, n_jobs=1, chunk_size=20).losses.to_numpy()
    np.testing.assert_array_equal(a, b)


def test_the_optimiser_refuses_a_precomputation_that_cannot_fit(monkeypatch):
    ds = rb.datasets
    monkeypatch.setenv("RISKBUDGET_MEMORY_LIMIT", "200M")
    with pytest.raises(MemoryLimitError, match=r"optimize: 1,000,000 years x \d+ combinations of 18 scenarios"):
        rb.optimize(ds.load_register(), ds.load_controls(), ds.load_projects(), budget=6e6, years=1_000_000, seed=1,
                    progress=False)
