"""Flat register layouts of other tools, chosen explicitly with ``layout=``.

* ``"riskbudget"`` - our own columns (see :mod:`riskbudget.io`).
* ``"riskquant"`` - Netflix riskquant's ``id,name,freq,low,high``: a Poisson
  rate of loss events per year and a lognormal 90% interval of loss per event.
* ``"one_for_one"`` - the one-for-one substitution layout of Hubbard and
  Seiersen's spreadsheet, ``name,probability,lower,upper``: an annual
  probability of the event and a lognormal 90% interval of its loss.

Errors name the columns as they appear in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _rows
from .exceptions import RegisterError, shown
from .fair import Register

__all__ = ["Layout", "LAYOUTS", "get"]


@dataclass(frozen=True)
class Layout:
    """A flat register layout: its columns and how they map to riskbudget's."""

    name: str
    description: str
    #: file column -> riskbudget column
    mapping: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def text_columns(self, columns: Iterable[str]) -> list[str]:
        """The file's columns (of ``columns``) that hold text: name, id, category, owner, description."""
        return [c for c in columns if (c if self.name == "riskbudget" else self.mapping.get(c)) in _rows.TEXT_COLUMNS]

    def check_columns(self, source: str, columns: Iterable[str]) -> None:
        """Refuse columns the layout lacks, repeated columns and missing required ones, naming ``source``."""
        columns = list(columns)
        if self.name == "riskbudget":
            _rows.check_columns(source, columns, _rows.CSV_COLUMNS)
            return
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise RegisterError(f"{source}: column(s) {dupes} appear more than once")
        unknown = [c for c in columns if c not in self.columns]
        missing = [c for c in self.required if c not in columns]
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"unknown column(s) {shown(unknown, limit=400)}")
            if missing:
                problems.append(f"missing column(s) {missing}")
            raise RegisterError(
                f"{source}: {' and '.join(problems)} for layout {self.name!r}; "
                f"its columns are {', '.join(self.columns)} (required: {', '.join(self.required)})"
            )

    def build(self, rows: Iterable[tuple[int | str, Mapping[str, Any]]], *, source: str) -> Register:
        """The register of ``rows`` (line, mapping of the file's columns), checked as a riskbudget register."""
        if self.name == "riskbudget":
            return _rows.register_from_rows(rows, source=source)
        mapped = ((line, {self.mapping[k]: v for k, v in row.items()}) for line, row in rows)
        aliases = {v: k for k, v in self.mapping.items()}
        return _rows.register_from_rows(mapped, source=source, aliases=aliases)


LAYOUTS: dict[str, Layout] = {
    "riskbudget": Layout("riskbudget", "riskbudget's own flat columns"),
    "riskquant": Layout(
        "riskquant",
        "Netflix riskquant: id,name,freq,low,high (Poisson rate; lognormal 90% interval of loss)",
        mapping={"id": "id", "name": "name", "freq": "frequency", "low": "loss_low", "high": "loss_high"},
        required=("name", "freq", "low", "high"),
        optional=("id",),
    ),
    "one_for_one": Layout(
        "one_for_one",
        "one-for-one substitution: name,probability,lower,upper (annual probability; lognormal 90% interval of loss)",
        mapping={"name": "name", "probability": "annual_probability", "lower": "loss_low", "upper": "loss_high"},
        required=("name", "probability", "lower", "upper"),
    ),
}


def get(name: str) -> Layout:
    """The layout called ``name``."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise RegisterError(f"unknown register layout {name!r}; choose one of {sorted(LAYOUTS)}") from None
