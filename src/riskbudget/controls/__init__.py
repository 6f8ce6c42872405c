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

from ._common import ALL, FUNCTIONS, ControlError, ProjectError
from .apply import (
    apply_controls,
    apply_projects,
    as_controls,
    as_projects,
    check_references,
    check_unique_names,
    control_targets,
    new_scenario_adjustments,
    project_adjustments,
    project_targets,
    resolve_targets,
    scenario_universe,
)
from .control import CONTROL_COMPONENTS, Control, ControlMultiplier, control_component
from .effects import ResponseSLA
from .files import CONTROL_COLUMNS, PROJECT_COLUMNS, read_controls, read_projects
from .project import Project, ProjectMultiplier, RiskChange, SecurityByDesign, project_component

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
    "ALL",
    "read_controls",
    "read_projects",
    "apply_controls",
    "apply_projects",
    "check_references",
    "check_unique_names",
    "as_controls",
    "as_projects",
    "scenario_universe",
    "control_targets",
    "project_targets",
    "project_adjustments",
    "new_scenario_adjustments",
    "CONTROL_COMPONENTS",
    "control_component",
    "project_component",
    "resolve_targets",
    "CONTROL_COLUMNS",
    "PROJECT_COLUMNS",
]

#: The submodules' docstring examples, so that ``doctest.testmod(riskbudget.controls)``
#: runs them as it did when the package was one module.
__test__ = {
    f.__name__: f
    for f in (ResponseSLA, Control, Project, apply_controls, check_references, read_controls, read_projects)
}
