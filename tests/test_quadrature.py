"""The plain-NumPy adaptive quadrature behind P(capability > resistance): closed forms, kinks and singular ends."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskbudget._quadrature import integrate


@pytest.mark.parametrize(
    "f,a,b,exact",
    [
        (np.sin, 0.0, math.pi, 2.0),  # smooth
        (lambda u: np.abs(u - 0.3), 0.0, 1.0, 0.3**2 / 2 + 0.7**2 / 2),  # a kink inside a panel
        (lambda u: np.minimum(u, 0.123456789), 0.0, 1.0, 0.123456789**2 / 2 + 0.123456789 * (1 - 0.123456789)),
        (lambda u: u**0.37, 0.0, 1.0, 1 / 1.37),  # a quantile function's power-law end
        (lambda u: (1 - u) ** 0.05, 0.0, 1.0, 1 / 1.05),  # a steep one at the other end
        (lambda u: np.sqrt(u * (1 - u)), 0.0, 1.0, math.pi / 8),  # both ends
        (lambda u: np.where(u < 0.5, 0.0, 1.0), 0.0, 1.0, 0.5),  # a jump on a panel edge
        (lambda u: np.where(u < 1 / 3, 0.0, 1.0), 0.0, 1.0, 2 / 3),  # a jump inside a panel
    ],
)
def test_integrate_agrees_with_the_closed_form(f, a, b, exact):
    value, error = integrate(f, a, b, tol=1e-13)
    assert value == pytest.approx(exact, abs=1e-12)
    assert error <= 1e-11


def test_integrate_of_an_empty_or_reversed_interval_is_zero_and_an_infinite_one_is_refused():
    assert integrate(np.sin, 1.0, 1.0) == (0.0, 0.0)
    assert integrate(np.sin, 2.0, 1.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match="must be finite"):
        integrate(np.sin, 0.0, math.inf)


def test_integrate_evaluates_a_bounded_number_of_points_and_reports_an_unresolved_error():
    calls = []

    def f(u):
        calls.append(u.size)
        return np.where(u < 1 / 3, 0.0, 1.0)

    value, error = integrate(f, 0.0, 1.0, tol=0.0, max_levels=10)  # a jump never meets a zero tolerance
    assert len(calls) == 11 and sum(calls) < 16 * 30 + 10 * 4 * 30
    assert value == pytest.approx(2 / 3, abs=1e-3) and error > 0
