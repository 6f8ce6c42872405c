"""The stated maximum loss per event that bounds every posterior severity.

Why a cap
---------
With an uncertain ``sigma`` the posterior predictive loss per event is a
lognormal mixed over ``sigma``: its logarithm is a Student t (the conjugate
normal-inverse-chi-square path) or close to one (the PyMC models), and its mean
is **infinite**. A simulation of it still prints an ALE, but that figure is set
by the few largest losses the run happens to draw: the README's example printed
$2.1M, $450M and $7.9B for three seeds. No real company can lose an unbounded
amount in one event, so every severity built from a posterior is capped: each
event's loss is ``min(X, max_loss)``. The cap turns the mean into a finite sum
of limited expected values and makes the ALE a number worth reporting, *with
the cap stated next to it*: with little data, the ALE depends on the cap.

Which cap
---------
1. ``max_loss_per_event=``: an explicit amount wins (the insured limit plus
   what the company would pay itself, a stress-test figure, a board's figure).
2. ``revenue=``: the company's annual revenue times :data:`REVENUE_MULTIPLE`
   (1). The largest publicly reported single-company cyber losses, of the
   order of a few billion dollars, hit companies whose revenues are tens to
   hundreds of billions a year; we know of no reported event that cost its
   victim more than a year's revenue. So a year's revenue is a generous bound.
   It is a judgement, not a law: a small firm can be ended by one event, and
   then its loss is bounded by what it has, for which a year's revenue stands
   in.
3. Neither: :data:`DEFAULT_MAX_LOSS_PER_EVENT` ($10 billion). The largest
   publicly reported single-company cyber losses are of the order of a few
   billion dollars, and the costliest campaign, NotPetya (2017), is put at the
   order of $10 billion across all its victims together. The default is a
   bound for any company, so it is far above the right cap for most: state
   ``revenue=`` or ``max_loss_per_event=`` instead. With the default, a
   posterior with little data often gives an ALE whose Monte Carlo error is
   large, which ``SimulationResult.summary()`` notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..exceptions import InvalidParameterError, check_finite
from ..formatting import money

__all__ = ["DEFAULT_MAX_LOSS_PER_EVENT", "REVENUE_MULTIPLE", "CapBasis", "LossCap", "loss_cap"]

#: The cap per event when neither ``max_loss_per_event`` nor ``revenue`` is given (in the
#: currency of the losses, US dollars for the bundled benchmarks): above every publicly reported
#: single-company cyber loss (of the order of a few billion dollars), at the order of the whole
#: NotPetya campaign across its victims.
DEFAULT_MAX_LOSS_PER_EVENT: float = 10e9

#: A cap derived from revenue is this multiple of the company's annual revenue.
REVENUE_MULTIPLE: float = 1.0


class CapBasis(Enum):
    """Where a cap per event came from."""

    EXPLICIT = "explicit"
    REVENUE = "revenue"
    DEFAULT = "default"

    @property
    def label(self) -> str:
        """Words for a repr or a report."""
        return {
            CapBasis.EXPLICIT: "stated",
            CapBasis.REVENUE: "annual revenue",
            CapBasis.DEFAULT: "default",
        }[self]


@dataclass(frozen=True)
class LossCap:
    """A maximum loss per event and where it came from.

    Examples
    --------
    >>> loss_cap(revenue=40e6)
    LossCap($40M per event, annual revenue)
    >>> loss_cap(max_loss_per_event=5e6, revenue=40e6).basis   # an explicit cap wins
    <CapBasis.EXPLICIT: 'explicit'>
    >>> loss_cap().amount == DEFAULT_MAX_LOSS_PER_EVENT
    True
    """

    amount: float
    basis: CapBasis = CapBasis.EXPLICIT

    def __post_init__(self) -> None:
        amount = check_finite("LossCap", "amount", self.amount)
        if amount <= 0:
            raise InvalidParameterError(f"LossCap: amount ({amount:g}) must be a positive loss per event")
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "basis", CapBasis(self.basis))

    def describe(self) -> str:
        """``'$40M per event (annual revenue)'``."""
        return f"{money(self.amount)} per event ({self.basis.label})"

    def __repr__(self) -> str:
        return f"LossCap({money(self.amount)} per event, {self.basis.label})"


def loss_cap(max_loss_per_event: Any = None, revenue: Any = None, *, where: str = "loss_cap") -> LossCap:
    """The cap per event to use: explicit, else from revenue, else the default.

    Parameters
    ----------
    max_loss_per_event : float, optional
        An explicit maximum loss per event; it wins over ``revenue``.
    revenue : float, optional
        The company's annual revenue; the cap is ``REVENUE_MULTIPLE * revenue``.
    where : str
        The calling function, named in errors.

    Returns
    -------
    LossCap
    """
    if revenue is not None:
        r = check_finite(where, "revenue", revenue)
        if r <= 0:
            raise InvalidParameterError(f"{where}: revenue ({r:g}) must be a positive amount a year")
    if max_loss_per_event is not None:
        m = check_finite(where, "max_loss_per_event", max_loss_per_event)
        if m <= 0:
            raise InvalidParameterError(
                f"{where}: max_loss_per_event ({m:g}) must be a positive amount; it caps every event's loss"
            )
        return LossCap(m, CapBasis.EXPLICIT)
    if revenue is not None:
        return LossCap(REVENUE_MULTIPLE * r, CapBasis.REVENUE)
    return LossCap(DEFAULT_MAX_LOSS_PER_EVENT, CapBasis.DEFAULT)
