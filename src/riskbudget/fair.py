"""Open FAIR scenarios: the factor tree, validated, with no sampling.

A :class:`Scenario` accepts calibrated estimates at any level of the Open FAIR
taxonomy, in full FAIR names:

* **frequency**, exactly one of

  - ``threat_event_frequency`` (threat events per year), or
  - ``contact_frequency`` x ``probability_of_action``, or
  - ``loss_event_frequency`` (loss events per year, susceptibility included), or
  - ``annual_probability`` (at most one loss event a year);

* **susceptibility** (only with a threat-level frequency), exactly one of

  - ``susceptibility`` (the probability a threat event becomes a loss event), or
  - ``threat_capability`` and ``resistance_strength``, percentiles of the threat
    population in [0, 1]; each threat event becomes a loss event when its
    capability beats its resistance, with probability P(TCap > RS), decided
    event by event (the simulation uses one uniform per threat event against
    that probability: the same, in distribution, as drawing both and comparing);

* **loss magnitude** per loss event: ``primary_loss`` (one estimate, or a
  mapping over the six forms of loss), and optionally
  ``secondary_loss_probability`` with ``secondary_loss``.

:class:`Adjustment` objects carry the effect of controls and projects: a
per-year multiplier on a factor. :class:`Register` is an ordered set of
scenarios with unique names.

Magnitudes are capped where estimates become money or rates: every loss
estimate (and form of loss) is at most :data:`~riskbudget.exceptions.MONEY`
(1e15) and every event frequency at most
:data:`~riskbudget.exceptions.EVENTS_PER_YEAR` (1e6 a year), adjustments
included; an estimate's reach is its highest value, or its mean when it is
unbounded (a lognormal). Names and text fields hold no control characters
(:func:`~riskbudget.exceptions.check_text`).
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, overload

import numpy as np

from ._quadrature import integrate
from .distributions import Distribution, as_distribution, from_dict
from .exceptions import (
    EVENTS_PER_YEAR,
    MONEY,
    Ceiling,
    InvalidParameterError,
    RiskBudgetError,
    ScenarioError,
    check_text,
    shown,
)

__all__ = [
    "FORMS_OF_LOSS",
    "LossForms",
    "Adjustment",
    "Scenario",
    "Register",
    "ADJUSTABLE_FACTORS",
    "ESTIMATE_FIELDS",
    "FREQUENCY_AND_SUSCEPTIBILITY_FIELDS",
    "SharedMultiplier",
    "ALL_SCENARIOS",
    "resolve_targets",
]

#: Results use this name for the portfolio total, so no scenario may have it.
RESERVED_NAME = "Total"

#: The six forms of loss of Open FAIR.
FORMS_OF_LOSS: tuple[str, ...] = (
    "productivity",
    "response",
    "replacement",
    "fines_and_judgments",
    "competitive_advantage",
    "reputation",
)

#: The factors an :class:`Adjustment` may act on ("primary_loss.<form>" too).
ADJUSTABLE_FACTORS: tuple[str, ...] = ("frequency", "susceptibility", "loss", "primary_loss", "secondary_loss")

_FREQUENCY_FIELDS = (
    "threat_event_frequency",
    "contact_frequency",
    "probability_of_action",
    "loss_event_frequency",
    "annual_probability",
)
_SUSCEPTIBILITY_FIELDS = ("susceptibility", "threat_capability", "resistance_strength")
#: Every FAIR factor field of a Scenario that holds an estimate, in tree order.
FREQUENCY_AND_SUSCEPTIBILITY_FIELDS: tuple[str, ...] = _FREQUENCY_FIELDS + _SUSCEPTIBILITY_FIELDS
ESTIMATE_FIELDS: tuple[str, ...] = FREQUENCY_AND_SUSCEPTIBILITY_FIELDS + (
    "primary_loss",
    "secondary_loss_probability",
    "secondary_loss",
)
_PROBABILITY_FIELDS = (
    "probability_of_action",
    "annual_probability",
    "susceptibility",
    "threat_capability",
    "resistance_strength",
    "secondary_loss_probability",
)


@dataclass(frozen=True)
class LossForms(Mapping[str, Distribution]):
    """Loss per event broken into Open FAIR's six forms of loss.

    Each form present is drawn independently for every loss event and the
    forms are added. Absent forms contribute nothing.

    Examples
    --------
    >>> from riskbudget import PERT
    >>> forms = LossForms(productivity=PERT(1e4, 5e4, 2e5), response=PERT(5e3, 2e4, 1e5))
    >>> sorted(forms)
    ['productivity', 'response']
    >>> round(forms.mean())  # (1e4 + 4 * 5e4 + 2e5) / 6 + (5e3 + 4 * 2e4 + 1e5) / 6
    99167
    """

    productivity: Distribution | None = None
    response: Distribution | None = None
    replacement: Distribution | None = None
    fines_and_judgments: Distribution | None = None
    competitive_advantage: Distribution | None = None
    reputation: Distribution | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, as_distribution(value, what=f"form of loss '{f.name}'"))
        if not any(getattr(self, f.name) is not None for f in fields(self)):
            raise InvalidParameterError(
                f"LossForms: give at least one of the six forms of loss {list(FORMS_OF_LOSS)}"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, what: str = "loss") -> LossForms:
        if not isinstance(mapping, Mapping):
            raise InvalidParameterError(
                f"{what}: forms of loss must be a mapping of form -> estimate, not {shown(mapping)}; "
                f"the six forms are {list(FORMS_OF_LOSS)}"
            )
        unknown = set(mapping) - set(FORMS_OF_LOSS)
        if unknown:
            raise InvalidParameterError(
                f"{what}: unknown form(s) of loss {sorted(map(str, unknown))}; the six forms are {list(FORMS_OF_LOSS)}"
            )
        return cls(**{k: as_distribution(v, what=f"{what}.{k}") for k, v in mapping.items()})

    def __getitem__(self, key: str) -> Distribution:
        value = getattr(self, key, None) if key in FORMS_OF_LOSS else None
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (k for k in FORMS_OF_LOSS if getattr(self, k) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def mean(self) -> float:
        return sum(d.mean() for d in self.values())

    def var(self) -> float:
        return sum(d.var() for d in self.values())

    def support(self) -> tuple[float, float]:
        lows, highs = zip(*(d.support() for d in self.values()))
        return (sum(lows), sum(highs))

    def scaled(self, factor: float) -> LossForms:
        return LossForms(**{k: d.scaled(factor) for k, d in self.items()})

    def to_dict(self) -> dict[str, Any]:
        return {k: d.to_dict() for k, d in self.items()}

    def __hash__(self) -> int:
        return hash(tuple(self.items()))


LossEstimate = Distribution | LossForms


def _loss_estimate(value: Any, what: str) -> LossEstimate:
    if isinstance(value, LossForms):
        return value
    if isinstance(value, Mapping) and "family" not in value:
        return LossForms.from_mapping(value, what=what)
    return as_distribution(value, what=what)


class SharedMultiplier(ABC):
    """A yearly multiplier drawn from a run-level stream shared by every scenario it touches.

    The extension point behind controls' and projects' effects
    (:class:`~riskbudget.controls.ControlMultiplier`,
    :class:`~riskbudget.controls.ProjectMultiplier`): a control's uncertain
    strength is one quantity per year, the same in every scenario it covers
    and in every option compared. Each simulated year draws one row of
    :attr:`n_uniforms` uniforms from the stream named :attr:`shared_stream`
    (keyed by the run, not the scenario) and maps it with
    :meth:`from_uniforms`. An :class:`Adjustment`'s multiplier is either a
    :class:`~riskbudget.distributions.Distribution` (its own stream per
    scenario and source) or a ``SharedMultiplier``.
    """

    @property
    @abstractmethod
    def shared_stream(self) -> str:
        """Name of the run-level stream (see :mod:`riskbudget._random`)."""

    @property
    @abstractmethod
    def n_uniforms(self) -> int:
        """Uniforms drawn per simulated year (one row, shared by every factor)."""

    @abstractmethod
    def from_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Yearly multipliers for rows of uniforms (``u.shape == (years, n_uniforms)``)."""

    @abstractmethod
    def support(self) -> tuple[float, float]:
        """Smallest and largest multiplier."""

    @abstractmethod
    def mean(self) -> float:
        """Expected multiplier."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (shown in files and reports; not read back)."""

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` yearly multipliers from ``rng`` (one row of uniforms per year)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self.from_uniforms(rng.random((int(n), self.n_uniforms)))


@dataclass(frozen=True)
class Adjustment:
    """A per-year multiplier on one factor of a scenario (a control's or project's effect).

    Parameters
    ----------
    factor : str
        ``"frequency"`` (threat or loss event frequency), ``"susceptibility"``,
        ``"loss"`` (every loss per event), ``"primary_loss"``, ``"secondary_loss"``
        or ``"primary_loss.<form>"`` / ``"secondary_loss.<form>"``.
    multiplier : Distribution or SharedMultiplier
        The multiplier, drawn once per simulated year from its own random
        stream (or from a run-level stream, for a :class:`SharedMultiplier`). ``1 - effect`` for a control that removes a share ``effect``.
        Several adjustments on one factor multiply: what gets through is the
        product of ``(1 - effect)``.
    source : str
        Who causes it (a control or project name); it keys the random stream,
        so the same source gives the same draws in every option compared.

    Notes
    -----
    A frequency multiplier at most 1 thins the threat events (each is stopped
    with probability ``1 - m``), so residual events are a subset of inherent
    events on common random numbers. A multiplier above 1 adds a second,
    independent stream of events at rate ``(m - 1) x rate``. Susceptibility can
    only be lowered (multiplier in [0, 1]).
    """

    factor: str
    multiplier: Any
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.factor, str):
            raise InvalidParameterError(
                f"Adjustment from {shown(self.source)}: factor ({shown(self.factor)}) must be the name of a factor, "
                f"one of {list(ADJUSTABLE_FACTORS)}"
            )
        base, _, form = self.factor.partition(".")
        if base not in ADJUSTABLE_FACTORS or (form and (base not in ("primary_loss", "secondary_loss") or form not in FORMS_OF_LOSS)):
            raise InvalidParameterError(
                f"Adjustment from {self.source!r}: factor {self.factor!r} is not adjustable; use one of "
                f"{list(ADJUSTABLE_FACTORS)} or 'primary_loss.<form>' / 'secondary_loss.<form>' with a form in {list(FORMS_OF_LOSS)}"
            )
        if not isinstance(self.source, str) or not self.source:
            raise InvalidParameterError(
                f"Adjustment: source must be a non-empty name (the control or project), not {shown(self.source)}"
            )
        check_text("Adjustment", "source", self.source)
        mult = self.multiplier
        if not isinstance(mult, (Distribution, SharedMultiplier)):
            mult = as_distribution(mult, what=f"Adjustment from {self.source!r}: multiplier")
            object.__setattr__(self, "multiplier", mult)
        low, high = mult.support()
        if low < 0:
            raise InvalidParameterError(
                f"Adjustment from {self.source!r} on {self.factor}: multiplier can be negative "
                f"(lowest value {low:g}); a multiplier must be >= 0"
            )
        if self.factor == "susceptibility" and high > 1:
            raise InvalidParameterError(
                f"Adjustment from {self.source!r} on susceptibility: multiplier can exceed 1 "
                f"(highest value {high:g}); susceptibility can only be lowered, so raise the "
                f"frequency instead to model new attack surface"
            )

    def mean(self) -> float:
        return float(self.multiplier.mean())


def _probability_support(name: str, field_name: str, dist: Distribution) -> None:
    low, high = dist.support()
    if low < 0 or high > 1:
        raise ScenarioError(
            f"Scenario {name!r}: {field_name} must be a probability in [0, 1], "
            f"but {dist} takes values in [{low:g}, {high:g}]"
        )


def _reach(dist: Any) -> tuple[float, str]:
    """(how large an estimate or multiplier gets, which statistic that is): its highest value, or its mean if unbounded."""
    high = float(dist.support()[1])
    if math.isfinite(high):
        return high, "highest value"
    return float(dist.mean()), "mean"


def check_reach(
    owner: str,
    field_name: str,
    dist: Any,
    ceiling: Ceiling,
    error: type[RiskBudgetError] = ScenarioError,
    adjustments: Sequence[Adjustment] = (),
) -> None:
    """Refuse an estimate (times the multipliers of ``adjustments``) that reaches beyond ``ceiling``.

    The one check of an estimate against :data:`~riskbudget.exceptions.MONEY`
    or :data:`~riskbudget.exceptions.EVENTS_PER_YEAR`, used for scenarios,
    controls and projects. An estimate reaches its highest value, or its mean
    if it is unbounded.
    """
    reach, statistic = _reach(dist)
    if not adjustments:
        if reach > ceiling.value:
            raise error(
                f"{owner}: {field_name} ({dist}) has {statistic} {reach:g}, above {ceiling.label}, the largest "
                f"{ceiling.what} riskbudget accepts; {ceiling.fix}"
            )
        return
    total = reach * math.prod(_reach(a.multiplier)[0] for a in adjustments)
    if total > ceiling.value:
        sources = ", ".join(f"{a.source!r} (x {_reach(a.multiplier)[0]:g})" for a in adjustments)
        raise error(
            f"{owner}: {field_name} ({dist}, {statistic} {reach:g}) raised by the adjustments from {sources} "
            f"reaches {total:g}, above {ceiling.label}, the largest {ceiling.what} riskbudget accepts; are the "
            f"multipliers right?"
        )


def _nonnegative_support(name: str, field_name: str, dist: Distribution | LossForms) -> None:
    low, _ = dist.support()
    if low < 0:
        raise ScenarioError(
            f"Scenario {name!r}: {field_name} must be >= 0, but {dist} can be as low as {low:g}"
        )


@dataclass(frozen=True)
class Scenario:
    """One Open FAIR loss scenario: who or what, against which asset, causing which loss.

    Parameters are calibrated estimates (:class:`~riskbudget.PERT`,
    :class:`~riskbudget.LogNormal`, ...); plain numbers mean constants. See the
    module documentation for the factors and which combinations are allowed.

    Examples
    --------
    >>> import riskbudget as rb
    >>> s = rb.Scenario(
    ...     "ERP ransomware",
    ...     threat_event_frequency=rb.PERT(0.5, 2, 8),
    ...     threat_capability=rb.PERT(0.2, 0.5, 0.9),
    ...     resistance_strength=rb.PERT(0.3, 0.6, 0.85),
    ...     primary_loss=rb.LogNormal.from_ci(50_000, 2_000_000),
    ... )
    >>> s.frequency_kind, s.susceptibility_kind
    ('threat_event_frequency', 'capability_vs_resistance')
    """

    name: str
    threat_event_frequency: Distribution | None = None
    contact_frequency: Distribution | None = None
    probability_of_action: Distribution | None = None
    loss_event_frequency: Distribution | None = None
    annual_probability: Distribution | None = None
    susceptibility: Distribution | None = None
    threat_capability: Distribution | None = None
    resistance_strength: Distribution | None = None
    primary_loss: LossEstimate | None = None
    secondary_loss_probability: Distribution | None = None
    secondary_loss: LossEstimate | None = None
    category: str = ""
    owner: str = ""
    id: str = ""
    description: str = ""
    adjustments: tuple[Adjustment, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScenarioError(f"Scenario name must be a non-empty string, not {shown(self.name)}")
        check_text("Scenario", "name", self.name, ScenarioError)
        if self.name.strip() == RESERVED_NAME:
            raise ScenarioError(
                f"Scenario name {self.name!r} is reserved for the portfolio total in results; rename the scenario"
            )
        name = self.name
        for f in _FREQUENCY_FIELDS + _SUSCEPTIBILITY_FIELDS + ("secondary_loss_probability",):
            value = getattr(self, f)
            if value is not None:
                try:
                    object.__setattr__(self, f, as_distribution(value, what=f))
                except RiskBudgetError as exc:
                    raise ScenarioError(f"Scenario {name!r}: {f}: {exc}") from None
        for f in ("primary_loss", "secondary_loss"):
            value = getattr(self, f)
            if value is not None:
                try:
                    object.__setattr__(self, f, _loss_estimate(value, f))
                except RiskBudgetError as exc:
                    raise ScenarioError(f"Scenario {name!r}: {f}: {exc}") from None
        for f in ("category", "owner", "id", "description"):
            text = check_text(f"Scenario {name!r}", f, getattr(self, f), ScenarioError, multiline=f == "description")
            object.__setattr__(self, f, text)
        if isinstance(self.adjustments, (str, bytes, Mapping)) or not isinstance(self.adjustments, Iterable):
            raise ScenarioError(
                f"Scenario {name!r}: adjustments ({shown(self.adjustments)}) must be a sequence of Adjustment objects"
            )
        adjustments = tuple(self.adjustments)
        for adj in adjustments:
            if not isinstance(adj, Adjustment):
                raise ScenarioError(f"Scenario {name!r}: adjustments must be Adjustment objects, not {shown(adj)}")
        object.__setattr__(self, "adjustments", adjustments)
        self._validate()

    # ------------------------------------------------------------------ #
    def _validate(self) -> None:
        name = self.name
        given = [f for f in _FREQUENCY_FIELDS if getattr(self, f) is not None]
        groups = {
            "threat_event_frequency": {"threat_event_frequency"},
            "contact_frequency x probability_of_action": {"contact_frequency", "probability_of_action"},
            "loss_event_frequency": {"loss_event_frequency"},
            "annual_probability": {"annual_probability"},
        }
        present = [g for g, members in groups.items() if members & set(given)]
        if not present:
            raise ScenarioError(
                f"Scenario {name!r}: no frequency given; give exactly one of threat_event_frequency, "
                f"contact_frequency with probability_of_action, loss_event_frequency or annual_probability"
            )
        if len(present) > 1:
            raise ScenarioError(
                f"Scenario {name!r}: competing frequency factors {' and '.join(present)}; give only one"
            )
        if present[0].startswith("contact_frequency"):
            for f in ("contact_frequency", "probability_of_action"):
                if getattr(self, f) is None:
                    other = "probability_of_action" if f == "contact_frequency" else "contact_frequency"
                    raise ScenarioError(
                        f"Scenario {name!r}: {other} is given but {f} is missing; threat event frequency "
                        f"is contact_frequency x probability_of_action, so give both (or threat_event_frequency)"
                    )

        threat_level = self.frequency_kind in ("threat_event_frequency", "contact_frequency")
        susc_given = [f for f in _SUSCEPTIBILITY_FIELDS if getattr(self, f) is not None]
        if not threat_level and susc_given:
            raise ScenarioError(
                f"Scenario {name!r}: {', '.join(susc_given)} given with {self.frequency_kind}, which already "
                f"counts loss events; susceptibility applies only to a threat event frequency "
                f"(threat_event_frequency or contact_frequency x probability_of_action)"
            )
        if threat_level:
            if not susc_given:
                raise ScenarioError(
                    f"Scenario {name!r}: a threat event frequency needs a susceptibility; give susceptibility, "
                    f"or threat_capability and resistance_strength (or use loss_event_frequency instead)"
                )
            if "susceptibility" in susc_given and len(susc_given) > 1:
                raise ScenarioError(
                    f"Scenario {name!r}: competing susceptibility factors susceptibility and "
                    f"{' and '.join(f for f in susc_given if f != 'susceptibility')}; give susceptibility directly "
                    f"or threat_capability with resistance_strength, not both"
                )
            if "susceptibility" not in susc_given and len(susc_given) == 1:
                missing = ({"threat_capability", "resistance_strength"} - set(susc_given)).pop()
                raise ScenarioError(
                    f"Scenario {name!r}: {susc_given[0]} is given but {missing} is missing; susceptibility "
                    f"is P(threat_capability > resistance_strength), so give both"
                )

        if self.primary_loss is None:
            raise ScenarioError(
                f"Scenario {name!r}: primary_loss is missing; give the loss per loss event as one estimate "
                f"or as forms of loss {list(FORMS_OF_LOSS)}"
            )
        if (self.secondary_loss is None) != (self.secondary_loss_probability is None):
            have, missing = (
                ("secondary_loss", "secondary_loss_probability")
                if self.secondary_loss is not None
                else ("secondary_loss_probability", "secondary_loss")
            )
            raise ScenarioError(
                f"Scenario {name!r}: {have} is given but {missing} is missing; give both or neither"
            )

        for f in _PROBABILITY_FIELDS:
            dist = getattr(self, f)
            if dist is not None:
                _probability_support(name, f, dist)
        for f in ("threat_event_frequency", "contact_frequency", "loss_event_frequency", "primary_loss", "secondary_loss"):
            dist = getattr(self, f)
            if dist is not None:
                _nonnegative_support(name, f, dist)
        self._check_magnitudes()

        pairs = [(a.source, a.factor) for a in self.adjustments]
        for pair in dict.fromkeys(pairs):
            if pairs.count(pair) > 1:
                raise ScenarioError(
                    f"Scenario {name!r}: {pair[0]!r} adjusts {pair[1]} {pairs.count(pair)} times; a control or project "
                    f"acts once on a factor (is it applied to a register that already has it?)"
                )
        for adj in self.adjustments:
            base, _, form = adj.factor.partition(".")
            if adj.factor == "susceptibility" and not threat_level:
                raise ScenarioError(
                    f"Scenario {name!r}: adjustment from {adj.source!r} acts on susceptibility, but the scenario "
                    f"states {self.frequency_kind}; adjust 'frequency' instead"
                )
            problem = self.loss_target_problem(adj.factor)
            if problem:
                raise ScenarioError(f"Scenario {name!r}: adjustment from {adj.source!r} acts on {adj.factor}, but {problem}")
        if self.annual_probability is not None:
            p_high = self.annual_probability.support()[1]
            m_high = math.prod(a.multiplier.support()[1] for a in self.adjustments if a.factor == "frequency")
            if p_high * m_high > 1:
                raise ScenarioError(
                    f"Scenario {name!r}: annual_probability (up to {p_high:g}) times the frequency multipliers "
                    f"(up to {m_high:g}) can exceed 1; state the scenario as a rate (loss_event_frequency) to raise it"
                )

    def _check_magnitudes(self) -> None:
        """Frequencies within EVENTS_PER_YEAR and losses within MONEY, alone and with the adjustments."""
        name = self.name
        rates = [(f, d) for f in ("threat_event_frequency", "contact_frequency", "loss_event_frequency")
                 if (d := getattr(self, f)) is not None]
        losses: list[tuple[str, str, Distribution]] = []
        for which in ("primary_loss", "secondary_loss"):
            est = getattr(self, which)
            if isinstance(est, LossForms):
                losses.extend((which, f"{which}.{k}", d) for k, d in est.items())
            elif est is not None:
                losses.append((which, which, est))
        owner = f"Scenario {name!r}"
        for f, d in rates:
            check_reach(owner, f, d, EVENTS_PER_YEAR)
        for _, f, d in losses:
            check_reach(owner, f, d, MONEY)
        raising = [a for a in self.adjustments if _reach(a.multiplier)[0] > 1.0]
        if not raising:
            return
        for f, d in rates:
            check_reach(owner, f, d, EVENTS_PER_YEAR, adjustments=[a for a in raising if a.factor == "frequency"])
        for which, f, d in losses:
            check_reach(owner, f, d, MONEY, adjustments=[a for a in raising if a.factor in ("loss", which, f)])

    def loss_target_problem(self, factor: str) -> str | None:
        """Why a loss factor ("secondary_loss", "primary_loss.<form>", ...) does not exist here, or None."""
        base, _, form = factor.partition(".")
        if base == "secondary_loss" and self.secondary_loss is None:
            return f"scenario {self.name!r} has no secondary loss"
        if form and base in ("primary_loss", "secondary_loss"):
            target = self.primary_loss if base == "primary_loss" else self.secondary_loss
            if not isinstance(target, LossForms) or form not in target:
                return f"scenario {self.name!r} states no {form!r} form of {base}"
        return None

    # ------------------------------------------------------------------ #
    @property
    def frequency_kind(self) -> str:
        """Which frequency factor the scenario states."""
        for f in ("threat_event_frequency", "contact_frequency", "loss_event_frequency", "annual_probability"):
            if getattr(self, f) is not None:
                return f
        raise AssertionError("validated scenario without frequency")  # pragma: no cover

    @property
    def susceptibility_kind(self) -> str | None:
        """``"susceptibility"``, ``"capability_vs_resistance"`` or ``None`` (loss-level frequency)."""
        if self.susceptibility is not None:
            return "susceptibility"
        if self.threat_capability is not None:
            return "capability_vs_resistance"
        return None

    def multiplier_mean(self, factor: str) -> float:
        """E[product of the multipliers of the adjustments on ``factor``] (see :meth:`multiplier_expectation`)."""
        return self.multiplier_expectation([factor])

    def multiplier_expectation(self, factors: Iterable[str]) -> float:
        """E[product of every adjustment multiplier acting on any of ``factors``] in a year.

        Adjustments drawn from their own streams are independent, so their
        means multiply. Multipliers that declare the same ``shared_stream``
        (one control's or project's per-year draw, shared across the factors
        it acts on) are functions of the same uniforms; their joint
        expectation is integrated over those uniforms (scrambled Sobol points,
        2**16 of them, error far below any Monte Carlo standard error).
        """
        wanted = set(factors)
        independent = 1.0
        shared: dict[tuple[str, int], list[Any]] = {}
        seen: dict[tuple[str, str], int] = {}
        for adj in self.adjustments:
            key = adj.multiplier.shared_stream if isinstance(adj.multiplier, SharedMultiplier) else None
            # The i-th multiplier of a shared stream on one factor reads the same
            # rows as the i-th on another factor (the kernel keeps one generator per
            # stream and factor), so group by (stream, position on the factor).
            position = seen.get((key, adj.factor), 0) if key else 0
            if key:
                seen[(key, adj.factor)] = position + 1
            if adj.factor not in wanted:
                continue
            if key:
                shared.setdefault((key, position), []).append(adj.multiplier)
            else:
                independent *= adj.mean()
        return independent * math.prod(_joint_mean(ms) for ms in shared.values())
    def expected_susceptibility(self) -> float:
        """E[P(loss event | threat event)] before adjustments; 1 for loss-level frequencies.

        For capability vs resistance it is P(TCap > RS) = integral of F_RS(x) f_TCap(x) dx.
        """
        if self.susceptibility is not None:
            return self.susceptibility.mean()
        if self.threat_capability is None:
            return 1.0
        return _prob_greater(self.threat_capability, self.resistance_strength)  # type: ignore[arg-type]

    def expected_frequency(self) -> float:
        """Expected threat (or loss) events per year before susceptibility, without adjustments."""
        if self.threat_event_frequency is not None:
            return self.threat_event_frequency.mean()
        if self.contact_frequency is not None:
            return self.contact_frequency.mean() * self.probability_of_action.mean()  # type: ignore[union-attr]
        if self.loss_event_frequency is not None:
            return self.loss_event_frequency.mean()
        return self.annual_probability.mean()  # type: ignore[union-attr]

    def expected_loss_event_frequency(self) -> float:
        """Expected loss events per year, adjustments included."""
        return (
            self.expected_frequency()
            * self.expected_susceptibility()
            * self.multiplier_expectation(["frequency", "susceptibility"])
        )

    def _loss_terms(self) -> list[tuple[float, tuple[str, ...]]]:
        """(E[loss of one form] x P(that loss occurs | loss event), factors scaling it) per form."""
        terms: list[tuple[float, tuple[str, ...]]] = []
        for which in ("primary_loss", "secondary_loss"):
            est = getattr(self, which)
            if est is None:
                continue
            share = 1.0 if which == "primary_loss" else self.secondary_loss_probability.mean()  # type: ignore[union-attr]
            if isinstance(est, LossForms):
                for k, d in est.items():
                    terms.append((share * d.mean(), ("loss", which, f"{which}.{k}")))
            else:
                terms.append((share * est.mean(), ("loss", which)))
        return terms

    def _expected_form_loss(self, which: str) -> float:
        """E[``which`` loss ("primary_loss" or "secondary_loss") of one loss event that has it]."""
        est = getattr(self, which)
        if est is None:
            return 0.0
        if isinstance(est, LossForms):
            return sum(d.mean() * self.multiplier_expectation(("loss", which, f"{which}.{k}")) for k, d in est.items())
        return est.mean() * self.multiplier_expectation(("loss", which))

    def expected_loss_per_event(self) -> float:
        """Expected loss per loss event (primary + probability x secondary), adjustments included."""
        return sum(m * self.multiplier_expectation(factors) for m, factors in self._loss_terms())

    def expected_annual_loss(self) -> float:
        """Exact expected annual loss of the aggregate (and LEF x LM) model.

        Rate, susceptibility, losses and secondary probability are drawn
        independently, so their means multiply; the per-year adjustment
        multipliers on frequency, susceptibility and loss are taken jointly
        (:meth:`multiplier_expectation`), because one control's or project's
        draw is shared by every factor it acts on. It equals
        ``expected_loss_event_frequency() * expected_loss_per_event()`` when no
        shared source acts on both the frequency side and the loss side.
        """
        base = self.expected_frequency() * self.expected_susceptibility()
        return base * sum(
            m * self.multiplier_expectation(("frequency", "susceptibility", *factors)) for m, factors in self._loss_terms()
        )

    # ------------------------------------------------------------------ #
    def with_adjustments(self, *adjustments: Adjustment) -> Scenario:
        """A copy with more adjustments (the original is unchanged)."""
        return replace(self, adjustments=self.adjustments + tuple(adjustments))

    def without_adjustments(self) -> Scenario:
        """A copy with no adjustments: the inherent scenario."""
        return replace(self, adjustments=())

    def scaled_losses(self, factor: float) -> Scenario:
        """A copy whose every loss estimate is multiplied by ``factor``."""
        changes: dict[str, Any] = {"primary_loss": self.primary_loss.scaled(factor)}  # type: ignore[union-attr]
        if self.secondary_loss is not None:
            changes["secondary_loss"] = self.secondary_loss.scaled(factor)
        return replace(self, **changes)

    def renamed(self, name: str) -> Scenario:
        return replace(self, name=name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-ready mapping; :meth:`from_dict` restores an equal scenario."""
        out: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            if f.name in ("name", "adjustments"):
                continue
            value = getattr(self, f.name)
            if value is None or value == "":
                continue
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
        if self.adjustments:
            out["adjustments"] = [
                {"factor": a.factor, "multiplier": a.multiplier.to_dict(), "source": a.source}
                for a in self.adjustments
            ]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from a mapping (as in a YAML or JSON register)."""
        if not isinstance(data, Mapping):
            raise ScenarioError(f"a scenario must be a mapping of FAIR factors, not {shown(data)}")
        data = dict(data)
        name = data.get("name")
        if "name" not in data:
            raise ScenarioError(f"a scenario needs a 'name'; this one has only {sorted(map(str, data))}")
        allowed = {f.name for f in fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ScenarioError(
                f"Scenario {shown(name)}: unknown field(s) {sorted(map(str, unknown))}; allowed: {sorted(allowed)}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("primary_loss", "secondary_loss") and isinstance(value, Mapping) and "family" not in value:
                try:
                    kwargs[key] = LossForms.from_mapping(
                        {k: from_dict(v) for k, v in value.items()}, what=key
                    )
                except RiskBudgetError as exc:
                    raise ScenarioError(f"Scenario {shown(name)}: {key}: {exc}") from None
            elif key in _FREQUENCY_FIELDS + _SUSCEPTIBILITY_FIELDS + ("primary_loss", "secondary_loss", "secondary_loss_probability"):
                try:
                    kwargs[key] = from_dict(value)
                except RiskBudgetError as exc:
                    raise ScenarioError(f"Scenario {shown(name)}: {key}: {exc}") from None
            elif key == "adjustments":
                kwargs[key] = _adjustments_from_list(name, value)
            else:
                kwargs[key] = value
        return cls(**kwargs)


_ADJUSTMENT_KEYS = ("factor", "multiplier", "source")


def _adjustments_from_list(name: Any, value: Any) -> tuple[Adjustment, ...]:
    """Adjustments from a register file: a list of mappings with factor, multiplier and source."""
    who = f"Scenario {shown(name)}: adjustments"
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ScenarioError(
            f"{who} ({shown(value)}) must be a list of mappings with keys {list(_ADJUSTMENT_KEYS)}, "
            f"e.g. [{{factor: frequency, multiplier: 0.5, source: MFA}}]"
        )
    out = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise ScenarioError(
                f"{who} #{i} ({shown(item)}) must be a mapping with keys {list(_ADJUSTMENT_KEYS)}"
            )
        missing = [k for k in _ADJUSTMENT_KEYS if k not in item]
        unknown = sorted(map(str, set(item) - set(_ADJUSTMENT_KEYS)))
        if missing or unknown:
            problems = ([f"misses {missing}"] if missing else []) + ([f"has unknown key(s) {unknown}"] if unknown else [])
            raise ScenarioError(
                f"{who} #{i} ({shown(item)}) {' and '.join(problems)}; an adjustment has exactly the keys "
                f"{list(_ADJUSTMENT_KEYS)}"
            )
        try:
            out.append(Adjustment(item["factor"], from_dict(item["multiplier"]), item["source"]))
        except RiskBudgetError as exc:
            raise ScenarioError(f"{who} #{i}: {exc}") from None
    return tuple(out)


def _joint_mean(multipliers: list[Any]) -> float:
    """E[product of multipliers that are functions of the same per-year uniforms].

    Each :class:`SharedMultiplier` of one stream draws ``n_uniforms`` uniforms
    per year (the same rows for every factor) and maps them with
    ``from_uniforms``; the mean of the product is integrated over those rows.
    """
    if len(multipliers) == 1:
        return float(multipliers[0].mean())
    widths = {m.n_uniforms for m in multipliers}
    if len(widths) != 1:
        raise ScenarioError(
            "multipliers sharing a stream must draw the same number of uniforms a year; got "
            + ", ".join(f"{type(m).__name__} ({m.n_uniforms})" for m in multipliers)
        )
    from scipy.stats import qmc

    (k,) = widths
    u = qmc.Sobol(d=int(k or 1), scramble=True, seed=20261128).random_base2(16)
    prod = np.ones(u.shape[0])
    for m in multipliers:
        prod *= m.from_uniforms(u)
    return float(prod.mean())


@functools.lru_cache(maxsize=1024)
def _prob_greater(x: Distribution, y: Distribution) -> float:
    """P(X > Y) for independent X and Y, strictly greater (as the simulation compares them).

    On the quantile scale of X, ``P(X > Y) = integral_0^1 F_Y(F_X^-1(u)) du``.
    With ``[a, b]`` the support of Y, the integrand is 0 below ``u = F_X(a)``
    and 1 above ``F_X(b)`` (there X > b >= Y), so only the stretch between
    is integrated: one quadrature over all of [0, 1] could miss a narrow
    overlap and return 0 (a resistance that is a constant, or far narrower
    than the capability). A constant Y is ``P(X > c) = 1 - F_X(c)``, and two
    equal constants give 0, as in the simulation.
    """
    a, b = y.support()
    u_a = float(x.cdf(a)) if math.isfinite(a) else 0.0
    u_b = float(x.cdf(b)) if math.isfinite(b) else 1.0
    above = 1.0 - u_b
    if u_b <= u_a:
        return above
    # Plain-NumPy adaptive quadrature: scipy.integrate would cost the simulation half a second of imports.
    value, _ = integrate(lambda u: np.asarray(y.cdf(x.ppf(u)), dtype=float), u_a, u_b, tol=1e-13)
    return above + float(value)


class Register(Sequence[Scenario]):
    """An ordered, immutable set of scenarios with unique names.

    Index by position or by name. Simulating a register sums its scenarios
    year by year.

    Examples
    --------
    >>> import riskbudget as rb
    >>> a = rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.PERT(1, 2, 3))
    >>> b = rb.Scenario("B", annual_probability=0.1, primary_loss=rb.PERT(1, 2, 3))
    >>> reg = rb.Register([a, b])
    >>> reg.names
    ('A', 'B')
    >>> reg["B"].annual_probability
    Constant(value=0.1)
    """

    def __init__(self, scenarios: Iterable[Scenario] | Scenario = (), *, source: str = "") -> None:
        if isinstance(scenarios, Scenario):
            scenarios = [scenarios]
        if isinstance(scenarios, (str, bytes, Mapping)) or not isinstance(scenarios, Iterable):
            raise ScenarioError(
                f"a Register holds a list of scenarios, not {shown(scenarios)}; to load a file use "
                f"riskbudget.read_register(path)"
            )
        items = tuple(scenarios)
        seen: set[str] = set()
        ids: dict[str, str] = {}
        for i, s in enumerate(items):
            if not isinstance(s, Scenario):
                raise ScenarioError(f"register item {i} is not a Scenario but {type(s).__name__}")
            if s.name in seen:
                raise ScenarioError(f"scenario name {s.name!r} appears twice; names must be unique")
            seen.add(s.name)
            if s.id:
                if s.id in ids:
                    raise ScenarioError(
                        f"scenario id {s.id!r} is used by both {ids[s.id]!r} and {s.name!r}; ids must be unique"
                    )
                ids[s.id] = s.name
        self._items = items
        self._index = {s.name: i for i, s in enumerate(items)}
        self.source = source

    @overload
    def __getitem__(self, key: int | str) -> Scenario: ...

    @overload
    def __getitem__(self, key: slice) -> Register: ...

    def __getitem__(self, key: int | str | slice) -> Scenario | Register:
        if isinstance(key, str):
            try:
                return self._items[self._index[key]]
            except KeyError:
                raise KeyError(f"no scenario named {key!r}; the register has {list(self._index)}") from None
        if isinstance(key, slice):
            return Register(self._items[key], source=self.source)
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self._items)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._index
        return item in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Register):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Register({len(self)} scenarios: {', '.join(self.names[:5])}{', ...' if len(self) > 5 else ''})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._items)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.category for s in self._items if s.category))

    def select(self, names: Iterable[str]) -> Register:
        """A register of the named scenarios, in the order given."""
        return Register([self[n] for n in names], source=self.source)

    def filter(self, *, category: str | None = None) -> Register:
        """Scenarios of one category."""
        return Register([s for s in self._items if category is None or s.category == category], source=self.source)

    def replace(self, scenario: Scenario) -> Register:
        """A register with the scenario of the same name replaced (or appended)."""
        items = list(self._items)
        if scenario.name in self._index:
            items[self._index[scenario.name]] = scenario
        else:
            items.append(scenario)
        return Register(items, source=self.source)

    def to_frame(self) -> Any:
        """One row per scenario with its inputs' expected values (a DataFrame)."""
        import pandas as pd

        rows = []
        for s in self._items:
            rows.append(
                {
                    "name": s.name,
                    "id": s.id,
                    "category": s.category,
                    "owner": s.owner,
                    "frequency": s.frequency_kind,
                    "expected_loss_events_per_year": s.expected_loss_event_frequency(),
                    "expected_loss_per_event": s.expected_loss_per_event(),
                    "expected_annual_loss": s.expected_annual_loss(),
                }
            )
        return pd.DataFrame(rows).set_index("name")


def as_register(scenarios: Any) -> Register:
    """Accept a Register, a Scenario or an iterable of scenarios."""
    if isinstance(scenarios, Register):
        return scenarios
    if isinstance(scenarios, Scenario):
        return Register([scenarios])
    if isinstance(scenarios, (str, bytes)) or not isinstance(scenarios, Iterable):
        raise ScenarioError(
            f"expected a Scenario, a Register or a list of scenarios, not {type(scenarios).__name__}; "
            f"to load a file use riskbudget.read_register(path)"
        )
    return Register(scenarios)


#: Wildcard in ``applies_to`` / ``adds_risk_to``: every scenario.
ALL_SCENARIOS = "*"


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
        if t == ALL_SCENARIOS:
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
