"""Security controls and IT projects: what they cost, what they deliver, what they change.

A :class:`Control` removes an uncertain share of one or more FAIR factors of
the scenarios it covers (after FAIR-CAM):

* **avoidance** and **deterrence** lower the threat event frequency
  (``"frequency"``);
* **resistance** lowers susceptibility (``"susceptibility"``); for a scenario
  stated at loss-event level (``loss_event_frequency`` or
  ``annual_probability``) it thins the loss events instead, which is the same
  thing since LEF = TEF x susceptibility;
* **detection** and **response** lower the loss per event (``loss_factor``,
  ``"loss"`` by default), and a :class:`ResponseSLA` states the same through
  hours to contain and the cost of an hour of disruption.

Real controls are imperfect. With ``coverage`` the share of assets covered and
``reliability = (1 - lapses_per_year / 365) ** days_per_lapse`` the chance the
control works on a given day, the effective strength of each effect in a
simulated year is ``coverage x [reliability x strength + (1 - reliability) x
strength_when_lapsed]`` and the factor is multiplied by ``1 - effective
strength`` (a :class:`ControlMultiplier`). Controls layered on one factor
multiply what gets through; effects never add.

A :class:`Project` delivers an uncertain value per year unless it fails, and
may add risk: it raises the frequency or the loss of named scenarios
(:class:`RiskChange`, a multiplier ``1 + increase``) or adds new scenarios. A
:class:`SecurityByDesign` option costs extra and delays go-live (value lost in
the first year) but removes a share of the added risk.

:func:`apply_controls` and :func:`apply_projects` return the register with the
effects added as :class:`~riskbudget.Adjustment` objects whose source is the
control or project name. Every control's (and project's) uncertain strength is
drawn once per simulated year from a run-level random stream named after it,
shared by every scenario it covers, so options compared under one seed share
common random numbers, and a control with effect 0 leaves a simulation
bit-identical.

Examples
--------
>>> import riskbudget as rb
>>> reg = rb.read_register(rb.io.example_path("register.csv"))
>>> mfa = rb.Control("MFA", cost_per_year=150_000, applies_to=("bec_fraud",),
...                  resistance=rb.PERT(0.3, 0.5, 0.7), coverage=0.9)
>>> residual = apply_controls(reg, [mfa])
>>> [a.source for a in residual["Business email compromise: payment fraud"].adjustments]
['MFA']
>>> round(mfa.effective_strength("resistance"), 3)
0.45
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .distributions import PERT, Constant, Distribution, as_distribution
from .exceptions import RiskBudgetError
from .fair import ADJUSTABLE_FACTORS, FORMS_OF_LOSS, Adjustment, LossForms, Register, Scenario, as_register

__all__ = [
    "Control",
    "Project",
    "ResponseSLA",
    "RiskChange",
    "SecurityByDesign",
    "ControlMultiplier",
    "ProjectMultiplier",
    "ControlError",
    "ProjectError",
    "FUNCTIONS",
    "read_controls",
    "read_projects",
    "apply_controls",
    "apply_projects",
    "resolve_targets",
    "CONTROL_COLUMNS",
    "PROJECT_COLUMNS",
]

#: FAIR-CAM functions of a control and the factor each one lowers by default.
FUNCTIONS: dict[str, str] = {
    "avoidance": "frequency",
    "deterrence": "frequency",
    "resistance": "susceptibility",
    "detection": "loss",
    "response": "loss",
}
#: Wildcard in ``applies_to`` / ``adds_risk_to``: every scenario.
ALL = "*"


class ControlError(RiskBudgetError):
    """A control, or a row of a controls file, breaks a rule."""


class ProjectError(RiskBudgetError):
    """A project, or a row of a projects file, breaks a rule."""


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _number(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> float:
    if isinstance(value, bool):
        raise err(f"{owner}: {name} ({value!r}) must be a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise err(f"{owner}: {name} ({value!r}) must be a number") from None
    if not math.isfinite(x):
        raise err(f"{owner}: {name} ({value!r}) must be finite, not NaN or inf")
    return x


def _in_unit(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> float:
    x = _number(owner, name, value, err)
    if not 0.0 <= x <= 1.0:
        raise err(f"{owner}: {name} ({x:g}) must lie in [0, 1]")
    return x


def _nonnegative(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> float:
    x = _number(owner, name, value, err)
    if x < 0:
        raise err(f"{owner}: {name} ({x:g}) must be >= 0")
    return x


def _share_estimate(owner: str, name: str, value: Any, err: type[RiskBudgetError]) -> Distribution:
    try:
        d = as_distribution(value, what=f"{owner}: {name}")
    except RiskBudgetError as exc:
        raise err(str(exc)) from None
    low, high = d.support()
    if low < 0 or high > 1:
        raise err(f"{owner}: {name} ({d}) takes values in [{low:g}, {high:g}]; a share removed must lie in [0, 1]")
    return d


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";")]
        return tuple(p for p in parts if p)
    return tuple(str(v).strip() for v in value if str(v).strip())


def _from_uniform(dist: Distribution, u: np.ndarray) -> np.ndarray:
    """Draws of ``dist`` from uniforms ``u`` (fast transform where the family samples by inversion)."""
    kind = dist._base_kind
    if kind == "uniform":
        return np.asarray(dist._transform(u.copy()), dtype=float)
    if kind == "none":
        return np.full(u.shape, dist.mean())
    return np.asarray(dist._from_uniform(u), dtype=float)


def _check_factor(owner: str, factor: str, err: type[RiskBudgetError]) -> str:
    factor = str(factor).strip()
    base, _, form = factor.partition(".")
    if base not in ADJUSTABLE_FACTORS or (
        form and (base not in ("primary_loss", "secondary_loss") or form not in FORMS_OF_LOSS)
    ):
        raise err(
            f"{owner}: factor {factor!r} is not adjustable; use one of {list(ADJUSTABLE_FACTORS)} or "
            f"'primary_loss.<form>' / 'secondary_loss.<form>' with a form in {list(FORMS_OF_LOSS)}"
        )
    return factor


# --------------------------------------------------------------------------- #
# Incident-response SLA
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ResponseSLA:
    """An incident-response service level: how much faster incidents are contained.

    The disruption part of a loss is hours to contain x cost per hour. With the
    control, containment takes ``min(hours_to_contain,
    hours_to_contain_with_control)`` (the retainer adds capacity; it never slows
    the team down), so the disruption part shrinks by the factor
    ``min(H0, H1) / H0`` and the effect's strength is
    ``disruption_share x (1 - min(H0, H1) / H0)``.

    Parameters
    ----------
    hours_to_contain : Distribution
        Hours to contain an incident today (``H0``, must be > 0).
    hours_to_contain_with_control : Distribution
        Hours to contain under the SLA (``H1``, >= 0).
    cost_per_hour : Distribution, optional
        Cost of an hour of disruption. With a ``factor`` that is not a single
        form of loss and no ``disruption_share``, the share of a scenario's
        loss that is disruption is ``E[H0] x E[cost_per_hour] / E[loss per
        event]`` (it must not exceed 1).
    disruption_share : float, optional
        Share of the loss on ``factor`` that scales with the hours to contain.
        Defaults to 1 when ``factor`` is a form of loss (e.g.
        ``"primary_loss.productivity"``).
    factor : str, default "primary_loss"
        The loss the SLA acts on.

    Examples
    --------
    >>> import riskbudget as rb
    >>> sla = ResponseSLA(rb.PERT(24, 72, 240), rb.PERT(4, 12, 36), cost_per_hour=rb.PERT(5e3, 2e4, 6e4))
    >>> 0.7 < sla.mean_reduction() < 0.9
    True
    """

    hours_to_contain: Any
    hours_to_contain_with_control: Any
    cost_per_hour: Any = None
    disruption_share: float | None = None
    factor: str = "primary_loss"

    def __post_init__(self) -> None:
        owner = "ResponseSLA"
        for name in ("hours_to_contain", "hours_to_contain_with_control", "cost_per_hour"):
            value = getattr(self, name)
            if value is None:
                if name != "cost_per_hour":
                    raise ControlError(f"{owner}: {name} is required")
                continue
            try:
                d = as_distribution(value, what=f"{owner}: {name}")
            except RiskBudgetError as exc:
                raise ControlError(str(exc)) from None
            low = d.support()[0]
            if name == "hours_to_contain" and low <= 0:
                raise ControlError(f"{owner}: hours_to_contain ({d}) can be as low as {low:g}; it must be > 0")
            if low < 0:
                raise ControlError(f"{owner}: {name} ({d}) can be negative (lowest value {low:g}); it must be >= 0")
            object.__setattr__(self, name, d)
        factor = _check_factor(owner, self.factor, ControlError)
        if factor in ("frequency", "susceptibility"):
            raise ControlError(
                f"{owner}: factor {factor!r} is not a loss; an SLA acts on 'loss', 'primary_loss', 'secondary_loss' or one of their forms"
            )
        object.__setattr__(self, "factor", factor)
        if self.disruption_share is not None:
            object.__setattr__(
                self, "disruption_share", _in_unit(owner, "disruption_share", self.disruption_share, ControlError)
            )
        elif "." not in factor and self.cost_per_hour is None:
            raise ControlError(
                f"{owner}: give disruption_share (the share of the {factor} that scales with hours to contain) "
                f"or cost_per_hour (to derive it from each scenario's loss), or act on a form of loss such as "
                f"'primary_loss.productivity'"
            )

    def mean_reduction(self) -> float:
        """E[1 - min(H0, H1) / H0]: the expected cut of the disruption part."""
        u = (np.arange(400) + 0.5) / 400
        h0 = np.asarray(self.hours_to_contain.ppf(u), dtype=float)
        h1 = np.asarray(self.hours_to_contain_with_control.ppf(u), dtype=float)
        ratio = np.minimum(h0[:, None], h1[None, :]) / h0[:, None]
        return float(1.0 - ratio.mean())

    def share_for(self, scenario: Scenario, control: str) -> float:
        """Share of ``scenario``'s loss on the SLA's factor that is disruption."""
        if self.disruption_share is not None:
            return float(self.disruption_share)
        if "." in self.factor:
            return 1.0
        base = scenario.without_adjustments()
        if self.factor == "primary_loss":
            loss = base._expected_form_loss("primary_loss")
        elif self.factor == "secondary_loss":
            loss = base._expected_form_loss("secondary_loss")
        else:
            loss = base.expected_loss_per_event()
        disruption = self.hours_to_contain.mean() * self.cost_per_hour.mean()
        if loss <= 0 or disruption > loss:
            raise ControlError(
                f"Control {control!r}: on scenario {scenario.name!r} the disruption cost per event "
                f"(E[hours_to_contain] x E[cost_per_hour] = {disruption:,.0f}) exceeds the expected {self.factor} "
                f"per event ({loss:,.0f}); lower cost_per_hour, give disruption_share, or leave this scenario out"
            )
        return float(disruption / loss)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hours_to_contain": self.hours_to_contain.to_dict(),
            "hours_to_contain_with_control": self.hours_to_contain_with_control.to_dict(),
            "factor": self.factor,
        }
        if self.cost_per_hour is not None:
            out["cost_per_hour"] = self.cost_per_hour.to_dict()
        if self.disruption_share is not None:
            out["disruption_share"] = self.disruption_share
        return out


# --------------------------------------------------------------------------- #
# Per-year multipliers (Distribution-like: sample, support, mean, to_dict)
# --------------------------------------------------------------------------- #
#: Columns of a control's per-year uniform block, in order.
_CONTROL_COMPONENTS = ("avoidance", "deterrence", "resistance", "detection", "response", "sla_h0", "sla_h1")


@dataclass(frozen=True)
class ControlMultiplier:
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
        return f"control:{self.control.name}"

    def _strengths(self, u: np.ndarray) -> list[np.ndarray]:
        c = self.control
        out = []
        for term in self.terms:
            if isinstance(term, tuple):
                _, share = term
                sla = c.response_sla
                assert sla is not None
                h0 = _from_uniform(sla.hours_to_contain, u[:, 5])
                h1 = _from_uniform(sla.hours_to_contain_with_control, u[:, 6])
                out.append(share * (1.0 - np.minimum(h0, h1) / h0))
            else:
                out.append(_from_uniform(getattr(c, term), u[:, _CONTROL_COMPONENTS.index(term)]))
        return out

    def _effective(self, s: Any) -> Any:
        c = self.control
        rel = c.reliability
        return c.coverage * (rel * s + (1.0 - rel) * c.strength_when_lapsed)

    #: Uniforms drawn per simulated year (one row per year, shared by every factor).
    n_uniforms: ClassVar[int] = len(_CONTROL_COMPONENTS)

    def _from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Multipliers for rows of uniforms (``u.shape == (n, n_uniforms)``)."""
        out = np.ones(u.shape[0])
        for s in self._strengths(u):
            out *= 1.0 - self._effective(s)
        return out

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` yearly multipliers in [0, 1]."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._from_uniforms(rng.random((int(n), self.n_uniforms)))

    def _term_range(self, term: Any) -> tuple[float, float]:
        c = self.control
        if isinstance(term, tuple):
            share = term[1]
            sla = c.response_sla
            assert sla is not None
            h0_lo, h0_hi = sla.hours_to_contain.support()
            h1_lo, h1_hi = sla.hours_to_contain_with_control.support()
            r_lo = min(1.0, h1_lo / h0_hi) if math.isfinite(h0_hi) else 0.0
            r_hi = min(1.0, h1_hi / h0_lo) if math.isfinite(h1_hi) else 1.0
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


@dataclass(frozen=True)
class ProjectMultiplier:
    """A project's yearly multiplier on one factor of one scenario.

    ``increases`` are indices of the project's :class:`RiskChange` items acting
    on the factor; each contributes ``1 + increase x (1 - removed)`` where
    ``removed`` is the share the security-by-design option removes (0 without
    it). With ``increases`` empty the multiplier is ``1 - removed`` (a new
    scenario the option makes less likely). Draws come from the project's own
    run-level stream.
    """

    project: Project
    increases: tuple[int, ...]
    security_by_design: bool = False

    family: ClassVar[str] = "project_multiplier"

    @property
    def shared_stream(self) -> str:
        return f"project:{self.project.name}"

    def _columns(self) -> int:
        return len(self.project.risk_changes) + 1

    def _removed(self, u: np.ndarray) -> np.ndarray | float:
        sbd = self.project.security_by_design
        if not self.security_by_design or sbd is None:
            return 0.0
        return _from_uniform(sbd.risk_removed, u[:, -1])

    @property
    def n_uniforms(self) -> int:
        """Uniforms drawn per simulated year (one per risk change, one for security by design)."""
        return self._columns()

    def _from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Multipliers for rows of uniforms (``u.shape == (n, n_uniforms)``)."""
        n = u.shape[0]
        removed = self._removed(u)
        if not self.increases:
            return np.ones(n) * (1.0 - removed)
        out = np.ones(n)
        for i in self.increases:
            inc = _from_uniform(self.project.risk_changes[i].increase, u[:, i])
            out *= 1.0 + inc * (1.0 - removed)
        return out

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._from_uniforms(rng.random((int(n), self._columns())))

    def support(self) -> tuple[float, float]:
        sbd = self.project.security_by_design
        r_lo, r_hi = sbd.risk_removed.support() if (self.security_by_design and sbd is not None) else (0.0, 0.0)
        if not self.increases:
            return (1.0 - r_hi, 1.0 - r_lo)
        low = high = 1.0
        for i in self.increases:
            i_lo, i_hi = self.project.risk_changes[i].increase.support()
            low *= 1.0 + i_lo * (1.0 - r_hi)
            high *= 1.0 + i_hi * (1.0 - r_lo)
        return (low, high)

    def mean(self) -> float:
        """E[multiplier]: exact in closed form without security by design; with it, the
        removed share is one draw common to every increase, so
        E[prod (1 + inc_i (1 - r))] = E_r[prod (1 + E[inc_i] (1 - r))] is integrated over r."""
        sbd = self.project.security_by_design
        incs = [self.project.risk_changes[i].increase.mean() for i in self.increases]
        if not (self.security_by_design and sbd is not None):
            return float(math.prod(1.0 + m for m in incs))
        if not incs:
            return 1.0 - sbd.risk_removed.mean()
        # Gauss-Legendre in the removed share's quantile scale: the integrand is a
        # polynomial in r of the removed share's quantile function.
        nodes, weights = np.polynomial.legendre.leggauss(64)
        u = 0.5 * (nodes + 1.0)
        r = _from_uniform(sbd.risk_removed, u)
        values = np.prod([1.0 + m * (1.0 - r) for m in incs], axis=0)
        return float(0.5 * weights @ values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "project": self.project.name,
            "increases": list(self.increases),
            "security_by_design": self.security_by_design,
            "mean": self.mean(),
        }

    def __str__(self) -> str:
        return f"ProjectMultiplier({self.project.name!r}, mean {self.mean():.3g})"


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

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ControlError(f"Control name must be a non-empty string, not {self.name!r}")
        object.__setattr__(self, "name", self.name.strip())
        who = f"Control {self.name!r}"
        object.__setattr__(self, "cost_per_year", _nonnegative(who, "cost_per_year", self.cost_per_year, ControlError))
        applies = _names(self.applies_to)
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
        object.__setattr__(self, "requires", _names(self.requires))
        object.__setattr__(self, "excludes", _names(self.excludes))
        if self.name in self.requires or self.name in self.excludes:
            raise ControlError(f"{who}: a control cannot require or exclude itself")
        for f in ("category", "owner", "description"):
            value = getattr(self, f)
            object.__setattr__(self, f, "" if value is None else str(value))

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
        base, _, form = factor.partition(".")
        if base == "secondary_loss" and scenario.secondary_loss is None:
            raise ControlError(
                f"Control {self.name!r}: acts on {factor}, but scenario {scenario.name!r} has no secondary loss; "
                f"use loss_factor 'loss' or 'primary_loss', or leave the scenario out of applies_to"
            )
        if form:
            target = scenario.primary_loss if base == "primary_loss" else scenario.secondary_loss
            if not isinstance(target, LossForms) or form not in target:
                raise ControlError(
                    f"Control {self.name!r}: acts on {factor}, but scenario {scenario.name!r} states no {form!r} "
                    f"form of {base}; use 'loss' or '{base}', or leave the scenario out of applies_to"
                )

    def with_effect(self, **changes: Any) -> Control:
        """A copy with some fields changed (e.g. ``resistance=0``)."""
        return replace(self, **changes)

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
        ):
            value = getattr(self, f)
            out[f] = list(value) if isinstance(value, tuple) else value
        return out


# --------------------------------------------------------------------------- #
# Projects
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class RiskChange:
    """Risk a project adds to existing scenarios: ``factor`` x (1 + ``increase``).

    Parameters
    ----------
    targets : str or sequence of str
        Scenario names, ids or categories (``"*"``: all).
    increase : Distribution
        Relative increase, >= 0 (``PERT(0.1, 0.3, 0.6)`` is +10% to +60%).
    factor : str, default "frequency"
        ``"frequency"`` (new attack surface), ``"loss"``, ``"primary_loss"``,
        ``"secondary_loss"`` or a form. Susceptibility cannot be raised.
    """

    targets: tuple[str, ...]
    increase: Any
    factor: str = "frequency"

    def __post_init__(self) -> None:
        targets = _names(self.targets)
        if not targets:
            raise ProjectError("RiskChange: targets is empty; name the scenarios or categories whose risk rises")
        object.__setattr__(self, "targets", targets)
        try:
            d = as_distribution(self.increase, what="RiskChange: increase")
        except RiskBudgetError as exc:
            raise ProjectError(str(exc)) from None
        if d.support()[0] < 0:
            raise ProjectError(f"RiskChange: increase ({d}) can be negative; a project's added risk must be >= 0")
        object.__setattr__(self, "increase", d)
        factor = _check_factor("RiskChange", self.factor, ProjectError)
        if factor == "susceptibility":
            raise ProjectError(
                "RiskChange: susceptibility can only be lowered; raise 'frequency' to model new attack surface"
            )
        object.__setattr__(self, "factor", factor)


@dataclass(frozen=True)
class SecurityByDesign:
    """A project's security-by-design option.

    Parameters
    ----------
    cost_per_year : float
        Extra cost in the budget year (counted as security spend).
    delay_months : float
        Go-live delay; the project delivers ``delay_months / 12`` less of its
        first year's value.
    risk_removed : Distribution
        Share of the project's added risk removed, in [0, 1]: each increase
        becomes ``increase x (1 - removed)`` and each new scenario's frequency
        is multiplied by ``1 - removed``.
    """

    cost_per_year: float
    delay_months: float = 0.0
    risk_removed: Any = 0.5

    def __post_init__(self) -> None:
        who = "SecurityByDesign"
        object.__setattr__(self, "cost_per_year", _nonnegative(who, "cost_per_year", self.cost_per_year, ProjectError))
        delay = _nonnegative(who, "delay_months", self.delay_months, ProjectError)
        if delay > 12:
            raise ProjectError(f"{who}: delay_months ({delay:g}) must be at most 12 (the budget year)")
        object.__setattr__(self, "delay_months", delay)
        object.__setattr__(self, "risk_removed", _share_estimate(who, "risk_removed", self.risk_removed, ProjectError))


@dataclass(frozen=True)
class Project:
    """An IT project competing for the budget.

    Parameters
    ----------
    name : str
        Unique name (also among controls); it keys the project's random stream.
    cost_per_year : float
        Spend in the budget year.
    value_per_year : Distribution or float
        Business value delivered in a year if the project succeeds.
    probability_of_failure : float, default 0
        Chance it fails to deliver (the cost is spent, no value comes).
    risk_changes : sequence of RiskChange
        Risk it adds to existing scenarios (applies whenever it is funded,
        delivered or not).
    new_scenarios : sequence of Scenario
        Scenarios that exist only if the project is funded.
    security_by_design : SecurityByDesign, optional
        The option to buy; whether to buy it is a decision.
    requires, excludes : sequence of str
        Names of projects or controls it needs, or cannot go with.

    Examples
    --------
    >>> import riskbudget as rb
    >>> p = rb.Project("Customer portal", 900_000, value_per_year=rb.PERT(1e6, 2e6, 4e6),
    ...                probability_of_failure=0.2,
    ...                risk_changes=[RiskChange("web_application", rb.PERT(0.2, 0.5, 1.0))],
    ...                security_by_design=SecurityByDesign(150_000, delay_months=2, risk_removed=rb.PERT(0.5, 0.7, 0.9)))
    >>> p.expected_value(), round(p.expected_value(security_by_design=True))
    (1733333.3333333333, 1444444)
    """

    name: str
    cost_per_year: float
    value_per_year: Any = 0.0
    probability_of_failure: float = 0.0
    risk_changes: tuple[RiskChange, ...] = ()
    new_scenarios: tuple[Scenario, ...] = ()
    security_by_design: SecurityByDesign | None = None
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    category: str = ""
    owner: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ProjectError(f"Project name must be a non-empty string, not {self.name!r}")
        object.__setattr__(self, "name", self.name.strip())
        who = f"Project {self.name!r}"
        object.__setattr__(self, "cost_per_year", _nonnegative(who, "cost_per_year", self.cost_per_year, ProjectError))
        try:
            value = as_distribution(self.value_per_year, what=f"{who}: value_per_year")
        except RiskBudgetError as exc:
            raise ProjectError(str(exc)) from None
        if value.support()[0] < 0:
            raise ProjectError(f"{who}: value_per_year ({value}) can be negative; state a value >= 0")
        object.__setattr__(self, "value_per_year", value)
        object.__setattr__(
            self,
            "probability_of_failure",
            _in_unit(who, "probability_of_failure", self.probability_of_failure, ProjectError),
        )
        changes = tuple(self.risk_changes)
        for rc in changes:
            if not isinstance(rc, RiskChange):
                raise ProjectError(f"{who}: risk_changes must be RiskChange objects, not {rc!r}")
        object.__setattr__(self, "risk_changes", changes)
        scenarios = tuple(self.new_scenarios)
        for s in scenarios:
            if not isinstance(s, Scenario):
                raise ProjectError(f"{who}: new_scenarios must be Scenario objects, not {s!r}")
            if s.adjustments:
                raise ProjectError(f"{who}: new scenario {s.name!r} must not carry adjustments")
        if len({s.name for s in scenarios}) != len(scenarios):
            raise ProjectError(f"{who}: new scenario names must be unique")
        object.__setattr__(self, "new_scenarios", scenarios)
        if self.security_by_design is not None and not isinstance(self.security_by_design, SecurityByDesign):
            raise ProjectError(
                f"{who}: security_by_design must be a SecurityByDesign, not {type(self.security_by_design).__name__}"
            )
        object.__setattr__(self, "requires", _names(self.requires))
        object.__setattr__(self, "excludes", _names(self.excludes))
        if self.name in self.requires or self.name in self.excludes:
            raise ProjectError(f"{who}: a project cannot require or exclude itself")
        for f in ("category", "owner", "description"):
            v = getattr(self, f)
            object.__setattr__(self, f, "" if v is None else str(v))

    # ------------------------------------------------------------------ #
    @property
    def has_security_by_design(self) -> bool:
        return self.security_by_design is not None

    def expected_value(self, *, security_by_design: bool = False) -> float:
        """Expected value delivered in the budget year: ``(1 - p_fail) x E[value] x (1 - delay/12)``."""
        ev = (1.0 - self.probability_of_failure) * self.value_per_year.mean()
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            ev *= 1.0 - self.security_by_design.delay_months / 12.0
        return float(ev)

    def cost(self, *, security_by_design: bool = False) -> float:
        """Total spend: the project plus, if bought, its security-by-design option."""
        extra = 0.0
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            extra = self.security_by_design.cost_per_year
        return self.cost_per_year + extra

    def sample_value(self, n: int, rng: np.random.Generator, *, security_by_design: bool = False) -> np.ndarray:
        """Value delivered in ``n`` simulated years (0 in years it fails).

        Draws two uniforms per year (value, failure) from ``rng``, so the
        same generator gives the same years with or without the option.
        """
        u = rng.random((int(n), 2))
        value = _from_uniform(self.value_per_year, u[:, 0]) * (u[:, 1] >= self.probability_of_failure)
        if security_by_design:
            if self.security_by_design is None:
                raise ProjectError(f"Project {self.name!r}: has no security-by-design option")
            value = value * (1.0 - self.security_by_design.delay_months / 12.0)
        return value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "cost_per_year": self.cost_per_year,
            "value_per_year": self.value_per_year.to_dict(),
            "probability_of_failure": self.probability_of_failure,
            "risk_changes": [
                {"targets": list(r.targets), "increase": r.increase.to_dict(), "factor": r.factor}
                for r in self.risk_changes
            ],
            "new_scenarios": [s.to_dict() for s in self.new_scenarios],
            "requires": list(self.requires),
            "excludes": list(self.excludes),
        }
        if self.security_by_design is not None:
            sbd = self.security_by_design
            out["security_by_design"] = {
                "cost_per_year": sbd.cost_per_year,
                "delay_months": sbd.delay_months,
                "risk_removed": sbd.risk_removed.to_dict(),
            }
        return out


# --------------------------------------------------------------------------- #
# Applying controls and projects to a register
# --------------------------------------------------------------------------- #
def resolve_targets(
    owner: str, targets: Sequence[str], scenarios: Sequence[Scenario], err: type[RiskBudgetError] = RiskBudgetError
) -> tuple[str, ...]:
    """Scenario names matched by ``targets`` (names, ids or categories; ``"*"`` for all), in register order.

    Unknown names are an error that names them and lists what exists.
    """
    names = [s.name for s in scenarios]
    ids = {s.id: s.name for s in scenarios if s.id}
    cats: dict[str, list[str]] = {}
    for s in scenarios:
        if s.category:
            cats.setdefault(s.category, []).append(s.name)
    chosen: set[str] = set()
    unknown = []
    for t in targets:
        if t == ALL:
            chosen.update(names)
        elif t in names:
            chosen.add(t)
        elif t in ids:
            chosen.add(ids[t])
        elif t in cats:
            chosen.update(cats[t])
        else:
            unknown.append(t)
    if unknown:
        raise err(
            f"{owner}: unknown scenario(s) or category(ies) {unknown}; the register has categories "
            f"{sorted(cats)} and scenarios {names}"
        )
    return tuple(n for n in names if n in chosen)


def _universe(register: Register, projects: Sequence[Project]) -> list[Scenario]:
    out = list(register)
    seen = set(register.names)
    for p in projects:
        for s in p.new_scenarios:
            if s.name in seen:
                raise ProjectError(
                    f"Project {p.name!r}: new scenario {s.name!r} has the name of an existing scenario; names must be unique"
                )
            seen.add(s.name)
            out.append(s)
    return out


def _check_unique(controls: Sequence[Control], projects: Sequence[Project]) -> None:
    seen: dict[str, str] = {}
    for kind, items in (("control", controls), ("project", projects)):
        for item in items:
            if item.name in seen:
                raise RiskBudgetError(
                    f"{kind} {item.name!r}: the name is already used by a {seen[item.name]}; controls and projects "
                    f"need unique names (they key the random streams)"
                )
            seen[item.name] = kind


def _as_controls(controls: Any) -> tuple[Control, ...]:
    if isinstance(controls, Control):
        return (controls,)
    out = tuple(controls)
    for c in out:
        if not isinstance(c, Control):
            raise ControlError(
                f"expected Control objects, got {type(c).__name__}; read a file with read_controls(path)"
            )
    return out


def _as_projects(projects: Any) -> tuple[Project, ...]:
    if isinstance(projects, Project):
        return (projects,)
    out = tuple(projects)
    for p in out:
        if not isinstance(p, Project):
            raise ProjectError(
                f"expected Project objects, got {type(p).__name__}; read a file with read_projects(path)"
            )
    return out


def control_targets(
    register: Register, controls: Sequence[Control], projects: Sequence[Project] = ()
) -> dict[str, tuple[str, ...]]:
    """Control name -> the scenarios it covers (project scenarios count as known)."""
    universe = _universe(register, projects)
    return {c.name: resolve_targets(f"Control {c.name!r}", c.applies_to, universe, ControlError) for c in controls}


def project_targets(register: Register, projects: Sequence[Project]) -> dict[str, dict[str, tuple[int, ...]]]:
    """Project name -> {scenario name: indices of its risk changes on that scenario}."""
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    base = list(register)
    for p in projects:
        hit: dict[str, list[int]] = {}
        for i, rc in enumerate(p.risk_changes):
            for name in resolve_targets(f"Project {p.name!r}", rc.targets, base, ProjectError):
                hit.setdefault(name, []).append(i)
        out[p.name] = {n: tuple(v) for n, v in hit.items()}
    return out


def project_adjustments(
    project: Project, scenario: Scenario, indices: tuple[int, ...], *, security_by_design: bool
) -> tuple[Adjustment, ...]:
    """The adjustments a funded project puts on one scenario (one per factor)."""
    by_factor: dict[str, list[int]] = {}
    for i in indices:
        by_factor.setdefault(project.risk_changes[i].factor, []).append(i)
    out = []
    for factor, idx in by_factor.items():
        base, _, form = factor.partition(".")
        if base == "secondary_loss" and scenario.secondary_loss is None:
            raise ProjectError(
                f"Project {project.name!r}: raises {factor}, but scenario {scenario.name!r} has no secondary loss"
            )
        if form:
            target = scenario.primary_loss if base == "primary_loss" else scenario.secondary_loss
            if not isinstance(target, LossForms) or form not in target:
                raise ProjectError(
                    f"Project {project.name!r}: raises {factor}, but scenario {scenario.name!r} states no {form!r} form"
                )
        out.append(Adjustment(factor, ProjectMultiplier(project, tuple(idx), security_by_design), project.name))
    return tuple(out)


def new_scenario_adjustments(project: Project, *, security_by_design: bool) -> tuple[Adjustment, ...]:
    """The adjustment the security-by-design option puts on the project's own new scenarios."""
    if not security_by_design or project.security_by_design is None:
        return ()
    return (Adjustment("frequency", ProjectMultiplier(project, (), True), project.name),)


def apply_controls(
    register: Any, controls: Iterable[Control] | Control, *, projects: Iterable[Project] = ()
) -> Register:
    """The register with each control's effects added to the scenarios it covers.

    Parameters
    ----------
    register : Register (or scenarios)
    controls : sequence of Control
        Applied in order; each adds at most one :class:`~riskbudget.Adjustment`
        per factor and scenario, with ``source`` = the control's name.
    projects : sequence of Project, optional
        Only to recognise the names and categories of the projects' new
        scenarios in ``applies_to`` (nothing of the projects is applied).

    Returns
    -------
    Register

    Raises
    ------
    ControlError
        If ``applies_to`` names an unknown scenario or category, or an effect
        targets a loss the scenario does not state.

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.Register([rb.Scenario("A", loss_event_frequency=2, primary_loss=rb.PERT(1, 2, 3), category="web")])
    >>> waf = rb.Control("WAF", 10_000, applies_to="web", resistance=0.5)
    >>> apply_controls(reg, [waf])["A"].expected_annual_loss()
    2.0
    """
    reg = as_register(register)
    ctrls = _as_controls(controls)
    projs = _as_projects(projects)
    _check_unique(ctrls, projs)
    targets = control_targets(reg, ctrls, projs)
    out = reg
    for s in reg:
        adjs: list[Adjustment] = []
        for c in ctrls:
            if s.name in targets[c.name]:
                adjs.extend(c.adjustments_for(s))
        if adjs:
            out = out.replace(s.with_adjustments(*adjs))
    return out


def apply_projects(
    register: Any,
    projects: Iterable[Project] | Project,
    *,
    security_by_design: Iterable[str] = (),
    controls: Iterable[Control] = (),
) -> Register:
    """The register with the projects' added risk and new scenarios.

    Parameters
    ----------
    register : Register
    projects : sequence of Project
        The funded projects.
    security_by_design : iterable of str
        Names of the projects whose security-by-design option is bought.
    controls : sequence of Control, optional
        Controls to apply to the projects' *new* scenarios (existing scenarios
        are left as they are; apply controls to them with :func:`apply_controls`).

    Returns
    -------
    Register
        Scenarios in the register's order, then each project's new scenarios.
    """
    reg = as_register(register)
    projs = _as_projects(projects)
    ctrls = _as_controls(controls)
    sbd = set(_names(security_by_design))
    known = {p.name for p in projs}
    for name in sbd:
        if name not in known:
            raise ProjectError(f"security_by_design names {name!r}, which is not among the projects {sorted(known)}")
        p = next(p for p in projs if p.name == name)
        if p.security_by_design is None:
            raise ProjectError(f"Project {name!r}: has no security-by-design option to buy")
    _check_unique(ctrls, projs)
    ptargets = project_targets(reg, projs)
    out = reg
    for s in reg:
        adjs: list[Adjustment] = []
        for p in projs:
            idx = ptargets[p.name].get(s.name)
            if idx:
                adjs.extend(project_adjustments(p, s, idx, security_by_design=p.name in sbd))
        if adjs:
            out = out.replace(s.with_adjustments(*adjs))
    ctargets = control_targets(reg, ctrls, projs) if ctrls else {}
    for p in projs:
        for s in p.new_scenarios:
            adjs = []
            for c in ctrls:
                if s.name in ctargets[c.name]:
                    adjs.extend(c.adjustments_for(s))
            adjs.extend(new_scenario_adjustments(p, security_by_design=p.name in sbd))
            out = out.replace(s.with_adjustments(*adjs) if adjs else s)
    return out


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
_TRIPLE = ("low", "mode", "high")
_CONTROL_TEXT = ("applies_to", "loss_factor", "sla_factor", "requires", "excludes", "category", "owner", "description")
_CONTROL_NUMBERS = (
    "cost_per_year",
    "coverage",
    "lapses_per_year",
    "days_per_lapse",
    "strength_when_lapsed",
    "disruption_share",
)
_CONTROL_ESTIMATES = tuple(FUNCTIONS) + ("contain_hours", "contain_hours_with_control", "cost_per_hour")
#: Every column a controls file may have.
CONTROL_COLUMNS: tuple[str, ...] = (
    ("name",)
    + _CONTROL_NUMBERS[:1]
    + _CONTROL_TEXT[:1]
    + tuple(f"{e}_{t}" for e in _CONTROL_ESTIMATES for t in _TRIPLE)
    + _CONTROL_NUMBERS[1:]
    + _CONTROL_TEXT[1:]
)

_PROJECT_TEXT = ("adds_risk_to", "risk_factor", "requires", "excludes", "category", "owner", "description")
_PROJECT_NUMBERS = ("cost_per_year", "probability_of_failure", "sbd_cost_per_year", "sbd_delay_months")
_PROJECT_ESTIMATES = ("value", "risk_increase", "sbd_risk_removed")
_NEW_PREFIX = "new_"


def _new_scenario_columns() -> dict[str, str]:
    """projects-file column -> register column, for a project's new scenario."""
    from .io import CSV_COLUMNS as REGISTER_COLUMNS

    out = {"new_scenario": "name"}
    for c in REGISTER_COLUMNS:
        if c != "name":
            out[_NEW_PREFIX + c] = c
    return out


#: Every column a projects file may have (``new_*`` columns describe a new scenario as in a register).
PROJECT_COLUMNS: tuple[str, ...] = (
    ("name",)
    + _PROJECT_NUMBERS[:2]
    + tuple(f"{e}_{t}" for e in _PROJECT_ESTIMATES for t in _TRIPLE)
    + _PROJECT_NUMBERS[2:]
    + _PROJECT_TEXT
)


class _Row:
    def __init__(self, source: str, line: int, kind: str, name: str | None, err: type[RiskBudgetError]) -> None:
        self.source, self.line, self.kind, self.name, self.err = source, line, kind, name, err

    def error(self, column: str | None, message: str) -> RiskBudgetError:
        parts = [self.source, f"line {self.line}"]
        if self.name:
            parts.append(f"{self.kind} {self.name!r}")
        if column:
            parts.append(f"column {column}")
        return self.err(f"{', '.join(parts)}: {message}")

    def number(self, row: Mapping[str, str], column: str) -> float | None:
        raw = row.get(column)
        if raw is None or str(raw).strip() == "":
            return None
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            raise self.error(
                column, f"value {text!r} is not a number (write plain numbers such as 250000 or 2.5e5)"
            ) from None
        if not math.isfinite(value):
            raise self.error(column, f"value {text!r} must be a finite number")
        return value

    def estimate(self, row: Mapping[str, str], prefix: str) -> Distribution | None:
        cols = [f"{prefix}_{t}" for t in _TRIPLE]
        values = [self.number(row, c) for c in cols]
        if all(v is None for v in values):
            return None
        missing = [c for c, v in zip(cols, values) if v is None]
        if missing:
            raise self.error(
                ", ".join(missing),
                f"missing; an estimate needs all of {', '.join(cols)} (equal values for a known number)",
            )
        low, mode, high = values  # type: ignore[misc]
        if low == mode == high:
            return Constant(low)  # type: ignore[arg-type]
        try:
            return PERT(low, mode, high)  # type: ignore[arg-type]
        except RiskBudgetError as exc:
            raise self.error(", ".join(cols), f"values ({low:g}, {mode:g}, {high:g}): {exc}") from None

    def wrap(self, column: str | None, build: Any) -> Any:
        try:
            return build()
        except RiskBudgetError as exc:
            raise self.error(column, str(exc)) from None


def _read_rows(
    path: str | os.PathLike[str], allowed: Sequence[str], err: type[RiskBudgetError], what: str, extra_ok: Any = None
) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise err(f"{source}: no such file")
    if p.suffix.lower() != ".csv":
        raise err(f"{source}: a {what} file must be CSV (.csv), not {p.suffix or 'no suffix'!r}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise err(f"{source}: not UTF-8 text ({exc}); save the {what} file as UTF-8 CSV") from None
    reader = csv.reader(_io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise err(
            f"{source}: the file is empty; expected a header row with at least 'name' and 'cost_per_year'"
        ) from None
    unknown = [h for h in header if h not in allowed and not (extra_ok and extra_ok(h))]
    if unknown:
        raise err(f"{source}: unknown column(s) {unknown}; the allowed columns are {', '.join(allowed)}")
    for required in ("name", "cost_per_year"):
        if required not in header:
            raise err(f"{source}: the required column {required!r} is missing (found {header})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise err(f"{source}: column(s) {dupes} appear more than once")
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise err(f"{source}, line {line_no}: {len(values)} values but the header has {len(header)} columns")
        rows.append((line_no, dict(zip(header, values))))
    if not rows:
        raise err(f"{source}: the file has a header but no {what}s")
    return source, rows


def _unique_names(source: str, rows: list[tuple[int, Any]], err: type[RiskBudgetError], kind: str) -> None:
    first: dict[str, int] = {}
    for line, item in rows:
        if item.name in first:
            raise err(
                f"{source}, line {line}, column name: {kind} {item.name!r} already appears on line {first[item.name]}; names must be unique"
            )
        first[item.name] = line


def read_controls(path: str | os.PathLike[str]) -> tuple[Control, ...]:
    """Read security controls from a CSV file, one control per row.

    Columns: ``name``, ``cost_per_year`` and ``applies_to`` (scenario names, ids
    or categories separated by ``;``, or ``*``); effects as shares removed, each
    a PERT ``<function>_low, <function>_mode, <function>_high`` (equal values
    for a known number) for ``avoidance``, ``deterrence``, ``resistance``,
    ``detection`` and ``response``; ``loss_factor`` for detection and response;
    an incident-response SLA with ``contain_hours_*`` (today),
    ``contain_hours_with_control_*``, ``cost_per_hour_*`` or
    ``disruption_share``, and ``sla_factor``; imperfection with ``coverage``,
    ``lapses_per_year``, ``days_per_lapse`` and ``strength_when_lapsed``;
    ``requires`` and ``excludes`` (names separated by ``;``); ``category``,
    ``owner``, ``description``.

    Returns
    -------
    tuple of Control

    Raises
    ------
    ControlError
        Naming the file, line, control, column and value of the first problem.

    Examples
    --------
    >>> import riskbudget as rb
    >>> controls = read_controls(rb.io.example_path("controls.csv"))
    >>> len(controls) >= 10
    True
    """
    source, rows = _read_rows(path, CONTROL_COLUMNS, ControlError, "control")
    out = []
    for line, row in rows:
        name = (row.get("name") or "").strip()
        ctx = _Row(source, line, "control", name or None, ControlError)
        if not name:
            raise ctx.error("name", "is empty; every control needs a unique name")
        kwargs: dict[str, Any] = {"name": name}
        cost = ctx.number(row, "cost_per_year")
        if cost is None:
            raise ctx.error("cost_per_year", "is empty; give the annual cost (0 for a free control)")
        kwargs["cost_per_year"] = cost
        applies = (row.get("applies_to") or "").strip()
        if not applies:
            raise ctx.error(
                "applies_to", "is empty; name the scenarios or categories it covers, separated by ';' ('*' for all)"
            )
        kwargs["applies_to"] = applies
        for fn in FUNCTIONS:
            d = ctx.estimate(row, fn)
            if d is not None:
                kwargs[fn] = ctx.wrap(
                    f"{fn}_low, {fn}_mode, {fn}_high",
                    lambda d=d, fn=fn, name=name: _share_estimate(f"Control {name!r}", fn, d, ControlError),
                )
        h0 = ctx.estimate(row, "contain_hours")
        h1 = ctx.estimate(row, "contain_hours_with_control")
        cph = ctx.estimate(row, "cost_per_hour")
        share = ctx.number(row, "disruption_share")
        sla_factor = (row.get("sla_factor") or "").strip()
        if h0 is not None or h1 is not None or cph is not None or share is not None or sla_factor:
            if h0 is None or h1 is None:
                missing = "contain_hours_low/mode/high" if h0 is None else "contain_hours_with_control_low/mode/high"
                raise ctx.error(
                    missing, "missing; an incident-response SLA needs hours to contain today and with the control"
                )
            sla_kwargs: dict[str, Any] = {"cost_per_hour": cph, "disruption_share": share}
            if sla_factor:
                sla_kwargs["factor"] = sla_factor
            kwargs["response_sla"] = ctx.wrap(
                "contain_hours_*, contain_hours_with_control_*, cost_per_hour_*, disruption_share, sla_factor",
                lambda h0=h0, h1=h1, kw=sla_kwargs: ResponseSLA(h0, h1, **kw),
            )
        for col in ("coverage", "lapses_per_year", "days_per_lapse", "strength_when_lapsed"):
            v = ctx.number(row, col)
            if v is not None:
                kwargs[col] = v
        for col in ("loss_factor", "requires", "excludes", "category", "owner", "description"):
            text = (row.get(col) or "").strip()
            if text:
                kwargs[col] = text
        control = _build_item(ctx, Control, kwargs)
        out.append((line, control))
    _unique_names(source, out, ControlError, "control")
    return tuple(c for _, c in out)


_FIELD_OF_MESSAGE = (
    "cost_per_year",
    "coverage",
    "lapses_per_year",
    "days_per_lapse",
    "strength_when_lapsed",
    "loss_factor",
    "applies_to",
    "requires",
    "excludes",
    "probability_of_failure",
    "value_per_year",
    "delay_months",
    "risk_removed",
    "increase",
    "factor",
)


def _build_item(ctx: _Row, cls: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except RiskBudgetError as exc:
        msg = str(exc)
        column = None
        for f in _FIELD_OF_MESSAGE:
            if f": {f} (" in msg or f": {f} " in msg:
                column = f
                break
        if column is not None and column in kwargs:
            raise ctx.error(column, f"value {kwargs[column]!r}: {msg}") from None
        raise ctx.error(column, msg) from None


def read_projects(path: str | os.PathLike[str]) -> tuple[Project, ...]:
    """Read IT projects from a CSV file, one project per row.

    Columns: ``name``, ``cost_per_year``, ``value_low/mode/high`` (PERT value
    per year if delivered), ``probability_of_failure``; added risk with
    ``adds_risk_to`` (scenario names, ids or categories separated by ``;``),
    ``risk_factor`` (default ``frequency``) and ``risk_increase_low/mode/high``
    (relative increase); a security-by-design option with
    ``sbd_cost_per_year``, ``sbd_delay_months`` and
    ``sbd_risk_removed_low/mode/high``; a new scenario with ``new_scenario``
    (its name) and any register column prefixed ``new_`` (``new_category``,
    ``new_frequency_low``, ``new_loss_low``, ...); ``requires``, ``excludes``,
    ``category``, ``owner``, ``description``.

    Returns
    -------
    tuple of Project

    Raises
    ------
    ProjectError
        Naming the file, line, project, column and value of the first problem.

    Examples
    --------
    >>> import riskbudget as rb
    >>> projects = read_projects(rb.io.example_path("projects.csv"))
    >>> len(projects) >= 5
    True
    """
    from .io import scenario_from_row

    new_cols = _new_scenario_columns()
    source, rows = _read_rows(path, PROJECT_COLUMNS, ProjectError, "project", extra_ok=lambda h: h in new_cols)
    out = []
    for line, row in rows:
        name = (row.get("name") or "").strip()
        ctx = _Row(source, line, "project", name or None, ProjectError)
        if not name:
            raise ctx.error("name", "is empty; every project needs a unique name")
        kwargs: dict[str, Any] = {"name": name}
        cost = ctx.number(row, "cost_per_year")
        if cost is None:
            raise ctx.error("cost_per_year", "is empty; give the project's spend in the budget year")
        kwargs["cost_per_year"] = cost
        value = ctx.estimate(row, "value")
        if value is None:
            raise ctx.error(
                "value_low, value_mode, value_high", "missing; give the business value per year if delivered"
            )
        kwargs["value_per_year"] = value
        pf = ctx.number(row, "probability_of_failure")
        if pf is not None:
            kwargs["probability_of_failure"] = pf
        targets = (row.get("adds_risk_to") or "").strip()
        increase = ctx.estimate(row, "risk_increase")
        factor = (row.get("risk_factor") or "").strip() or "frequency"
        if targets and increase is None:
            raise ctx.error(
                "risk_increase_low, risk_increase_mode, risk_increase_high",
                f"missing; adds_risk_to ({targets!r}) needs the relative increase",
            )
        if increase is not None and not targets:
            raise ctx.error("adds_risk_to", "is empty; name the scenarios or categories whose risk the project raises")
        if targets:
            kwargs["risk_changes"] = (
                ctx.wrap(
                    "adds_risk_to, risk_factor, risk_increase_*",
                    lambda t=targets, inc=increase, f=factor: RiskChange(t, inc, f),
                ),
            )
        sbd_cost = ctx.number(row, "sbd_cost_per_year")
        sbd_delay = ctx.number(row, "sbd_delay_months")
        sbd_removed = ctx.estimate(row, "sbd_risk_removed")
        if sbd_cost is not None or sbd_delay is not None or sbd_removed is not None:
            if sbd_cost is None or sbd_removed is None:
                missing = (
                    "sbd_cost_per_year"
                    if sbd_cost is None
                    else "sbd_risk_removed_low, sbd_risk_removed_mode, sbd_risk_removed_high"
                )
                raise ctx.error(
                    missing,
                    "missing; a security-by-design option needs its cost and the share of added risk it removes",
                )
            kwargs["security_by_design"] = ctx.wrap(
                "sbd_cost_per_year, sbd_delay_months, sbd_risk_removed_*",
                lambda c=sbd_cost, d=sbd_delay, r=sbd_removed: SecurityByDesign(c, d or 0.0, r),
            )
        new_values = {new_cols[c]: v for c, v in row.items() if c in new_cols and str(v).strip()}
        if new_values:
            if "name" not in new_values:
                raise ctx.error(
                    "new_scenario", "is empty, but other new_* columns are filled; name the project's new scenario"
                )
            aliases = {reg: col for col, reg in new_cols.items()}
            try:
                scenario = scenario_from_row(new_values, source=source, line=line, aliases=aliases)
            except RiskBudgetError as exc:
                raise ProjectError(f"project {name!r}: new scenario: {exc}") from None
            kwargs["new_scenarios"] = (scenario,)
        for col in ("requires", "excludes", "category", "owner", "description"):
            v = (row.get(col) or "").strip()
            if v:
                kwargs[col] = v
        out.append((line, _build_item(ctx, Project, kwargs)))
    _unique_names(source, out, ProjectError, "project")
    return tuple(p for _, p in out)
