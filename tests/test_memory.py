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


# --------------------------------------------------------------------------- #
# Loss-event counts in the smallest integer type that holds them
# --------------------------------------------------------------------------- #
def test_counts_of_a_few_events_a_year_take_one_byte_each():
    r = rb.simulate(_busy(3.0), years=5_000, seed=4, n_jobs=1)
    assert r.counts.to_numpy().dtype == np.int8
    counts = r.counts["Busy"].to_numpy()
    se = float(np.sqrt(3.0 / counts.size))
    assert abs(counts.mean() - 3.0) < 4 * se  # Poisson(3): the counts are real, not clipped
    assert int(r.counts.to_numpy().sum(axis=1).max()) == int(counts.max())  # sums widen (never wrap)


@pytest.mark.parametrize(("rate", "dtype", "narrow"), [(120.0, np.int16, np.int8), (32_700.0, np.int32, np.int16)])
def test_counts_beyond_a_type_widen_the_whole_array_never_clipped(rate, dtype, narrow):
    """Chunks above 127 (or 32,767) events are kept aside and the array widened at the end: the counts are those
    of a run whose every chunk overflows, and of any chunk size (the streams do not depend on it)."""
    register = [_busy(rate), rb.Scenario("Calm", loss_event_frequency=0.5, primary_loss=rb.LogNormal.from_ci(10, 100))]
    years = 400
    runs = [rb.simulate(register, years=years, seed=9, chunk_size=c, n_jobs=j) for c, j in ((1, 1), (7, 2), (400, 1))]
    for r in runs:
        assert r.counts.to_numpy().dtype == dtype
        assert np.array_equal(r.counts.to_numpy(), runs[0].counts.to_numpy())
    busy = runs[0].counts["Busy"].to_numpy()
    assert busy.min() <= np.iinfo(narrow).max < busy.max()  # years on both sides: narrow and wide chunks mix
    assert abs(busy.mean() - rate) < 4 * np.sqrt(rate / years)
    assert np.array_equal(runs[0].counts["Calm"].to_numpy() > 0, runs[0].losses["Calm"].to_numpy() > 0)


def test_the_count_store_keeps_every_value_exactly():
    from riskbudget.simulation.engine import CountStore

    store = CountStore(6, 2)
    store.put(0, 3, 0, np.array([1, 127, 0]), "A")
    store.put(3, 6, 0, np.array([128, 5, 40_000]), "A")
    store.put(0, 6, 1, np.array([0, 1, 2, 3, 4, 5]), "B")
    out = store.finish()
    assert out.dtype == np.int32 and out.flags.f_contiguous
    assert out[:, 0].tolist() == [1, 127, 0, 128, 5, 40_000]
    assert out[:, 1].tolist() == [0, 1, 2, 3, 4, 5]
