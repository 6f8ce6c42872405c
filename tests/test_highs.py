"""The HiGHS call (optimization._highs): SciPy's answers and status codes, improving plans, and silence."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from riskbudget.optimization import _highs


def _knapsack(seed: int, n: int = 12):
    rng = np.random.default_rng(seed)
    value = rng.uniform(1, 10, n)
    weight = rng.uniform(1, 10, n)
    A = sp.csr_matrix(np.vstack([weight, rng.uniform(0, 1, n)]))
    return -value, A, np.array([-np.inf, 0.5]), np.array([weight.sum() / 3, np.inf])


@pytest.mark.parametrize("seed", range(6))
def test_the_optimum_and_its_bound_are_scipys(seed):
    c, A, rl, ru = _knapsack(seed)
    n = c.size
    ours = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n), mip_rel_gap=1e-9)
    ref = milp(c, constraints=LinearConstraint(A, rl, ru), integrality=np.ones(n), bounds=Bounds(0, 1),
               options={"mip_rel_gap": 1e-9})
    assert ours.status == ref.status == 0 and ours.success
    assert ours.fun == pytest.approx(ref.fun, rel=1e-9)
    assert ours.mip_dual_bound <= ours.fun + 1e-9 and ours.mip_gap <= 1e-9
    assert np.all(np.isclose(ours.x, np.round(ours.x)))
    assert (A @ ours.x <= ru + 1e-9).all() and (A @ ours.x >= rl - 1e-9).all()
    assert ours.fun == pytest.approx(c @ ours.x)


def test_infeasible_and_relaxed_programs_keep_scipys_codes():
    c, A, rl, ru = _knapsack(1)
    n = c.size
    infeasible = _highs.solve(c, A, np.array([A[0].sum() + 1, -np.inf]), np.array([np.inf, np.inf]),
                              np.zeros(n), np.ones(n), np.ones(n))
    assert infeasible.status == 2 and infeasible.x is None and not infeasible.success
    lp = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.zeros(n))
    ref = milp(c, constraints=LinearConstraint(A, rl, ru), integrality=np.zeros(n), bounds=Bounds(0, 1))
    assert lp.status == 0 and lp.fun == pytest.approx(ref.fun, rel=1e-9)
    assert lp.fun <= _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n)).fun + 1e-12  # a relaxation


def test_every_improving_plan_goes_through_check_and_the_rejected_come_back():
    c, A, rl, ru = _knapsack(3, n=16)
    n = c.size
    seen: list[np.ndarray] = []

    def check(x: np.ndarray) -> bool:
        seen.append(x.copy())
        return False  # reject every plan: each improving plan is then "broken"

    res = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n), check=check)
    assert res.status == 0 and len(res.broken) == len(seen) >= 1
    for x in res.broken:  # each is a plan of the program (integral, within its rows)
        assert x.size == n and np.all(np.isclose(x, np.round(x)))
        assert (A @ x <= ru + 1e-7).all() and (A @ x >= rl - 1e-7).all()
    objective = [float(c @ x) for x in res.broken]
    assert all(b <= a + 1e-9 for a, b in zip(objective, objective[1:]))  # improving, in the order found
    assert np.allclose(res.broken[-1], res.x)
    kept = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n), check=lambda x: True)
    assert kept.broken == [] and kept.fun == pytest.approx(res.fun)


@pytest.mark.parametrize("seed", range(4))
def test_a_start_gives_the_same_optimum_and_a_bad_one_is_ignored(seed):
    c, A, rl, ru = _knapsack(seed, n=16)
    n = c.size
    best = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n), mip_rel_gap=1e-9)
    feasible = np.zeros(n)
    feasible[np.argmax(A[1].toarray().ravel())] = 1.0  # one item: within the weight row and above the other row
    assert (A @ feasible <= ru).all() and (A @ feasible >= rl).all()
    bad = np.ones(n)  # every item: over the weight limit
    assert not (A @ bad <= ru).all()
    for start in (feasible, best.x, bad, np.full(n, 0.5)):
        res = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n), mip_rel_gap=1e-9, start=start)
        assert res.status == 0 and res.fun == pytest.approx(best.fun, rel=1e-9)
        assert np.array_equal(np.round(res.x), np.round(best.x))
    lp = _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.zeros(n), start=bad)
    assert lp.status == 0 and lp.fun <= best.fun + 1e-12


def test_highs_prints_nothing_on_standard_output():
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from riskbudget.optimization import _highs\n"
        "r = _highs.solve(np.array([-1.0, -2.0]), sp.csr_matrix([[1.0, 1.0]]), np.array([-np.inf]),"
        " np.array([1.5]), np.zeros(2), np.ones(2), np.array([1, 1]))\n"
        "assert r.status == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "" and "HiGHS" not in done.stderr


def test_every_solve_runs_with_the_measured_options(monkeypatch):
    made = []
    new = _highs._new_highs

    def recording():
        h = new()
        made.append(h)
        return h

    monkeypatch.setattr(_highs, "_new_highs", recording)
    c, A, rl, ru = _knapsack(2)
    n = c.size
    _highs.solve(c, A, rl, ru, np.zeros(n), np.ones(n), np.ones(n))
    [h] = made
    assert _highs.MIP_OPTIONS  # what they are and why is measured in the module
    for name, value in _highs.MIP_OPTIONS.items():
        status, now = h.getOptionValue(name)
        assert now == value, name
    assert h.getOptionValue("threads")[1] == 1
