"""A plan as a versioned JSON document: what :meth:`Plan.save` writes and :func:`riskbudget.load_plan` reads.

The document holds everything a later review needs without the original
files: the inputs themselves (scenarios, controls, projects, appetite) with
content hashes and, when known, the files' names and hashes; the sample (seed,
years); the budget and the rules; the funded and unfunded items with their
reasons; the metrics; the per-year table of a multi-year plan; and the package
version. Files are written atomically.

``FORMAT_VERSION`` rises whenever the layout changes; a reader refuses a
document from a newer version with a clear error rather than misreading it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .._version import __version__
from .reasons import explain
from .rules import Constraints

__all__ = ["FORMAT", "FORMAT_VERSION", "plan_document", "save_plan", "content_hash", "file_hash"]

FORMAT = "riskbudget-plan"
#: Version 1: the first saved-plan layout.
FORMAT_VERSION = 1


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data`` (what a saved plan records for an input)."""
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()


def file_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _input(data: Any, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": content_hash(data), "data": data}
    if path is not None:
        out["file"] = Path(path).name
        out["file_sha256"] = file_hash(path)
    return out


def _constraints_dict(cons: Constraints) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(cons):
        v = getattr(cons, f.name)
        if isinstance(v, tuple):
            v = [list(x) if isinstance(x, tuple) else x for x in v]
        out[f.name] = _finite(v)
    return out


def plan_document(
    plan: Any,
    *,
    inputs: dict[str, str | os.PathLike[str]] | None = None,
    constraints: Constraints | None = None,
) -> dict[str, Any]:
    """The JSON-ready document of a plan (see the module docstring).

    Parameters
    ----------
    plan : Plan
    inputs : mapping, optional
        The files the inputs came from, by kind (``register``, ``controls``,
        ``projects``, ``appetite``, ``insurance``): their names and hashes are
        recorded beside the inputs themselves.
    constraints : Constraints, optional
        The rules the plan was optimised under (default: the plan's own, else
        its budget only).
    """
    files = dict(inputs or {})
    problem = plan.problem
    cons = constraints or getattr(plan, "constraints", None) or Constraints(budget=plan.budget)
    appetite = getattr(plan, "appetite_spec", None)
    reasons = explain(problem, plan.funding, appetite=appetite, constraints=cons)
    summary = plan.to_dict()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "package": {"name": "riskbudget", "version": __version__},
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "inputs": {
            "register": _input([s.to_dict() for s in problem.register], files.get("register")),
            "controls": _input([c.to_dict() for c in problem.controls], files.get("controls")),
            "projects": _input([p.to_dict() for p in problem.projects], files.get("projects")),
            "appetite": _input(None if appetite is None else appetite.to_dict(), files.get("appetite")),
        },
        "sample": {"seed": _finite(problem.seed), "years": problem.years},
        "budget": _finite(plan.budget),
        "constraints": _constraints_dict(cons),
        "status": str(plan.status),
        "funded": {
            "controls": list(plan.funded_controls),
            "projects": list(plan.funded_projects),
            "security_by_design": list(plan.security_by_design),
        },
        "items": [
            {
                "item": r.item,
                "kind": r.kind,
                "funded": r.funded,
                "reason": str(r.reason),
                "detail": r.detail,
                "delta_net_value": _finite(r.delta_net_value),
                "delta_se": _finite(r.delta_se),
                "limits": list(r.limits),
            }
            for r in reasons
        ],
        "metrics": {
            k: summary.get(k)
            for k in (
                "security_spend", "it_spend", "total_spend", "expected_value", "expected_net_value", "ale", "ale_se",
                "var95", "tvar95", "ale_before", "var95_before", "tvar95_before", "solver_gap", "bound",
            )
        },
        "appetite": summary.get("appetite"),
        "appetite_ok": summary.get("appetite_ok"),
        "by_year": _by_year(plan),
        "notes": list(plan.notes),
        "summary": summary,
    }
    return doc


def _by_year(plan: Any) -> list[dict[str, Any]] | None:
    table = getattr(plan, "by_year", None)
    if table is None:
        return None
    rows = []
    for year, row in table.iterrows():
        rows.append({"year": int(year), **{str(k): _finite(float(v)) for k, v in row.items()}})
    return rows


def save_plan(
    plan: Any,
    path: str | os.PathLike[str],
    *,
    inputs: dict[str, str | os.PathLike[str]] | None = None,
    constraints: Constraints | None = None,
) -> Path:
    """Write the plan's document to ``path`` (JSON, atomically); returns the path."""
    doc = plan_document(plan, inputs=inputs, constraints=constraints)
    return atomic_write(path, json.dumps(doc, indent=2, default=str) + "\n")
