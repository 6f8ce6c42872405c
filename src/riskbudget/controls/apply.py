"""Applying controls and projects to a register: targets and adjustments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..exceptions import RiskBudgetError
from ..fair import Adjustment, Register, Scenario, as_register, resolve_targets
from ._common import ControlError, ProjectError, _names
from .control import Control
from .project import Project, ProjectMultiplier


# --------------------------------------------------------------------------- #
# Applying controls and projects to a register
# --------------------------------------------------------------------------- #
def scenario_universe(register: Register, projects: Sequence[Project]) -> list[Scenario]:
    """The register's scenarios followed by every project's new scenarios (names must not clash)."""
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


def check_unique_names(controls: Sequence[Control], projects: Sequence[Project]) -> None:
    """Every control and project has its own name (a decision is named in plans, files and widgets)."""
    seen: dict[str, str] = {}
    for kind, items in (("control", controls), ("project", projects)):
        for item in items:
            if item.name in seen:
                raise RiskBudgetError(
                    f"{kind} {item.name!r}: the name is already used by a {seen[item.name]}; controls and projects "
                    f"need unique names (they key the random streams)"
                )
            seen[item.name] = kind


def check_references(controls: Iterable[Control] = (), projects: Iterable[Project] = ()) -> None:
    """Every name in a control's or project's ``requires`` and ``excludes`` is among the items given.

    The one rule for what ``requires`` and ``excludes`` may name: a control
    or project of the complete set under consideration (every alternative,
    funded or not). The optimiser enforces it on every control and project;
    call it wherever that complete set is known. (:func:`apply_controls` and
    :func:`apply_projects` cannot: the optimiser passes them funded subsets,
    from which required or excluded items may be absent by design.)

    Raises
    ------
    ControlError or ProjectError
        Naming the item, the relation and the unknown names.

    Examples
    --------
    >>> import riskbudget as rb
    >>> pam = rb.Control("PAM", 1e5, resistance=0.3, requires="MFA")
    >>> check_references([pam])
    Traceback (most recent call last):
    ...
    riskbudget.controls._common.ControlError: Control 'PAM': requires names ['MFA'], which are neither controls nor projects here (known: ['PAM']); fix the name, or give that control or project too
    """
    ctrls, projs = as_controls(controls), as_projects(projects)
    known = {c.name for c in ctrls} | {p.name for p in projs}
    for kind, items, err in (("Control", ctrls, ControlError), ("Project", projs, ProjectError)):
        for item in items:
            for rel in ("requires", "excludes"):
                unknown = [n for n in getattr(item, rel) if n not in known]
                if unknown:
                    raise err(
                        f"{kind} {item.name!r}: {rel} names {unknown}, which are neither controls nor projects here "
                        f"(known: {sorted(known)}); fix the name, or give that control or project too"
                    )


def _as_items(items: Any, cls: type, err: type[RiskBudgetError], reader: str) -> tuple[Any, ...]:
    if isinstance(items, cls):
        return (items,)
    out = tuple(items)
    for item in out:
        if not isinstance(item, cls):
            raise err(f"expected {cls.__name__} objects, got {type(item).__name__}; read a file with {reader}(path)")
    return out


def as_controls(controls: Any) -> tuple[Control, ...]:
    """A tuple of :class:`Control`, from one control or an iterable of them (anything else is an error)."""
    return _as_items(controls, Control, ControlError, "read_controls")


def as_projects(projects: Any) -> tuple[Project, ...]:
    """A tuple of :class:`Project`, from one project or an iterable of them (anything else is an error)."""
    return _as_items(projects, Project, ProjectError, "read_projects")


def control_targets(
    register: Register, controls: Sequence[Control], projects: Sequence[Project] = ()
) -> dict[str, tuple[str, ...]]:
    """Control name -> the scenarios it covers (project scenarios count as known)."""
    universe = scenario_universe(register, projects)
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
        problem = scenario.loss_target_problem(factor)
        if problem:
            raise ProjectError(f"Project {project.name!r}: raises {factor}, but {problem}")
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
    ctrls = as_controls(controls)
    projs = as_projects(projects)
    check_unique_names(ctrls, projs)
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
    projs = as_projects(projects)
    ctrls = as_controls(controls)
    sbd = set(_names(security_by_design))
    known = {p.name for p in projs}
    for name in sbd:
        if name not in known:
            raise ProjectError(f"security_by_design names {name!r}, which is not among the projects {sorted(known)}")
        p = next(p for p in projs if p.name == name)
        if p.security_by_design is None:
            raise ProjectError(f"Project {name!r}: has no security-by-design option to buy")
    check_unique_names(ctrls, projs)
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
