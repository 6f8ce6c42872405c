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
from .optimization.document import FORMAT, FORMAT_VERSION, INPUT_KINDS, plan_document, upgrade
from .optimization.plan import status_words

__all__ = ["SavedPlan", "PlanComparison", "PlanFileError", "load_plan", "compare", "trend", "METRICS",
           "METRIC_LABELS"]

#: The metrics a comparison and a trend report, in order.
METRICS = ("total_spend", "security_spend", "it_spend", "expected_value", "ale", "var95", "tvar95",
           "expected_net_value")
#: How each metric is named for people.
METRIC_LABELS = {"total_spend": "Spend", "security_spend": "Security spend", "it_spend": "IT spend",
                 "expected_value": "Project value", "ale": "ALE", "var95": "VaR95", "tvar95": "TVaR95",
                 "expected_net_value": "Expected net value", "npv": "NPV"}


class PlanFileError(RiskBudgetError):
    """A saved-plan file cannot be read: not a plan, damaged, or from a newer version."""


@dataclass(frozen=True, eq=False)
class SavedPlan:
    """A plan read back from its JSON document (see :mod:`riskbudget.optimization.document`).

    ``data`` is the document in the current layout (an older file is brought
    up to it on reading); ``version`` is the layout version the file was
    written in. The inputs rebuild as objects: :meth:`register`,
    :meth:`controls`, :meth:`projects`, :meth:`appetite`.
    """

    data: dict[str, Any]
    path: Path | None = None
    file_version: int | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else str(self.data.get("created", "plan"))

    @property
    def version(self) -> int:
        """The layout version the file was written in."""
        return int(self.file_version if self.file_version is not None else self.data["version"])

    @property
    def package_version(self) -> str:
        """The riskbudget version that saved the plan."""
        return str((self.data.get("package") or {}).get("version", "unknown"))

    @property
    def status(self) -> str:
        return str(self.data.get("status", ""))

    @property
    def status_text(self) -> str:
        """What is proven about the plan, in words, as saved."""
        text = self.data.get("status_text")
        if text:
            return str(text)
        gap = self.metrics.get("solver_gap")
        try:
            return status_words(self.status, math.nan if gap is None else float(gap))
        except ValueError:
            return self.status

    @property
    def confidence(self) -> float | None:
        return self.data.get("confidence")

    @property
    def margins(self) -> dict[str, float]:
        return dict(self.data.get("margins") or {})

    @property
    def robustness(self) -> dict[str, Any] | None:
        """Each limit on fresh years and the chance it holds, as saved (``None``: no appetite or not checked)."""
        return self.data.get("robustness")

    @property
    def smallest_values(self) -> list[dict[str, Any]] | None:
        return self.data.get("smallest_values")

    @property
    def budget_needed(self) -> dict[str, Any] | None:
        return self.data.get("budget_needed")

    @property
    def constraints(self) -> dict[str, Any]:
        return dict(self.data.get("constraints") or {})

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.data.get("notes") or ())

    @property
    def files(self) -> dict[str, dict[str, str]]:
        """The input files by kind, with their SHA-256 hashes, where they were recorded."""
        out = {}
        for kind in INPUT_KINDS:
            entry = self.data["inputs"].get(kind) or {}
            if "file" in entry:
                out[kind] = {"file": entry["file"], "sha256": entry.get("file_sha256", "")}
        return out

    @property
    def horizon(self) -> int:
        """Years the plan covers (1 for a one-year plan)."""
        return int((self.data.get("horizon") or {}).get("years") or 1)

    @property
    def discount_rate(self) -> float:
        return float((self.data.get("horizon") or {}).get("discount_rate") or 0.0)

    @property
    def npv(self) -> float | None:
        """Net present value over the horizon (``None`` for a one-year plan)."""
        return (self.data.get("horizon") or {}).get("npv")

    def by_year(self) -> Any:
        """The per-year table of a multi-year plan, as a DataFrame indexed by year (``None`` for a one-year plan)."""
        rows = self.data.get("by_year")
        if not rows:
            return None
        import pandas as pd

        return pd.DataFrame(rows).set_index("year")

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

    def towers(self) -> Any:
        """The insurance options the optimiser compared (a DataFrame indexed by tower; None if there were none)."""
        import pandas as pd

        rows = (self.data.get("insurance") or {}).get("towers")
        return None if not rows else pd.DataFrame(rows).set_index("tower")

    def insurance(self) -> tuple[Any, ...]:
        """The insurance layers the plan bought (empty without insurance, and in files from before it existed)."""
        from .insurance import Insurance

        doc = self.data.get("insurance") or {}
        return tuple(Insurance(**p) for p in doc.get("bought") or ())

    def reasons(self) -> Any:
        """The reasons per item, as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.data["items"]).set_index("item")

    def __repr__(self) -> str:
        m = self.metrics
        return (f"SavedPlan({self.label}: {len(self.funded)} funded, spend {money(m.get('total_spend'))}, "
                f"ALE {money(m.get('ale'))}, seed {self.seed}, {self.years:,} years)")


def load_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """Read a plan saved with :meth:`Plan.save <riskbudget.optimization.Plan.save>` or ``riskbudget optimize --save``.

    A file of an older layout version is brought up to the current one; a
    file from a newer version, a file that is not a saved plan, a damaged
    one or a missing one is a :class:`PlanFileError` naming the file.

    Examples
    --------
    >>> import tempfile, riskbudget as rb
    >>> reg = rb.read_register(rb.io.example_path("register.csv"))
    >>> plan = rb.optimize(reg, rb.read_controls(rb.io.example_path("controls.csv")), (), budget=1e6,
    ...                    years=1_000, seed=7, progress=False)
    >>> saved = rb.load_plan(plan.save(tempfile.mkdtemp() + "/q1.json"))
    >>> saved.seed, saved.years, saved.metrics["ale"] == plan.ale
    (7, 1000, True)
    """
    data = _files.load_json(path, PlanFileError, what="saved plan")
    where = str(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlanFileError(f"{where}: not a saved riskbudget plan (expected \"format\": {FORMAT!r}); save one "
                            f"with plan.save(path) or riskbudget optimize ... --save {Path(where).name}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
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
    return SavedPlan(upgrade(data), Path(path), version)


def _as_saved(plan: Any) -> SavedPlan:
    if isinstance(plan, SavedPlan):
        return plan
    if isinstance(plan, (str, os.PathLike)):
        return load_plan(plan)
    return SavedPlan(json.loads(json.dumps(plan_document(plan), default=str)))


def _labels(plans: Sequence[SavedPlan]) -> list[str]:
    """Each plan's label (its file name), made unique with the path where two share a name."""
    paths: dict[str, set[str]] = {}
    for p in plans:
        paths.setdefault(p.label, set()).add(str(p.path))
    out = [str(p.path) if len(paths[p.label]) > 1 else p.label for p in plans]
    seen: dict[str, int] = {}
    for i, label in enumerate(out):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            out[i] = f"{label} ({seen[label]})"
    return out


# --------------------------------------------------------------------------- #
# What changed
# --------------------------------------------------------------------------- #
def _is_amount(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _diff_items(old: list[dict[str, Any]], new: list[dict[str, Any]], cost_keys: Sequence[str]) -> dict[str, Any]:
    """Items added, removed and changed (the fields that differ; ``values``: each one's old and new value)."""
    o = {d["name"]: d for d in old}
    n = {d["name"]: d for d in new}
    changed: dict[str, list[str]] = {}
    values: dict[str, dict[str, Any]] = {}
    costs: dict[str, dict[str, Any]] = {}
    for name in o.keys() & n.keys():
        diff = sorted(k for k in o[name].keys() | n[name].keys() if o[name].get(k) != n[name].get(k))
        if diff:
            changed[name] = diff
            values[name] = {k: {"old": o[name].get(k), "new": n[name].get(k)} for k in diff}
        for k in cost_keys:
            if o[name].get(k) != n[name].get(k):
                costs.setdefault(name, {})[k] = {"old": o[name].get(k), "new": n[name].get(k)}
    return {
        "added": [k for k in n if k not in o],
        "removed": [k for k in o if k not in n],
        "changed": {k: changed[k] for k in n if k in changed},
        "values": {k: values[k] for k in n if k in values},
        "costs": {k: costs[k] for k in n if k in costs},
    }


@dataclass(frozen=True, eq=False)
class PlanComparison:
    """What changed between two saved plans (see :func:`compare`).

    Attributes
    ----------
    old, new : SavedPlan
    funded_added, funded_removed : tuple of str
        Items funded in the new plan and not the old, and the other way round.
    delta : dict
        Each metric's change, new minus old (``None`` where a plan lacks it).
    inputs : dict
        ``scenarios``, ``controls``, ``projects``: each ``added``,
        ``removed``, ``changed`` (the fields that differ), ``values`` (their
        old and new values) and ``costs`` (changed costs and values per
        year); ``appetite_changed``; ``changed`` (the kinds of input whose
        content changed) and ``files`` (each input's file name, old and new,
        where recorded).
    attribution : dict
        The ALE change split into ``from_inputs`` and ``from_plan``, which
        add up to ``ale_change`` (see :mod:`riskbudget.review`).
    notes : tuple of str
    labels : tuple of str
        The two plans' names in the output (their file names).
    """

    old: SavedPlan
    new: SavedPlan
    funded_added: tuple[str, ...]
    funded_removed: tuple[str, ...]
    delta: dict[str, float | None]
    inputs: dict[str, Any]
    attribution: dict[str, Any]
    notes: tuple[str, ...] = field(default=())
    labels: tuple[str, str] | None = None

    @property
    def old_label(self) -> str:
        return self.labels[0] if self.labels else self.old.label

    @property
    def new_label(self) -> str:
        return self.labels[1] if self.labels else self.new.label

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: ``funded_added``, ``funded_removed``, ``delta``, ``inputs``, ``attribution``..."""
        return {
            "old": self.old_label,
            "new": self.new_label,
            "status": {"old": self.old.status, "new": self.new.status},
            "budget": {"old": self.old.budget, "new": self.new.budget},
            "sample": {"old": {"seed": self.old.seed, "years": self.old.years},
                       "new": {"seed": self.new.seed, "years": self.new.years}},
            "funded_added": list(self.funded_added),
            "funded_removed": list(self.funded_removed),
            "delta": self.delta,
            "inputs": self.inputs,
            "attribution": self.attribution,
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        """The comparison in words, for people (numbers rounded for display only)."""
        o, n = self.old, self.new
        lines = [f"From {self.old_label} (seed {o.seed}, {o.years:,} years) to {self.new_label} "
                 f"(seed {n.seed}, {n.years:,} years):"]
        if o.status_text != n.status_text:
            lines.append(f"  status: {o.status_text} -> {n.status_text}")
        else:
            lines.append(f"  status: {n.status_text}")
        if o.budget != n.budget:
            lines.append(f"  budget: {money(o.budget)} -> {money(n.budget)}")
        lines.append(f"  funded now: {', '.join(self.funded_added) or 'nothing new'}")
        lines.append(f"  no longer funded: {', '.join(self.funded_removed) or 'nothing'}")
        for k in METRICS:
            d = self.delta.get(k)
            if d is not None:
                before, after = o.metrics.get(k), n.metrics.get(k)
                lines.append(f"  {METRIC_LABELS[k]}: {money(before)} -> {money(after)} "
                             f"({'+' if d >= 0 else '-'}{money(abs(d))})")
        npv_change = self.delta.get("npv")
        if npv_change is not None:
            d = float(npv_change)
            lines.append(f"  NPV ({o.horizon} and {n.horizon} years): {money(o.npv)} -> {money(n.npv)} "
                         f"({'+' if d >= 0 else '-'}{money(abs(d))})")
        changed = self.inputs.get("changed", [])
        lines.append(f"  inputs changed: {', '.join(changed) or 'none'}")
        for kind in ("scenarios", "controls", "projects"):
            d = self.inputs[kind]
            parts = []
            if d["added"]:
                parts.append("added " + ", ".join(d["added"]))
            if d["removed"]:
                parts.append("removed " + ", ".join(d["removed"]))
            for name, changed_fields in d["changed"].items():
                values = d["values"][name]
                said = [f"{k.replace('_', ' ')} {money(values[k]['old'])} -> {money(values[k]['new'])}"
                        for k in changed_fields if _is_amount(values[k]["old"]) and _is_amount(values[k]["new"])]
                rest = [k for k in changed_fields if not (_is_amount(values[k]["old"]) and _is_amount(values[k]["new"]))]
                moved = "moved" if kind == "scenarios" else "changed"
                parts.append(f"{name}: {', '.join([*said, *(f'{k} {moved}' for k in rest)])}")
            lines.append(f"  {kind}: {'; '.join(parts) or 'unchanged'}")
        lines.append(f"  appetite: {'changed' if self.inputs['appetite_changed'] else 'unchanged'}")
        a = self.attribution
        if a.get("ale_change") is not None:
            sign = lambda v: ("+" if v >= 0 else "-") + money(abs(v))  # noqa: E731
            noise = f" (± {money(a['from_inputs_se'])} of Monte Carlo noise)" if a["from_inputs_se"] > 0 else ""
            lines.append(
                f"  ALE change {sign(a['ale_change'])} = {sign(a['from_inputs'])} from changed inputs{noise} "
                f"{sign(a['from_plan'])} from the changed plan"
            )
        lines.extend(f"  note: {n_}" for n_ in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def compare(old: Any, new: Any, *, progress: bool | None = False) -> PlanComparison:
    """What changed between two plans: items, metrics, inputs, and where the ALE change comes from.

    The old plan is valued again on the new inputs and the new plan's sample
    (one simulation of the new plan's years); see :mod:`riskbudget.review`.

    Parameters
    ----------
    old, new : SavedPlan, Plan, or path of a saved plan
    progress : bool, optional
        Progress bar of the re-valuation (default off; ``None``: as the
        environment says).

    Returns
    -------
    PlanComparison
        ``funded_added``, ``funded_removed``, ``delta`` (each metric's change,
        new minus old), ``inputs`` (scenarios, controls and projects added,
        removed or changed; appetite changed or not) and ``attribution`` (the
        ALE change split into inputs and plan, adding up exactly).

    Examples
    --------
    >>> import tempfile, riskbudget as rb
    >>> reg = rb.read_register(rb.io.example_path("register.csv"))
    >>> ctl = rb.read_controls(rb.io.example_path("controls.csv"))
    >>> d = tempfile.mkdtemp()
    >>> q1 = rb.optimize(reg, ctl, (), budget=1e6, years=1_000, seed=7, progress=False).save(d + "/q1.json")
    >>> q2 = rb.optimize(reg, ctl, (), budget=2e6, years=1_000, seed=7, progress=False).save(d + "/q2.json")
    >>> a = rb.compare(q1, q2).attribution
    >>> abs(a["from_inputs"]) < 1e-6 and abs(a["from_inputs"] + a["from_plan"] - a["ale_change"]) < 1e-6
    True
    """
    o, n = _as_saved(old), _as_saved(new)
    fo, fn = set(o.funded), set(n.funded)
    added = tuple(x for x in n.funded if x not in fo)
    removed = tuple(x for x in o.funded if x not in fn)
    delta: dict[str, float | None] = {}
    for k in METRICS:
        a, b = o.metrics.get(k), n.metrics.get(k)
        delta[k] = None if a is None or b is None else float(b) - float(a)
    if o.npv is not None and n.npv is not None:  # multi-year plans
        delta["npv"] = float(n.npv) - float(o.npv)
    oi, ni = o.data["inputs"], n.data["inputs"]
    inputs = {
        "changed": [k for k in INPUT_KINDS if (oi.get(k) or {}).get("sha256") != (ni.get(k) or {}).get("sha256")],
        "files": {k: {"old": (oi.get(k) or {}).get("file"), "new": (ni.get(k) or {}).get("file")}
                  for k in INPUT_KINDS if "file" in (oi.get(k) or {}) or "file" in (ni.get(k) or {})},
        "scenarios": _diff_items(oi["register"]["data"], ni["register"]["data"], ()),
        "controls": _diff_items(oi["controls"]["data"], ni["controls"]["data"], ("cost_per_year",)),
        "projects": _diff_items(oi["projects"]["data"], ni["projects"]["data"], ("cost_per_year", "value_per_year")),
        "appetite_changed": oi["appetite"]["sha256"] != ni["appetite"]["sha256"],
    }
    attribution, notes = _attribute(o, n, progress=progress)
    labels = _labels([o, n])
    return PlanComparison(o, n, added, removed, delta, inputs, attribution, tuple(notes), (labels[0], labels[1]))


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
    with_option = {p.name for p in projects if p.has_security_by_design}
    sbd = [x for x in f["security_by_design"] if x in keep and x in with_option]
    if len(sbd) < len(f["security_by_design"]):
        lost = [x for x in f["security_by_design"] if x not in sbd]
        notes.append(f"the security-by-design option of {', '.join(lost)} is no longer offered; the old plan is "
                     "valued without it")
    old_on_new = evaluate(n.register(), controls, projects, funded=keep, security_by_design=sbd,
                          years=n.years, seed=n.seed, progress=progress, insurance=o.insurance() or None)
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
    """Metrics of several saved plans in the order given (quarterly reviews), as a DataFrame indexed by label.

    Columns: ``created``, ``status``, ``budget``, ``funded`` (how many items),
    each of :data:`METRICS`, ``ale_se``, ``npv`` (multi-year plans) and
    ``appetite_ok``. Labels are the
    file names (the paths where two share a name). Draw it with
    :func:`riskbudget.plotting.plot_trend`.
    """
    import pandas as pd

    saved = [_as_saved(p) for p in plans]
    if not saved:
        raise RiskBudgetError("trend: no plans given; give the saved plans in order, oldest first")
    rows = {}
    for label, s in zip(_labels(saved), saved, strict=True):
        rows[label] = {"created": s.created, "status": s.status, "budget": s.budget, "funded": len(s.funded),
                       **{k: s.metrics.get(k) for k in METRICS}, "ale_se": s.metrics.get("ale_se"), "npv": s.npv,
                       "appetite_ok": s.data.get("appetite_ok")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "plan"
    return table
