"""A security control: its cost, where it acts and how strongly."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._random import control_stream_name
from ..distributions import from_dict as distribution_from_dict
from ..fair import Adjustment, Scenario, SharedMultiplier
from ._common import (
    ALL,
    FUNCTIONS,
    ControlError,
    _check_factor,
    _checked_names,
    _in_unit,
    _multi_year,
    _name_and_cost,
    _nonnegative,
    _relations,
    _share_estimate,
    _text_fields,
    live_share,
)
from .effects import ResponseSLA, contained_ratio


# --------------------------------------------------------------------------- #
# Control
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Control:
    """A security control: its cost, where it acts and how strongly.

    Parameters
    ----------
    name : str
        Unique name; it keys the control's random stream.
    cost_per_year : float
        Annual cost (licences, people, services), >= 0.
    applies_to : str or sequence of str
        Scenario names, scenario ids or categories it covers (``"*"``: all).
    avoidance, deterrence : Distribution, optional
        Share of threat events removed (lowers ``"frequency"``).
    resistance : Distribution, optional
        Share of threat events that no longer become loss events (lowers
        ``"susceptibility"``; thins loss events of loss-level scenarios).
    detection, response : Distribution, optional
        Share of the loss per event removed, on ``loss_factor``.
    loss_factor : str, default "loss"
        The loss that detection and response act on: ``"loss"``,
        ``"primary_loss"``, ``"secondary_loss"`` or a form such as
        ``"primary_loss.productivity"``.
    response_sla : ResponseSLA, optional
        An incident-response SLA (hours to contain x cost per hour).
    coverage : float, default 1
        Share of the assets covered, in [0, 1].
    lapses_per_year, days_per_lapse : float, default 0
        How often the control lapses and for how long; reliability is
        ``(1 - lapses_per_year / 365) ** days_per_lapse``.
    strength_when_lapsed : float, default 0
        Strength left while lapsed, in [0, 1].
    requires, excludes : sequence of str
        Names of controls or projects this one needs, or cannot go with.
    category, owner, description : str

    Examples
    --------
    >>> import riskbudget as rb
    >>> edr = rb.Control("EDR", 180_000, applies_to="ransomware", resistance=rb.PERT(0.3, 0.5, 0.7),
    ...                  coverage=0.95, lapses_per_year=4, days_per_lapse=2)
    >>> round(edr.reliability, 4)
    0.9782
    >>> round(edr.effective_strength("resistance"), 3)
    0.465
    """

    name: str
    cost_per_year: float
    applies_to: tuple[str, ...] = (ALL,)
    avoidance: Any = None
    deterrence: Any = None
    resistance: Any = None
    detection: Any = None
    response: Any = None
    loss_factor: str = "loss"
    response_sla: ResponseSLA | None = None
    coverage: float = 1.0
    lapses_per_year: float = 0.0
    days_per_lapse: float = 0.0
    strength_when_lapsed: float = 0.0
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    category: str = ""
    owner: str = ""
    description: str = ""
    one_off_cost: float = 0.0
    lead_time_months: float = 0.0

    def __post_init__(self) -> None:
        who = _name_and_cost(self, "Control", ControlError)
        _multi_year(self, who, ControlError)
        applies = _checked_names(who, "applies_to", self.applies_to, ControlError)
        if not applies:
            raise ControlError(f"{who}: applies_to is empty; name the scenarios or categories it covers ('*' for all)")
        object.__setattr__(self, "applies_to", applies)
        for fn in FUNCTIONS:
            value = getattr(self, fn)
            if value is not None:
                object.__setattr__(self, fn, _share_estimate(who, fn, value, ControlError))
        object.__setattr__(self, "loss_factor", _check_factor(who, self.loss_factor, ControlError))
        if self.loss_factor in ("frequency", "susceptibility"):
            raise ControlError(
                f"{who}: loss_factor ({self.loss_factor!r}) must be a loss: 'loss', 'primary_loss', 'secondary_loss' or a form"
            )
        if self.response_sla is not None and not isinstance(self.response_sla, ResponseSLA):
            raise ControlError(f"{who}: response_sla must be a ResponseSLA, not {type(self.response_sla).__name__}")
        if not self.effects:
            raise ControlError(
                f"{who}: no effect given; state at least one of avoidance, deterrence, resistance, detection, "
                f"response (a share removed, e.g. PERT(0.3, 0.5, 0.7)) or a response_sla"
            )
        object.__setattr__(self, "coverage", _in_unit(who, "coverage", self.coverage, ControlError))
        lapses = _nonnegative(who, "lapses_per_year", self.lapses_per_year, ControlError)
        if lapses > 365:
            raise ControlError(f"{who}: lapses_per_year ({lapses:g}) must be at most 365 (one a day)")
        object.__setattr__(self, "lapses_per_year", lapses)
        days = _nonnegative(who, "days_per_lapse", self.days_per_lapse, ControlError)
        if days > 365:
            raise ControlError(f"{who}: days_per_lapse ({days:g}) must be at most 365")
        object.__setattr__(self, "days_per_lapse", days)
        object.__setattr__(
            self, "strength_when_lapsed", _in_unit(who, "strength_when_lapsed", self.strength_when_lapsed, ControlError)
        )
        _relations(self, who, ControlError)
        _text_fields(self, who, ControlError)

    # ------------------------------------------------------------------ #
    @property
    def reliability(self) -> float:
        """Chance the control works on a given day: ``(1 - lapses/365) ** days_per_lapse``."""
        return (1.0 - self.lapses_per_year / 365.0) ** self.days_per_lapse

    @property
    def effects(self) -> dict[str, str]:
        """Function -> factor for every effect stated (``"response_sla"`` included)."""
        out = {}
        for fn, factor in FUNCTIONS.items():
            if getattr(self, fn) is not None:
                out[fn] = self.loss_factor if factor == "loss" else factor
        if self.response_sla is not None:
            out["response_sla"] = self.response_sla.factor
        return out

    def effective_strength(self, function: str) -> float:
        """Expected effective strength of one function (coverage and reliability included)."""
        if function == "response_sla":
            if self.response_sla is None:
                raise ControlError(f"Control {self.name!r}: has no response_sla")
            share = self.response_sla.disruption_share if self.response_sla.disruption_share is not None else 1.0
            s = share * self.response_sla.mean_reduction()
        else:
            if function not in FUNCTIONS:
                raise ControlError(
                    f"Control {self.name!r}: unknown function {function!r}; use one of {list(FUNCTIONS)}"
                )
            d = getattr(self, function)
            if d is None:
                raise ControlError(f"Control {self.name!r}: has no {function} effect")
            s = d.mean()
        rel = self.reliability
        return self.coverage * (rel * s + (1.0 - rel) * self.strength_when_lapsed)

    def adjustments_for(self, scenario: Scenario) -> tuple[Adjustment, ...]:
        """The control's adjustments on one scenario (one per factor, in a fixed order)."""
        by_factor: dict[str, list[Any]] = {}
        loss_level = scenario.susceptibility_kind is None
        for fn in FUNCTIONS:
            if getattr(self, fn) is None:
                continue
            factor = self.effects[fn]
            if fn == "resistance" and loss_level:
                factor = "frequency"
            by_factor.setdefault(factor, []).append(fn)
        if self.response_sla is not None:
            share = self.response_sla.share_for(scenario, self.name)
            by_factor.setdefault(self.response_sla.factor, []).append(("sla", share))
        out = []
        for factor, terms in by_factor.items():
            self._check_target(scenario, factor)
            out.append(Adjustment(factor, ControlMultiplier(self, tuple(terms)), self.name))
        return tuple(out)

    def _check_target(self, scenario: Scenario, factor: str) -> None:
        problem = scenario.loss_target_problem(factor)
        if problem:
            base = factor.partition(".")[0]
            fix = "use loss_factor 'loss' or 'primary_loss'" if base == "secondary_loss" and "." not in factor else f"use 'loss' or '{base}'"
            raise ControlError(
                f"Control {self.name!r}: acts on {factor}, but {problem}; {fix}, or leave the scenario out of applies_to"
            )

    def effect_share(self, year: int) -> float:
        """The share of year ``year`` (1, 2, ...) the control's effect is live: ``clamp(t - lead / 12, 0, 1)``."""
        return live_share(year, self.lead_time_months)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "cost_per_year": self.cost_per_year,
            "applies_to": list(self.applies_to),
        }
        for fn in FUNCTIONS:
            d = getattr(self, fn)
            if d is not None:
                out[fn] = d.to_dict()
        if self.response_sla is not None:
            out["response_sla"] = self.response_sla.to_dict()
        for f in (
            "loss_factor",
            "coverage",
            "lapses_per_year",
            "days_per_lapse",
            "strength_when_lapsed",
            "requires",
            "excludes",
            "category",
            "owner",
            "description",
            "one_off_cost",
            "lead_time_months",
        ):
            value = getattr(self, f)
            out[f] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Control:
        """Rebuild a control from :meth:`to_dict` output (a saved plan, a YAML or JSON file)."""
        if not isinstance(data, dict):
            raise ControlError(f"a control must be a mapping, not {type(data).__name__}")
        d = dict(data)
        for fn in FUNCTIONS:
            if d.get(fn) is not None:
                d[fn] = distribution_from_dict(d[fn])
        if d.get("response_sla") is not None:
            d["response_sla"] = ResponseSLA.from_dict(d["response_sla"])
        try:
            return cls(**d)
        except TypeError as exc:
            raise ControlError(f"Control {d.get('name')!r}: {exc}") from None


# --------------------------------------------------------------------------- #
# The yearly multiplier of a control
# --------------------------------------------------------------------------- #
#: Columns of a control's per-year uniform block, in order: the strength (when
#: working) of each FAIR-CAM function, then the SLA's hours to contain without
#: and with the control. One row a year, from the control's shared stream.
CONTROL_COMPONENTS = ("avoidance", "deterrence", "resistance", "detection", "response", "hours_without", "hours_with")


def control_component(control: Control, component: str, u: np.ndarray) -> np.ndarray | None:
    """Per-year draws of one uncertain component of ``control`` from its uniform block ``u``.

    The one place that maps a control's uniforms to its yearly strengths and
    hours to contain: the simulation (:class:`ControlMultiplier`) and the
    value-of-information analysis both read them here. None when the control
    lacks the component.
    """
    if component in ("hours_without", "hours_with"):
        sla = control.response_sla
        if sla is None:
            return None
        dist = sla.hours_to_contain if component == "hours_without" else sla.hours_to_contain_with_control
    else:
        dist = getattr(control, component)
        if dist is None:
            return None
    return dist.from_uniform(u[:, CONTROL_COMPONENTS.index(component)])


@dataclass(frozen=True)
class ControlMultiplier(SharedMultiplier):
    """``1 - effective strength`` of one control on one factor of one scenario, per year.

    ``terms`` lists the effects acting on the factor: a function name
    (``"avoidance"``, ...) or ``("sla", share)``. Each simulated year draws one
    row of uniforms for all the control's components from the control's own
    run-level stream (``shared_stream``), so the draw of, say, the control's
    resistance is the same in every scenario it covers and in every option
    compared, and drawing n then m years equals drawing n + m.
    """

    control: Control
    terms: tuple[Any, ...]

    family: ClassVar[str] = "control_multiplier"

    @property
    def shared_stream(self) -> str:
        return control_stream_name(self.control.name)

    def _strengths(self, u: np.ndarray) -> list[np.ndarray]:
        c = self.control
        out = []
        for term in self.terms:
            if isinstance(term, tuple):
                _, share = term
                h0 = control_component(c, "hours_without", u)
                h1 = control_component(c, "hours_with", u)
                assert h0 is not None and h1 is not None
                out.append(share * (1.0 - contained_ratio(h0, h1)))
            else:
                strength = control_component(c, term, u)
                assert strength is not None
                out.append(strength)
        return out

    def _effective(self, s: Any) -> Any:
        c = self.control
        rel = c.reliability
        return c.coverage * (rel * s + (1.0 - rel) * c.strength_when_lapsed)

    #: Uniforms drawn per simulated year (one row per year, shared by every factor).
    n_uniforms: ClassVar[int] = len(CONTROL_COMPONENTS)

    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Multipliers for rows of uniforms (``u.shape == (n, n_uniforms)``)."""
        out = np.ones(u.shape[0])
        for s in self._strengths(u):
            out *= 1.0 - self._effective(s)
        return out

    def _term_range(self, term: Any) -> tuple[float, float]:
        c = self.control
        if isinstance(term, tuple):
            share = term[1]
            sla = c.response_sla
            assert sla is not None
            h0_lo, h0_hi = sla.hours_to_contain.support()
            h1_lo, h1_hi = sla.hours_to_contain_with_control.support()
            r_lo = min(1.0, h1_lo / h0_hi) if math.isfinite(h0_hi) else 0.0
            r_hi = min(1.0, h1_hi / h0_lo) if math.isfinite(h1_hi) and h0_lo > 0 else 1.0
            return share * (1.0 - r_hi), share * (1.0 - r_lo)
        return getattr(c, term).support()

    def support(self) -> tuple[float, float]:
        low = high = 1.0
        for term in self.terms:
            s_lo, s_hi = self._term_range(term)
            low *= 1.0 - self._effective(s_hi)
            high *= 1.0 - self._effective(s_lo)
        return (max(low, 0.0), high)

    def mean(self) -> float:
        out = 1.0
        for term in self.terms:
            if isinstance(term, tuple):
                sla = self.control.response_sla
                assert sla is not None
                s = term[1] * sla.mean_reduction()
            else:
                s = getattr(self.control, term).mean()
            out *= 1.0 - self._effective(s)
        return float(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "control": self.control.name,
            "terms": [list(t) if isinstance(t, tuple) else t for t in self.terms],
            "mean": self.mean(),
        }

    def __str__(self) -> str:
        return f"ControlMultiplier({self.control.name!r}, mean {self.mean():.3g})"
