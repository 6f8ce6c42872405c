"""Dask: ``client=`` gives what a local run gives, bit for bit, without bringing the years x scenarios matrix home.

One LocalCluster (two worker processes, one thread each, no dashboard) is shared by every Dask test of the session.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import dask.array as da  # dask is in the test extra: without it these tests fail, never skip
import numpy as np
import pandas as pd
import pytest

import riskbudget as rb
from riskbudget.insurance import Insurance
from riskbudget.portfolio import contributions

YEARS = 20_000


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client  # the session's LocalCluster (tests/conftest.py), shared with tests/test_frontier_dask.py


@pytest.fixture(scope="module")
def register():
    return rb.datasets.load_register()


@pytest.fixture(scope="module")
def pair(client, register):
    """The example register run locally and on the cluster (uneven blocks of 3 scenarios)."""
    local = rb.simulate(register, years=YEARS, seed=11)
    remote = rb.simulate(register, years=YEARS, seed=11, client=client, scenarios_per_task=3)
    return local, remote


def _same_result(local: rb.SimulationResult, remote: rb.SimulationResult) -> None:
    gathered = remote.compute()
    assert type(gathered) is rb.SimulationResult
    assert np.array_equal(local.losses.to_numpy(), gathered.losses.to_numpy())
    assert gathered.losses.columns.equals(local.losses.columns)
    assert np.array_equal(local.annual_loss.to_numpy(), remote.annual_loss.to_numpy())
    assert np.array_equal(local.annual_loss.to_numpy(), gathered.annual_loss.to_numpy())
    if local.counts is None:
        assert remote.counts is None
    else:
        assert np.array_equal(local.counts.to_numpy(), gathered.counts.to_numpy())
    if local.recoveries is not None:
        assert np.array_equal(local.recoveries.to_numpy(), gathered.recoveries.to_numpy())
        assert np.array_equal(local.recovered.to_numpy(), remote.recovered.to_numpy())
    assert (gathered.seed, gathered.spawn_key, gathered.method) == (local.seed, local.spawn_key, local.method)
    _same_frame(local.summary(), remote.summary())


def _same_frame(a, b) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


def test_simulate_on_the_cluster_is_the_local_run_bit_for_bit(pair):
    local, remote = pair
    assert isinstance(remote, rb.SimulationResult)
    assert isinstance(remote.losses, da.Array) and isinstance(remote.counts, da.Array)
    assert remote.losses.shape == (YEARS, len(local.names))
    assert [len(b) for b in remote.blocks] == [3, 3, 3, 3, 3, 1]
    assert np.array_equal(remote.losses.compute(), local.losses.to_numpy())
    _same_result(local, remote)


def test_metrics_are_the_local_ones(pair):
    local, remote = pair
    name = local.names[4]
    for q in (0.9, 0.95, 0.99):
        assert remote.var(q) == local.var(q) and remote.tvar(q) == local.tvar(q)
        assert remote.var(q, scenario=name) == local.var(q, scenario=name)
    assert remote.ale() == local.ale() and remote.ale_se() == local.ale_se()
    x = [0.0, 1e6, 5e6, 2e7]
    assert np.array_equal(remote.exceedance(x), local.exceedance(x))
    assert remote.lec().equals(local.lec()) and remote.lec(scenario=name).equals(local.lec(scenario=name))
    assert remote.summary(quantiles=(0.5, 0.999), q=0.99).equals(local.summary(quantiles=(0.5, 0.999), q=0.99))
    assert remote.summary_by("owner").equals(local.summary_by("owner"))
    assert remote.precision_notes(0.001) == local.precision_notes(0.001)
    picked = [local.names[9], local.names[2], local.names[3]]  # out of register order
    assert remote.select(picked).summary().equals(local.select(picked).summary())


def test_euler_contributions_agree_to_rounding(pair):
    local, remote = pair
    expected, got = contributions(local, q=0.95), remote.contributions(q=0.95)
    assert got.index.equals(expected.index) and list(got.columns) == list(expected.columns)
    assert got.attrs == expected.attrs  # VaR, TVaR, ALE and tail years exactly
    for col in ("standalone_var", "standalone_tvar", "ale_se"):
        assert np.array_equal(got[col].to_numpy(), expected[col].to_numpy()), col
    # one dot product per scenario on a worker against one matrix product locally: rounding only
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=0)
    assert got["tvar_contribution"].sum() == pytest.approx(remote.tvar(0.95), rel=1e-12)


def test_the_client_never_receives_the_matrix(client, register, monkeypatch):
    years = 100_000
    matrix_bytes = years * len(register) * 8
    remote = rb.simulate(register, years=years, seed=2, client=client, keep_counts=False)
    monkeypatch.setattr(type(remote), "compute", lambda self: pytest.fail("compute() gathers the matrix"))
    tracemalloc.start()
    try:
        remote.summary()
        remote.contributions()
        remote.lec()
        remote.var(0.99, scenario=register.names[0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(remote.losses, da.Array)
    # a few vectors of years floats (the total, one column, their sorted copies), never years x scenarios
    assert peak < matrix_bytes / 2, (peak, matrix_bytes)


def test_dependence_and_insurance_are_respected(client, register):
    names = register.names
    dep = rb.Dependence(
        {(names[0], names[1]): 0.7, (names[4], names[12]): 0.5},
        shocks=[rb.CommonShock("Cloud outage", [names[5], names[14]], multiplier=rb.PERT(2, 3, 6), annual_probability=0.2)],
    )
    policies = [
        Insurance("Cyber per event", 0, 250_000, 2e6, basis="per_event"),
        # one annual layer on scenarios far apart in the register: they must share a block
        Insurance("Ransomware aggregate", 0, 1e6, 5e6, applies_to=[names[0], names[13]]),
    ]
    kwargs = dict(years=5_000, seed=5, dependence=dep, insurance=policies)
    local = rb.simulate(register, **kwargs)
    remote = rb.simulate(register, client=client, scenarios_per_task=2, **kwargs)
    assert (0, 13) in remote.blocks  # not consecutive: the total is still folded in register order
    _same_result(local, remote)


def test_posterior_draws_shared_across_scenarios(client):
    from riskbudget import bayes

    posterior = bayes.update_rate(rb.Gamma(2, 1), events=3, years=4)
    severity = bayes.update_severity(bayes.severity_prior(50_000, 1_000_000), [23_000, 140_000, 61_000])
    # two scenarios from one posterior use the same posterior draw in a year (a run-level stream)
    a = bayes.conjugate_scenario("Site A", posterior, severity, seed=1, max_loss_per_event=1e7)
    b = bayes.conjugate_scenario("Site B", posterior, severity, seed=1, max_loss_per_event=1e7)
    other = rb.Scenario("Other", loss_event_frequency=rb.PERT(0.5, 1, 3), primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
    reg = rb.Register([a, other, b])
    local = rb.simulate(reg, years=4_000, seed=8)
    remote = rb.simulate(reg, years=4_000, seed=8, client=client, scenarios_per_task=1)
    _same_result(local, remote)


def test_lef_x_lm_without_counts(client, register):
    kwargs = dict(years=3_000, seed=4, method="lef_x_lm", keep_counts=False)
    local = rb.simulate(register, **kwargs)
    _same_result(local, rb.simulate(register, client=client, **kwargs))


def test_clear_errors(client, register):
    with pytest.raises(rb.RiskBudgetError, match="client must be a dask.distributed.Client"):
        rb.simulate(register, years=10, seed=1, client="tcp://127.0.0.1:8786")
    with pytest.raises(rb.RiskBudgetError, match="scenarios_per_task applies only with client="):
        rb.simulate(register, years=10, seed=1, scenarios_per_task=2)
    with pytest.raises(rb.RiskBudgetError, match=r"scenarios_per_task \(0\) must be >= 1"):
        rb.simulate(register, years=10, seed=1, client=client, scenarios_per_task=0)
    with pytest.raises(rb.RiskBudgetError, match="more than half a worker's memory limit"):
        rb.simulate(register, years=200_000_000, seed=1, client=client, scenarios_per_task=16)
    with pytest.raises(KeyError, match="no scenario named 'nope'"):
        rb.simulate(register, years=10, seed=1, client=client).column("nope")


def test_import_riskbudget_does_not_import_dask():
    code = "import sys, riskbudget; print(','.join(m for m in ('dask', 'distributed') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_value_of_information_on_the_cluster_is_the_local_one(client):
    from riskbudget.optimization import optimize, precompute
    from riskbudget.voi import evppi, value_of_information

    from .test_optimize import small_instance

    reg, controls, projects = small_instance()
    problem = precompute(reg, controls, projects, years=4_000, seed=5, progress=False)
    plan = optimize(problem, budget=900_000)
    local, remote = value_of_information(plan, seed=3), value_of_information(plan, seed=3, client=client)
    _same_frame(local.table, remote.table)
    assert local.evpi == remote.evpi and local.best == remote.best
    rng = np.random.default_rng(0)
    nb, inputs = rng.normal(size=(500, 3)), {f"x{i}": rng.random(500) for i in range(4)}
    _same_frame(evppi(nb, inputs, permutations=0), evppi(nb, inputs, permutations=0, client=client))
    with pytest.raises(rb.RiskBudgetError, match="evppi: client must be a dask.distributed.Client"):
        evppi(nb, inputs, client=object())


@pytest.mark.pymc
def test_fit_each_unit_on_the_cluster_is_the_local_fit(client):
    import warnings

    from riskbudget import bayes
    from riskbudget.io import example_path

    data = bayes.read_incidents(example_path("incidents.csv"), threshold=10_000).filter(
        unit=["Road freight", "Warehousing"]
    )
    kwargs = dict(
        rate_prior=bayes.rate_prior(rate=2, effective_years=1), severity=None, draws=200, tune=200, chains=2,
        seed=7, progress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.ConvergenceWarning)  # 200 draws: tiny on purpose
        local = bayes.fit_each(data, **kwargs)
        remote = bayes.fit_each(data, client=client, **kwargs)
    assert list(local) == list(remote) == ["Road freight", "Warehousing"]
    assert local["Road freight"].seed != local["Warehousing"].seed  # independent chains per unit
    for unit in local:
        assert remote[unit].seed == local[unit].seed
        a, b = local[unit].idata.posterior, remote[unit].idata.posterior
        assert all(np.array_equal(a[v].values, b[v].values) for v in a.data_vars)
        assert remote[unit].data.units == (unit,)
    with pytest.raises(rb.RiskBudgetError, match=r"fit_each: by='owner' is not one of \['unit', 'category'\]"):
        bayes.fit_each(data, by="owner", **kwargs)
