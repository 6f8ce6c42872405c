"""Joint reviews: saved plans read back, what changed since last quarter, and the trend across quarters.

:func:`load_plan` reads a plan saved with ``Plan.save`` (or ``riskbudget
optimize --save``); :func:`compare` says what changed between two saved plans
- the items funded and dropped, each metric's change, the inputs that changed
(scenarios added, removed or re-estimated, controls and projects added,
removed or re-costed) - and splits the change in expected annual loss into
what the changed inputs did and what the changed plan did:

* ``A`` = ALE of the old plan on the old inputs (from the old file);
* ``B`` = ALE of the old plan on the new inputs, on the new plan's sample
  (same seed and years as the new plan, so ``C - B`` is a paired difference);
* ``C`` = ALE of the new plan on the new inputs (from the new file).

``B - A`` comes from the inputs, ``C - B`` from the plan, and they add up to
``C - A`` exactly. When the two plans were simulated on different seeds or
year counts, ``B - A`` also holds Monte Carlo noise, whose standard error is
reported.

:func:`trend` lines several saved plans up (quarterly reviews) for a table or
:func:`riskbudget.plotting.plot_trend`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _files
from .appetite import Appetite
from .controls import Control, Project
from .exceptions import RiskBudgetError
from .fair import Register, Scenario
from .formatting import money
from .optimization import evaluate
from .optimization.document import FORMAT, FORMAT_VERSION

__all__ = ["SavedPlan", "PlanComparison", "PlanFileError", "load_plan", "compare", "trend", "METRICS"]

#: The metrics a comparison and a trend report, in order.
METRICS = ("total_spend", "security_spend", "it_spend", "expected_value", "ale", "var95", "tvar95",
           "expected_net_value")


class PlanFileError(RiskBudgetError):
    """A saved-plan file cannot be read: not a plan, damaged, or from a newer version."""


@dataclass(frozen=True, eq=False)
class SavedPlan:
    """A plan read back from its JSON document (see :mod:`riskbudget.optimization.document`)."""

    data: dict[str, Any]
    path: Path | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else str(self.data.get("created", "plan"))

    @property
    def version(self) -> int:
        return int(self.data["version"])

    @property
    def funded(self) -> tuple[str, ...]:
        """Funded controls and projects, then security-by-design options as ``"<project> (security by design)"``."""
        f = self.data["funded"]
        return (*f["controls"], *f["projects"], *(f"{p} (security by design)" for p in f["security_by_design"]))

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.data["metrics"])

    @property
    def seed(self) -> Any:
        return self.data["sample"]["seed"]

    @property
    def years(self) -> int:
        return int(self.data["sample"]["years"])

    @property
    def budget(self) -> float | None:
        return self.data.get("budget")

    @property
    def created(self) -> str:
        return str(self.data.get("created", ""))

    def register(self) -> Register:
        return Register([Scenario.from_dict(s) for s in self.data["inputs"]["register"]["data"]])

    def controls(self) -> tuple[Control, ...]:
        return tuple(Control.from_dict(c) for c in self.data["inputs"]["controls"]["data"])

    def projects(self) -> tuple[Project, ...]:
        return tuple(Project.from_dict(p) for p in self.data["inputs"]["projects"]["data"])

    def appetite(self) -> Appetite | None:
        data = self.data["inputs"]["appetite"]["data"]
        return None if data is None else Appetite.from_dict(data)

    def reasons(self) -> Any:
        """The reasons per item, as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.data["items"]).set_index("item")

    def __repr__(self) -> str:
        m = self.metrics
        return (f"SavedPlan({self.label}: {len(self.funded)} funded, spend {money(m.get('total_spend'))}, "
                f"ALE {money(m.get('ale'))}, seed {self.seed}, {self.years:,} years)")


def load_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a saved plan; a file from a newer format version, or not a plan, is a clear error."""
    data = _files.load_json(path, PlanFileError, what="saved plan")
    where = str(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlanFileError(f"{where}: not a saved riskbudget plan (expected \"format\": {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise PlanFileError(f"{where}: version ({version!r}) must be a whole number >= 1")
    if version > FORMAT_VERSION:
        made_by = data.get("package", {}).get("version", "a newer riskbudget")
        raise PlanFileError(
            f"{where}: saved by riskbudget {made_by} in plan format version {version}, newer than this riskbudget "
            f"reads (version {FORMAT_VERSION}); upgrade riskbudget to read it"
        )
    missing = [k for k in ("inputs", "sample", "funded", "metrics", "items") if k not in data]
    if missing:
        raise PlanFileError(f"{where}: the plan lacks {missing}; the file is damaged or was edited by hand")
    return SavedPlan(data, Path(path))


def _as_saved(plan: Any) -> SavedPlan:
    if isinstance(plan, SavedPlan):
        return plan
    if isinstance(plan, (str, os.PathLike)):
        return load_plan(plan)
    from .optimization.document import plan_document

    return SavedPlan(json.loads(json.dumps(plan_document(plan), default=str)))


# --------------------------------------------------------------------------- #
# What changed
# --------------------------------------------------------------------------- #
def _diff_items(old: list[dict[str, Any]], new: list[dict[str, Any]], cost_keys: Sequence[str]) -> dict[str, Any]:
    o = {d["name"]: d for d in old}
    n = {d["name"]: d for d in new}
    changed: dict[str, list[str]] = {}
    costs: dict[str, dict[str, Any]] = {}
    for name in o.keys() & n.keys():
        diff = sorted(k for k in o[name].keys() | n[name].keys() if o[name].get(k) != n[name].get(k))
        if diff:
            changed[name] = diff
        for k in cost_keys:
            if o[name].get(k) != n[name].get(k):
                costs.setdefault(name, {})[k] = {"old": o[name].get(k), "new": n[name].get(k)}
    return {
        "added": [k for k in n if k not in o],
        "removed": [k for k in o if k not in n],
        "changed": {k: changed[k] for k in n if k in changed},
        "costs": costs,
    }


@dataclass(frozen=True, eq=False)
class PlanComparison:
    """What changed between two saved plans (see :func:`compare`)."""

    old: SavedPlan
    new: SavedPlan
    funded_added: tuple[str, ...]
    funded_removed: tuple[str, ...]
    delta: dict[str, float | None]
    inputs: dict[str, Any]
    attribution: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.label,
            "new": self.new.label,
            "funded_added": list(self.funded_added),
            "funded_removed": list(self.funded_removed),
            "delta": self.delta,
            "inputs": self.inputs,
            "attribution": self.attribution,
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        lines = [f"From {self.old.label} to {self.new.label}:"]
        lines.append(f"  funded now: {', '.join(self.funded_added) or 'nothing new'}")
        lines.append(f"  no longer funded: {', '.join(self.funded_removed) or 'nothing'}")
        for k in METRICS:
            d = self.delta.get(k)
            if d is not None:
                lines.append(f"  {k.replace('_', ' ')}: {'+' if d >= 0 else '-'}{money(abs(d))}")
        for kind in ("scenarios", "controls", "projects"):
            d = self.inputs[kind]
            parts = []
            if d["added"]:
                parts.append("added " + ", ".join(d["added"]))
            if d["removed"]:
                parts.append("removed " + ", ".join(d["removed"]))
            if d["changed"]:
                parts.append("changed " + ", ".join(f"{k} ({', '.join(v)})" for k, v in d["changed"].items()))
            lines.append(f"  {kind}: {'; '.join(parts) or 'unchanged'}")
        a = self.attribution
        if a.get("ale_change") is not None:
            lines.append(
                f"  ALE change {money(a['ale_change'])}: {money(a['from_inputs'])} from changed inputs "
                f"(± {money(a['from_inputs_se'])} of Monte Carlo noise), {money(a['from_plan'])} from the changed plan"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def compare(old: Any, new: Any, *, progress: bool | None = False) -> PlanComparison:
    """What changed between two plans: items, metrics, inputs, and where the ALE change comes from.

    Parameters
    ----------
    old, new : SavedPlan, Plan, or path of a saved plan

    Returns
    -------
    PlanComparison
        ``funded_added``, ``funded_removed``, ``delta`` (each metric's change,
        new minus old), ``inputs`` (scenarios, controls and projects added,
        removed or changed; appetite changed or not) and ``attribution`` (the
        ALE change split into inputs and plan, adding up exactly).
    """
    o, n = _as_saved(old), _as_saved(new)
    fo, fn = set(o.funded), set(n.funded)
    added = tuple(x for x in n.funded if x not in fo)
    removed = tuple(x for x in o.funded if x not in fn)
    delta: dict[str, float | None] = {}
    for k in METRICS:
        a, b = o.metrics.get(k), n.metrics.get(k)
        delta[k] = None if a is None or b is None else float(b) - float(a)
    inputs = {
        "scenarios": _diff_items(o.data["inputs"]["register"]["data"], n.data["inputs"]["register"]["data"], ()),
        "controls": _diff_items(o.data["inputs"]["controls"]["data"], n.data["inputs"]["controls"]["data"],
                                ("cost_per_year",)),
        "projects": _diff_items(o.data["inputs"]["projects"]["data"], n.data["inputs"]["projects"]["data"],
                                ("cost_per_year", "value_per_year")),
        "appetite_changed": o.data["inputs"]["appetite"]["sha256"] != n.data["inputs"]["appetite"]["sha256"],
    }
    attribution, notes = _attribute(o, n, progress=progress)
    return PlanComparison(o, n, added, removed, delta, inputs, attribution, tuple(notes))


def _attribute(o: SavedPlan, n: SavedPlan, *, progress: bool | None) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    ale_a, ale_c = o.metrics.get("ale"), n.metrics.get("ale")
    if ale_a is None or ale_c is None:
        return {"ale_change": None}, ["an ALE is missing from a plan file"]
    controls, projects = n.controls(), n.projects()
    known = {c.name for c in controls} | {p.name for p in projects}
    f = o.data["funded"]
    keep = [x for x in (*f["controls"], *f["projects"]) if x in known]
    gone = [x for x in (*f["controls"], *f["projects"]) if x not in known]
    if gone:
        notes.append(f"the old plan's {', '.join(gone)} are no longer candidates; the old plan is valued without them")
    sbd = [x for x in f["security_by_design"] if x in keep]
    old_on_new = evaluate(n.register(), controls, projects, funded=keep, security_by_design=sbd,
                          years=n.years, seed=n.seed, progress=progress)
    ale_b = float(old_on_new.ale)
    same_sample = (o.seed, o.years) == (n.seed, n.years)
    noise = 0.0 if same_sample else math.hypot(float(o.metrics.get("ale_se") or 0.0), float(old_on_new.ale_se))
    if not same_sample:
        notes.append(
            f"the plans were simulated on different samples (seed {o.seed}, {o.years:,} years and seed {n.seed}, "
            f"{n.years:,} years); the part from the inputs holds Monte Carlo noise of about ± {money(noise)}"
        )
    attribution = {
        "ale_old": float(ale_a),
        "ale_old_plan_new_inputs": ale_b,
        "ale_new": float(ale_c),
        "ale_change": float(ale_c) - float(ale_a),
        "from_inputs": ale_b - float(ale_a),
        "from_inputs_se": noise,
        "from_plan": float(ale_c) - ale_b,
    }
    return attribution, notes


def trend(plans: Iterable[Any]) -> Any:
    """Metrics of several saved plans in order (quarterly reviews), as a DataFrame indexed by label."""
    import pandas as pd

    rows = {}
    for p in plans:
        s = _as_saved(p)
        rows[s.label] = {"created": s.created, "funded": len(s.funded),
                         **{k: s.metrics.get(k) for k in METRICS},
                         "appetite_ok": s.data.get("appetite_ok")}
    if not rows:
        raise RiskBudgetError("trend: no plans given")
    return pd.DataFrame.from_dict(rows, orient="index")
