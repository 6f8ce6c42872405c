"""A plan as a versioned JSON document: what :meth:`Plan.save` writes and :func:`riskbudget.load_plan` reads.

The document holds everything a later review needs without the original
files: the inputs themselves (scenarios, controls, projects, appetite) with
content hashes and, when known, the files' names and hashes; the sample (seed,
years); the budget and the rules; the status, in words too; the funded and
unfunded items with their reasons; the metrics; the margins for fresh years
and the check on fresh years (robustness); when the appetite cannot be met,
the smallest value of each limit and the budget needed; the horizon, the NPV
and the per-year table of a multi-year plan; and the package version. Files
are written atomically.

``FORMAT_VERSION`` rises whenever the layout changes; :func:`upgrade` brings a
document of an older version to the current layout, and a reader refuses a
document from a newer version with a clear error rather than misreading it.

Layout versions:

1. the first saved-plan layout;
2. adds ``status_text``, ``confidence``, ``margins``, ``optimised_for``,
   ``robustness``, ``smallest_values``, ``budget_needed`` and ``horizon``
   (years, discount rate, NPV) at the top level, and the items' reasons as
   the plan states them (against the limits the program enforced, margins
   included).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from .._version import __version__
from ..exceptions import RiskBudgetError
from .rules import Constraints

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "INPUT_KINDS",
    "plan_document",
    "save_plan",
    "upgrade",
    "content_hash",
    "file_hash",
]

FORMAT = "riskbudget-plan"
#: Version 2: status in words, margins, robustness, the infeasibility report (see the module docstring).
FORMAT_VERSION = 2
#: The inputs a document records, each with its content hash and, when known, its file's name and hash.
INPUT_KINDS = ("register", "controls", "projects", "appetite")

#: The keys version 2 added, with their value in a version-1 document that lacks them.
_ADDED_IN_2 = ("status_text", "confidence", "margins", "optimised_for", "robustness", "smallest_values",
               "budget_needed", "horizon")


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


def _input(data: Any, path: str | os.PathLike[str] | None, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": content_hash(data), "data": data}
    if path is not None:
        try:
            digest = file_hash(path)
        except OSError as exc:
            raise RiskBudgetError(
                f"files[{kind!r}]: {path}: cannot be read to record its hash ({exc.strerror or exc}); give the file "
                f"the {kind} was read from, or leave it out"
            ) from None
        out["file"] = Path(path).name
        out["file_sha256"] = digest
    return out


def _constraints_dict(cons: Constraints) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(cons):
        v = getattr(cons, f.name)
        if isinstance(v, tuple):
            v = [list(x) if isinstance(x, tuple) else x for x in v]
        out[f.name] = _finite(v)
    return out


def _files(files: Mapping[str, str | os.PathLike[str] | None] | None) -> dict[str, str | os.PathLike[str]]:
    given = {k: v for k, v in (files or {}).items() if v is not None}
    unknown = sorted(set(given) - set(INPUT_KINDS))
    if unknown:
        raise RiskBudgetError(f"files: unknown input kind(s) {unknown}; a plan records {list(INPUT_KINDS)}")
    return given


def plan_document(
    plan: Any,
    *,
    files: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> dict[str, Any]:
    """The JSON-ready document of a plan (see the module docstring).

    Parameters
    ----------
    plan : Plan
    files : mapping, optional
        The files the inputs came from, by kind (``register``, ``controls``,
        ``projects``, ``appetite``): their names and SHA-256 hashes are
        recorded beside the inputs themselves. ``None`` values are skipped.
    """
    given = _files(files)
    problem = plan.problem
    cons = plan.constraints if plan.constraints is not None else Constraints(budget=plan.budget)
    appetite = plan.appetite_spec
    enforced = plan.optimised_for
    summary = plan.to_dict()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "package": {"name": "riskbudget", "version": __version__},
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "inputs": {
            "register": _input([s.to_dict() for s in problem.register], given.get("register"), "register"),
            "controls": _input([c.to_dict() for c in problem.controls], given.get("controls"), "controls"),
            "projects": _input([p.to_dict() for p in problem.projects], given.get("projects"), "projects"),
            "appetite": _input(None if appetite is None else appetite.to_dict(), given.get("appetite"), "appetite"),
        },
        "sample": {"seed": _finite(plan.seed), "years": plan.years},
        "budget": _finite(plan.budget),
        "constraints": _constraints_dict(cons),
        "status": str(plan.status),
        "status_text": plan.status_text,
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
                "delta_net_value": _finite(float(r.delta_net_value)),
                "delta_se": _finite(float(r.delta_se)),
                "limits": list(r.limits),
            }
            for r in plan.reasons
        ],
        "metrics": {
            k: summary.get(k)
            for k in (
                "security_spend", "it_spend", "total_spend", "expected_value", "expected_net_value", "ale", "ale_se",
                "var95", "tvar95", "ale_before", "var95_before", "tvar95_before", "solver_gap", "bound",
                "risk_transfer_spend",
            )
        },
        "appetite": summary.get("appetite"),
        "appetite_ok": summary.get("appetite_ok"),
        "confidence": plan.confidence,
        "margins": summary.get("margins") or {},
        "optimised_for": None if enforced is None else enforced.to_dict(),
        "robustness": summary.get("robustness"),
        "smallest_values": summary.get("smallest_values"),
        "budget_needed": summary.get("budget_needed"),
        "horizon": {"years": plan.horizon, "discount_rate": plan.discount_rate, "npv": _finite(float(plan.npv))},
        "insurance": _insurance(plan),
        "by_year": _by_year(plan.by_year),
        "notes": list(plan.notes),
        "summary": summary,
    }
    return doc


def _insurance(plan: Any) -> dict[str, Any] | None:
    """The layers bought, their premium and every tower compared (None: insurance was not part of the plan)."""
    towers = getattr(plan, "towers", None)
    if not plan.insurance and towers is None:
        return None
    return {
        "bought": [p.to_dict() for p in plan.insurance],
        "risk_transfer_spend": _finite(float(plan.risk_transfer_spend)),
        "towers": None if towers is None else [
            {"tower": str(name), **{str(k): _cell(v) for k, v in row.items()}} for name, row in towers.iterrows()
        ],
    }


def _by_year(table: Any) -> list[dict[str, Any]] | None:
    if table is None:
        return None
    rows = []
    for year, row in table.iterrows():
        rows.append({"year": int(year), **{str(k): _cell(v) for k, v in row.items()}})
    return rows


def _cell(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _finite(float(v))
    return v


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A document of an older layout version brought to the current one (a copy; ``data`` is unchanged).

    Version 1 lacks the keys version 2 added at the top level: they are taken
    from the plan's summary it holds where there, else left empty (``None``;
    ``margins`` an empty mapping; ``horizon`` one year).
    """
    out = copy.deepcopy(data)
    if out.get("version") == 1:
        summary = out.get("summary") or {}
        for key in _ADDED_IN_2:
            if key not in out:
                out[key] = summary.get(key)
        out["margins"] = out.get("margins") or {}
        if not out.get("horizon"):
            out["horizon"] = {"years": summary.get("horizon", 1), "discount_rate": summary.get("discount_rate", 0.0),
                              "npv": summary.get("npv")}
        out["version"] = FORMAT_VERSION
    return out


def save_plan(
    plan: Any,
    path: str | os.PathLike[str],
    *,
    files: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> Path:
    """Write the plan's document to ``path`` (JSON, atomically); returns the path.

    See :func:`plan_document` for ``files``.
    """
    doc = plan_document(plan, files=files)
    return atomic_write(path, json.dumps(doc, indent=2, default=str) + "\n")
