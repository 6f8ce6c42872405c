"""Cyber insurance as risk transfer: a policy pays part of the losses above a retention, up to a limit.

A policy (:class:`Insurance`) is one layer:

* ``retention`` is the deductible: losses up to it stay with the company;
* ``limit`` is the most the insurer pays above the retention;
* ``coinsurance`` is the share of each covered loss the company keeps;
* with ``basis="per_event"`` the layer applies to each loss event's loss, with
  ``basis="annual"`` to the year's aggregate loss of the scenarios it covers
  (``applies_to``: scenario names, ids or categories; ``"*"`` for all).

The insurer's payment on a loss ``x`` is ``(1 - coinsurance) x min(max(x -
retention, 0), limit)``. Several policies stack as a tower (a primary layer
and excess layers above it): each layer pays on the same ground-up loss, so a
tower of ``$5M xs $1M`` and ``$10M xs $6M`` pays for losses between $1M and
$16M. Layers of one tower on one basis must not overlap.

Order of application, when both bases are present: per-event layers first, on
each event's ground-up loss; annual layers then, on the year's aggregate of
what the per-event layers left (the retained loss), so no dollar is recovered
twice. Recoveries are allocated back to scenarios: per-event ones exactly, an
annual one in proportion to each covered scenario's share of the year's
covered loss.

The premium is spend on its own line ("risk transfer"); the simulation
reports retained losses (:attr:`~riskbudget.SimulationResult.losses`) and the
insurer's payments (:attr:`~riskbudget.SimulationResult.recovered`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .exceptions import RiskBudgetError, check_text
from .fair import ALL_SCENARIOS, Scenario, resolve_targets

__all__ = ["Insurance", "InsuranceError", "BASES", "as_policies", "layer_recovery", "Tower", "read_insurance", "INSURANCE_COLUMNS",
           "covering"]

#: How a layer applies: to each loss event, or to the year's aggregate loss.
BASES = ("annual", "per_event")


class InsuranceError(RiskBudgetError):
    """An insurance policy, or a row of an insurance file, breaks a rule."""


def _money(owner: str, name: str, value: Any, *, allow_inf: bool = False) -> float:
    from ._parse import parse_money

    if allow_inf and isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    return parse_money(value, where=owner, name=name, error=InsuranceError)


@dataclass(frozen=True)
class Insurance:
    """One insurance layer: the insurer pays ``(1 - coinsurance) x min(max(loss - retention, 0), limit)``.

    Parameters
    ----------
    name : str
        The policy (e.g. "Cyber primary").
    premium : float
        Yearly premium (>= 0), counted as risk-transfer spend.
    retention : float
        The deductible (>= 0): losses up to it are not covered.
    limit : float
        The most the insurer pays above the retention (> 0), per event or per
        year depending on ``basis``: the layer is "limit xs retention", so an
        excess layer's retention is often above its limit ($5M xs $6M).
    basis : {"annual", "per_event"}, default "annual"
        The layer applies to the year's aggregate loss of the covered
        scenarios, or to each loss event.
    coinsurance : float, default 0.0
        The share of each covered loss the company keeps, in [0, 1].
    applies_to : str or sequence of str, default "*"
        The covered scenarios: names, ids or categories (``"*"``: all).

    Examples
    --------
    >>> policy = Insurance("Cyber", premium=250_000, retention=1e6, limit=10e6)
    >>> policy.recovery([500_000, 3e6, 50e6]).tolist()
    [0.0, 2000000.0, 10000000.0]
    """

    name: str
    premium: float
    retention: float
    limit: float
    basis: Literal["annual", "per_event"] = "annual"
    coinsurance: float = 0.0
    applies_to: tuple[str, ...] = field(default=(ALL_SCENARIOS,))
    category: str = ""
    owner: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InsuranceError(f"Insurance name must be a non-empty string, not {self.name!r}", field="name")
        object.__setattr__(self, "name", check_text("Insurance", "name", self.name.strip(), InsuranceError))
        who = f"Insurance {self.name!r}"
        for f in ("category", "owner", "description"):
            object.__setattr__(self, f, check_text(who, f, getattr(self, f), InsuranceError, multiline=f == "description"))
        premium = _money(who, "premium", self.premium)
        retention = _money(who, "retention", self.retention)
        limit = _money(who, "limit", self.limit)
        if premium < 0:
            raise InsuranceError(f"{who}: premium ({premium:g}) must be >= 0", field="premium")
        if retention < 0:
            raise InsuranceError(f"{who}: retention ({retention:g}) must be >= 0 (the deductible)", field="retention")
        if not limit > 0:
            raise InsuranceError(f"{who}: limit ({limit:g}) must be > 0 (the most the insurer pays)", field="limit")
        if self.basis not in BASES:
            raise InsuranceError(f"{who}: basis ({self.basis!r}) must be one of {list(BASES)}", field="basis")
        from ._parse import parse_share

        coins = parse_share(self.coinsurance, where=who, name="coinsurance", error=InsuranceError)
        targets = self.applies_to
        if isinstance(targets, str):
            targets = tuple(t.strip() for t in targets.split(";") if t.strip())
        else:
            try:
                targets = tuple(check_text(who, "applies_to", t, InsuranceError).strip() for t in targets)
            except TypeError:
                raise InsuranceError(
                    f"{who}: applies_to must be names separated by ';' or a list of names, not {self.applies_to!r}",
                    field="applies_to",
                ) from None
        if not targets:
            raise InsuranceError(f"{who}: applies_to is empty; name the covered scenarios or use '*'", field="applies_to")
        for name, value in (("premium", premium), ("retention", retention), ("limit", limit),
                            ("coinsurance", coins), ("applies_to", targets)):
            object.__setattr__(self, name, value)

    @property
    def exhaustion(self) -> float:
        """The ground-up loss at which the layer is used up: ``retention + limit``."""
        return self.retention + self.limit

    def recovery(self, loss: Any) -> np.ndarray:
        """The insurer's payment on each loss (an array, or a number)."""
        return layer_recovery(np.asarray(loss, dtype=float), self.retention, self.limit, self.coinsurance)

    def covered(self, scenarios: Sequence[Scenario]) -> tuple[str, ...]:
        """The names of the covered scenarios among ``scenarios``."""
        return resolve_targets(f"Insurance {self.name!r}", self.applies_to, scenarios, InsuranceError)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "premium": self.premium,
            "retention": self.retention,
            "limit": self.limit,
            "basis": self.basis,
            "coinsurance": self.coinsurance,
            "applies_to": list(self.applies_to),
        }


def layer_recovery(loss: np.ndarray, retention: float, limit: float, coinsurance: float = 0.0) -> np.ndarray:
    """``(1 - coinsurance) x min(max(loss - retention, 0), limit)``, elementwise."""
    paid = np.minimum(np.maximum(loss - retention, 0.0), limit)
    if coinsurance:
        paid *= 1.0 - coinsurance
    return paid


def as_policies(insurance: Insurance | Iterable[Insurance] | None) -> tuple[Insurance, ...]:
    """A tuple of policies from one policy, several, or None; names unique, layers of one basis not overlapping."""
    if insurance is None:
        return ()
    if isinstance(insurance, Insurance):
        policies: tuple[Insurance, ...] = (insurance,)
    else:
        try:
            policies = tuple(insurance)
        except TypeError:
            raise InsuranceError(
                f"insurance must be an Insurance or a list of them, not {type(insurance).__name__}"
            ) from None
        for p in policies:
            if not isinstance(p, Insurance):
                raise InsuranceError(f"insurance must hold Insurance policies, not {type(p).__name__}")
    seen: set[str] = set()
    for p in policies:
        if p.name in seen:
            raise InsuranceError(f"Insurance {p.name!r} appears twice; policy names must be unique")
        seen.add(p.name)
    return policies


@dataclass(frozen=True)
class Tower:
    """The policies applied to one register: per-event layers by scenario, annual layers with their scenarios."""

    per_event: dict[str, tuple[Insurance, ...]]
    annual: tuple[tuple[Insurance, tuple[str, ...]], ...]

    @classmethod
    def build(cls, policies: Sequence[Insurance], scenarios: Sequence[Scenario], *,
              within: Collection[str] | None = None) -> Tower:
        """The tower of ``policies`` on ``scenarios`` (overlapping layers are an error).

        ``within``: resolve each layer's scope on ``scenarios`` (every
        scenario a decision problem knows, so a layer may name one a project
        adds) and keep only these names (the funded register's); an annual
        layer that then covers nothing is left out.
        """
        per_event: dict[str, list[Insurance]] = {}
        annual = []
        for p in policies:
            covered = p.covered(scenarios)
            if within is not None:
                covered = tuple(n for n in covered if n in within)
            if p.basis == "per_event":
                for name in covered:
                    per_event.setdefault(name, []).append(p)
            elif covered or within is None:
                annual.append((p, covered))
        tower = cls({k: tuple(v) for k, v in per_event.items()}, tuple(annual))
        tower._check_overlaps()
        return tower

    def _check_overlaps(self) -> None:
        for name, layers in self.per_event.items():
            _no_overlap(list(layers), f"per-event layers on scenario {name!r}")
        groups: dict[tuple[str, ...], list[Insurance]] = {}
        for p, covered in self.annual:
            groups.setdefault(covered, []).append(p)
        for stacked in groups.values():
            _no_overlap(stacked, "annual layers on the same scenarios")
        # Annual layers on sets of scenarios that share some but not all would each pay on the same retained
        # dollars (each on its own aggregate): the payments would add up past the loss. A tower stacks layers on
        # the same scenarios; layers on disjoint sets are separate towers.
        sets = list(groups)
        for i, a in enumerate(sets):
            for b in sets[i + 1:]:
                shared = sorted(set(a) & set(b))
                if shared:
                    first, second = groups[a][0].name, groups[b][0].name
                    raise InsuranceError(
                        f"annual layers {first!r} and {second!r} cover overlapping but different sets of scenarios "
                        f"(both cover {shared[:3]}{'...' if len(shared) > 3 else ''}): each would pay on the same "
                        f"losses; give the layers of one tower the same scenarios, or disjoint ones"
                    )

    def __bool__(self) -> bool:
        return bool(self.per_event) or bool(self.annual)

    def event_recovery(self, scenario: str, losses: np.ndarray) -> np.ndarray | None:
        """What the per-event layers pay on each event loss of ``scenario`` (None: none covers it)."""
        layers = self.per_event.get(scenario)
        if not layers:
            return None
        paid = np.zeros_like(losses)
        for p in layers:
            paid += layer_recovery(losses, p.retention, p.limit, p.coinsurance)
        return paid

    def apply_annual(self, names: Sequence[str], losses: np.ndarray, recovered: np.ndarray) -> None:
        """Apply the annual layers in place: ``losses`` (after any per-event layer) lose what they pay, and
        ``recovered`` gains it (both ``(years, scenarios)`` in the order of ``names``)."""
        if self.annual:
            paid = self.annual_recovery(names, losses)
            losses -= paid
            recovered += paid

    def annual_recovery(self, names: Sequence[str], retained: np.ndarray) -> np.ndarray:
        """Per-scenario recoveries ``(years, scenarios)`` of the annual layers on the retained losses.

        Each annual layer pays on the year's aggregate of its covered
        scenarios' retained losses; the payment is shared among them in
        proportion to their losses that year.
        """
        out = np.zeros_like(retained)
        if not self.annual:
            return out
        col = {n: j for j, n in enumerate(names)}
        for p, covered in self.annual:
            idx = [col[n] for n in covered if n in col]
            if not idx:
                continue
            part = retained[:, idx]
            aggregate = part.sum(axis=1)
            paid = layer_recovery(aggregate, p.retention, p.limit, p.coinsurance)
            # only years with a payment get a share (a payment needs aggregate > retention >= 0); elsewhere the
            # share times a zero payment adds 0.0, which changes no bit
            rows = np.flatnonzero(paid > 0)
            if rows.size:
                share = part[rows] / aggregate[rows, None]
                out[np.ix_(rows, np.asarray(idx, dtype=np.intp))] += share * paid[rows, None]
        return out


def covering(policies: Sequence[Insurance], scenarios: Sequence[Scenario]) -> tuple[Insurance, ...]:
    """The layers that cover at least one of ``scenarios`` (a layer naming only scenarios not among them is left out).

    For re-simulating a funded register with the insurance an optimised plan
    bought: a layer on a scenario a project adds covers nothing when that
    project is not funded. The layers' scopes were checked against every
    scenario the optimiser knew, so nothing here hides a typo.
    """
    out = []
    for p in policies:
        try:
            if p.covered(scenarios):
                out.append(p)
        except InsuranceError:
            continue
    return tuple(out)


def _no_overlap(layers: list[Insurance], what: str) -> None:
    ordered = sorted(layers, key=lambda p: p.retention)
    for lower, upper in zip(ordered, ordered[1:]):
        if upper.retention < lower.exhaustion:
            raise InsuranceError(
                f"{what}: {lower.name!r} covers up to {lower.exhaustion:,.0f} but {upper.name!r} attaches at "
                f"{upper.retention:,.0f}; layers of one tower must not overlap (an excess layer attaches where the "
                f"layer below is used up)"
            )


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
#: Columns of an insurance file, in order; ``name``, ``premium``, ``retention`` and ``limit`` are required.
INSURANCE_COLUMNS = (
    "name",
    "premium",
    "retention",
    "limit",
    "basis",
    "coinsurance",
    "applies_to",
    "category",
    "owner",
    "description",
)
_REQUIRED = ("name", "premium", "retention", "limit")


def read_insurance(path: Any) -> tuple[Insurance, ...]:
    """Read insurance policies from a CSV file, one layer per row.

    Columns: ``name``, ``premium``, ``retention``, ``limit`` (required;
    amounts as numbers or as "250K", "$1,000,000", "10M"), ``basis``
    (``annual`` or ``per_event``; default annual), ``coinsurance`` (0.1 or
    10%), ``applies_to`` (scenario names, ids or categories separated by
    ``;``; default ``*``), and text ``category``, ``owner``, ``description``.
    A bad row raises :class:`InsuranceError` naming the file, the line, the
    policy, the column and the value.

    Examples
    --------
    >>> from riskbudget import datasets
    >>> policies = read_insurance(datasets.example_path("insurance.csv"))
    >>> [p.name for p in policies][:1]
    ['Cyber primary']
    """
    from . import _files

    p = _files.check_file(path, InsuranceError, what="insurance")
    source = str(p)
    if p.suffix.lower() != ".csv":
        raise InsuranceError(f"{source}: an insurance file must be CSV (.csv), not {p.suffix or 'no suffix'!r}")
    records = _files.read_csv(p, InsuranceError, what="insurance")
    if not records:
        raise InsuranceError(f"{source}: the file is empty; expected a header row with {list(_REQUIRED)}")
    header = [h.strip() for h in records[0]]
    unknown = [h for h in header if h not in INSURANCE_COLUMNS]
    if unknown:
        raise InsuranceError(f"{source}: unknown column(s) {unknown}; the allowed columns are {', '.join(INSURANCE_COLUMNS)}")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InsuranceError(f"{source}: the required column(s) {missing} are missing (found {header})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InsuranceError(f"{source}: column(s) {dupes} appear more than once")
    out: list[Insurance] = []
    first_line: dict[str, int] = {}
    for line, values in enumerate(records[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise InsuranceError(f"{source}, line {line}: {len(values)} values but the header has {len(header)} columns")
        row = {h: _files.unescape_cell(v.strip()) for h, v in zip(header, values) if v.strip()}
        name = row.get("name", "")
        try:
            policy = Insurance(**row)  # type: ignore[arg-type]
        except InsuranceError as exc:
            column = f", column {exc.field}" if exc.field else ""
            value = f", value {row[exc.field]!r}" if exc.field in row else ""
            raise InsuranceError(f"{source}, line {line}, policy {name!r}{column}{value}: {exc}", field=exc.field) from None
        if policy.name in first_line:
            raise InsuranceError(
                f"{source}, line {line}, column name: policy {policy.name!r} already appears on line "
                f"{first_line[policy.name]}; names must be unique"
            )
        first_line[policy.name] = line
        out.append(policy)
    if not out:
        raise InsuranceError(f"{source}: the file has a header but no policies")
    return tuple(out)
