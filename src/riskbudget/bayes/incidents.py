"""Tidy incident histories: read, validate, and count events per year and group.

An incident file has one row per loss event, with the columns

* ``date`` - ISO date of the event (``2023-04-17``);
* ``unit`` - the business unit it hit;
* ``loss`` - the loss in currency units, a plain number (no thousands
  separators or currency symbols);
* ``category`` - the scenario family (``ransomware``, ``bec_fraud``, ...).

Other columns (an id, a description) are kept as they are. Losses below the
*reporting threshold* are not recorded, which is why the severity model uses a
truncated likelihood; a row below the stated threshold contradicts it and is
an error.

Every problem is reported with the file, the line (or DataFrame row), the
column, the value and the rule, all problems at once:

    incidents.csv: 2 problems:
      line 4, column date: '2023-13-01' is not a date; write ISO dates like 2023-04-17
      line 9, column loss: -2500 is negative; a loss is an amount >= the reporting threshold

Exposure
--------
The observation window ``[start, end]`` sets how much of each calendar year
was observed (a window starting on 1 July observes half of that year).
``exposure`` adds relative weights, e.g. the number of sites or the revenue of
each year relative to today, so that a growing business is compared at equal
exposure. The rate the models estimate is events per year at exposure 1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import RiskBudgetError

__all__ = ["IncidentData", "IncidentDataError", "read_incidents", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS: tuple[str, ...] = ("date", "unit", "loss", "category")
_MAX_LISTED = 12


class IncidentDataError(RiskBudgetError):
    """An incident table has a bad row, column or value (the message says which)."""


def _problems_error(source: str, problems: list[str]) -> IncidentDataError:
    if len(problems) == 1:
        return IncidentDataError(f"{source}: {problems[0]}")
    shown = problems[:_MAX_LISTED]
    more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    return IncidentDataError(f"{source}: {len(problems)} problems:\n  " + "\n  ".join(shown) + more)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value)}"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


@dataclass(frozen=True, eq=False)
class IncidentData:
    """A validated incident history with its observation window and exposure.

    Build it with :func:`read_incidents`. Attributes are read-only.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per incident: ``date`` (datetime64), ``unit``, ``loss``
        (float), ``category`` and any extra columns, in file order.
    start, end : pandas.Timestamp
        First and last observed day (both included).
    threshold : float
        Reporting threshold: losses below it are not recorded (0 if none).
    units, categories : tuple of str
        Every unit and category, including those with no incident.
    exposure : pandas.DataFrame
        Relative exposure weight per ``year`` and ``unit`` (1 if not given).
    source : str
        Where the data came from (a file name or ``"DataFrame"``).
    """

    frame: Any
    start: Any
    end: Any
    threshold: float
    units: tuple[str, ...]
    categories: tuple[str, ...]
    exposure: Any
    source: str = "DataFrame"
    unit_exposure: bool = False

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"IncidentData({len(self)} incidents, {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}, "
            f"{self.observed_years():.2f} years, units={list(self.units)}, threshold={self.threshold:g})"
        )

    @property
    def years(self) -> tuple[int, ...]:
        """Calendar years touched by the observation window."""
        return tuple(range(self.start.year, self.end.year + 1))

    def observed_fraction(self) -> Any:
        """Share of each calendar year inside the window (a Series indexed by year)."""
        import pandas as pd

        out = {}
        for y in self.years:
            y0, y1 = pd.Timestamp(year=y, month=1, day=1), pd.Timestamp(year=y, month=12, day=31)
            a, b = max(y0, self.start), min(y1, self.end)
            days = (b - a).days + 1
            out[y] = max(days, 0) / ((y1 - y0).days + 1)
        return pd.Series(out, name="observed_fraction", dtype=float).rename_axis("year")

    def observed_years(self) -> float:
        """Length of the window in years (sum of the observed fractions)."""
        return float(self.observed_fraction().sum())

    def losses(self, group: str | None = None, *, by: str = "unit") -> np.ndarray:
        """The recorded losses (float array), optionally of one unit or category."""
        f = self.frame
        if group is not None:
            f = f[f[self._column(by)] == group]
        return f["loss"].to_numpy(dtype=float)

    @staticmethod
    def _column(by: str) -> str:
        if by not in ("unit", "category"):
            raise IncidentDataError(f"IncidentData: by={by!r} must be 'unit' or 'category'")
        return by

    def periods(self, by: str | None = None) -> Any:
        """Events and exposure per calendar year (and per unit or category).

        Parameters
        ----------
        by : {None, "unit", "category"}
            ``None`` pools everything into one group named ``"all"``.

        Returns
        -------
        pandas.DataFrame
            Columns ``year``, ``group``, ``events``, ``observed_fraction``,
            ``weight`` and ``exposure`` (= observed fraction x weight). Groups
            without incidents appear with zero events.
        """
        import pandas as pd

        frac = self.observed_fraction()
        years = list(frac.index)
        f = self.frame
        ev_year = f["date"].dt.year.to_numpy()
        weights = self.exposure.set_index(["year", "unit"])["exposure"]
        rows = []
        if by is None:
            groups: Sequence[str] = ("all",)
        else:
            col = self._column(by)
            groups = self.units if col == "unit" else self.categories
        for g in groups:
            if by is None:
                sel = np.ones(len(f), dtype=bool)
            else:
                sel = (f[self._column(by)] == g).to_numpy()
            for y in years:
                if by == "unit":
                    w = float(weights[(y, g)])
                elif self.unit_exposure:
                    # Categories or the whole company: units' weights add up.
                    w = float(sum(weights[(y, u)] for u in self.units))
                else:
                    w = float(weights[(y, self.units[0])]) if self.units else 1.0
                rows.append(
                    {
                        "year": y,
                        "group": g,
                        "events": int(np.count_nonzero(sel & (ev_year == y))),
                        "observed_fraction": float(frac[y]),
                        "weight": w,
                        "exposure": float(frac[y]) * w,
                    }
                )
        return pd.DataFrame(rows, columns=["year", "group", "events", "observed_fraction", "weight", "exposure"])

    def filter(self, *, category: str | Iterable[str] | None = None, unit: str | Iterable[str] | None = None) -> IncidentData:
        """The incidents of some categories and/or units (the window is unchanged).

        Examples
        --------
        >>> from riskbudget.bayes import read_incidents
        >>> from riskbudget.io import example_path
        >>> data = read_incidents(example_path("incidents.csv"), threshold=10_000)
        >>> len(data.filter(category="ransomware")) <= len(data)
        True
        """
        f = self.frame
        units, categories = self.units, self.categories
        if category is not None:
            cats = [category] if isinstance(category, str) else list(category)
            unknown = [c for c in cats if c not in self.categories]
            if unknown:
                raise IncidentDataError(
                    f"IncidentData.filter: unknown category {unknown[0]!r}; the data has {list(self.categories)}"
                )
            f = f[f["category"].isin(cats)]
            categories = tuple(c for c in self.categories if c in cats)
        if unit is not None:
            us = [unit] if isinstance(unit, str) else list(unit)
            unknown = [u for u in us if u not in self.units]
            if unknown:
                raise IncidentDataError(f"IncidentData.filter: unknown unit {unknown[0]!r}; the data has {list(self.units)}")
            f = f[f["unit"].isin(us)]
            units = tuple(u for u in self.units if u in us)
        exposure = self.exposure[self.exposure["unit"].isin(units)].reset_index(drop=True)
        return replace(self, frame=f.reset_index(drop=True), units=units, categories=categories, exposure=exposure)


# --------------------------------------------------------------------------- #
# Reading and validation
# --------------------------------------------------------------------------- #
def _where(labels: Sequence[Any], i: int, is_file: bool) -> str:
    return f"line {labels[i]}" if is_file else f"row {labels[i]!r}"


def _parse_timestamp(where: str, name: str, value: Any) -> Any:
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise IncidentDataError(f"{where}: {name} ({value!r}) is not a date; write an ISO date like 2023-04-17") from None
    if ts is pd.NaT:
        raise IncidentDataError(f"{where}: {name} is missing")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts.normalize()


def _exposure_table(where: str, exposure: Any, years: Sequence[int], units: Sequence[str]) -> tuple[Any, bool]:
    """Tidy (year, unit, exposure) weights covering every year and unit; flag if per unit."""
    import pandas as pd

    def check(label: str, v: Any) -> float:
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise IncidentDataError(f"{where}: exposure {label} ({v!r}) must be a number") from None
        if not math.isfinite(x) or x <= 0:
            raise IncidentDataError(f"{where}: exposure {label} ({v!r}) must be a finite number > 0")
        return x

    per_unit = False
    table: dict[tuple[int, str], float] = {}
    if exposure is None or (np.ndim(exposure) == 0 and not isinstance(exposure, (Mapping, pd.Series, pd.DataFrame))):
        w = 1.0 if exposure is None else check("(constant)", exposure)
        table = {(y, u): w for y in years for u in units}
    elif isinstance(exposure, pd.DataFrame):
        cols = [str(c).strip().lower() for c in exposure.columns]
        df = exposure.copy()
        df.columns = cols
        if "year" not in cols or "exposure" not in cols:
            raise IncidentDataError(
                f"{where}: an exposure table needs columns 'year' and 'exposure' (and optionally 'unit'); it has {cols}"
            )
        per_unit = "unit" in cols
        for i, row in enumerate(df.itertuples(index=False)):
            r = row._asdict()
            try:
                y = int(r["year"])
            except (TypeError, ValueError):
                raise IncidentDataError(f"{where}: exposure row {i}, column year ({r['year']!r}) must be a year like 2023") from None
            w = check(f"row {i} (year {y})", r["exposure"])
            if per_unit:
                u = str(r["unit"]).strip()
                if u not in units:
                    raise IncidentDataError(
                        f"{where}: exposure row {i}, column unit: unknown unit {u!r}; expected one of {list(units)}"
                    )
                table[(y, u)] = w
            else:
                for u in units:
                    table[(y, u)] = w
    elif isinstance(exposure, (Mapping, pd.Series)):
        items = exposure.items()
        for y, v in items:
            try:
                yi = int(y)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise IncidentDataError(f"{where}: exposure key {y!r} must be a year like 2023") from None
            w = check(f"for {yi}", v)
            for u in units:
                table[(yi, u)] = w
    else:
        raise IncidentDataError(
            f"{where}: exposure must be a number, a mapping year -> weight, or a DataFrame with columns "
            f"year, [unit,] exposure; not {type(exposure).__name__}"
        )
    missing = [(y, u) for y in years for u in units if (y, u) not in table]
    if missing:
        y, u = missing[0]
        what = f"year {y} and unit {u!r}" if per_unit else f"year {y}"
        raise IncidentDataError(
            f"{where}: exposure is missing for {what}; give a weight for every year of the window {list(years)}"
        )
    rows = [{"year": y, "unit": u, "exposure": table[(y, u)]} for y in years for u in units]
    return pd.DataFrame(rows, columns=["year", "unit", "exposure"]), per_unit


def read_incidents(
    source: str | os.PathLike[str] | Any,
    *,
    threshold: float = 0.0,
    units: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    exposure: Any = None,
) -> IncidentData:
    """Read and validate a tidy incident history (a CSV file or a DataFrame).

    Parameters
    ----------
    source : path or pandas.DataFrame
        A CSV file with columns ``date, unit, loss, category`` (extra columns
        are kept), or a DataFrame with those columns.
    threshold : float, default 0
        Reporting threshold: losses below it are not recorded. A row below it
        is an error. The severity model truncates its likelihood here.
    units, categories : sequence of str, optional
        Every unit (category) that exists, including those with no incident;
        a row naming another is an error. By default, those in the data.
    start, end : date-like, optional
        First and last observed day. By default 1 January of the first
        incident's year and 31 December of the last incident's year; state
        them when the record starts or ends mid-year, or a quiet year would be
        left out.
    exposure : float, mapping, Series or DataFrame, optional
        Relative exposure weights per year (a mapping ``{2021: 0.8, ...}``) or
        per year and unit (a DataFrame with columns ``year, unit, exposure``).
        Default 1.

    Returns
    -------
    IncidentData

    Raises
    ------
    IncidentDataError
        Naming the line (or row), the column, the value and the rule for a
        missing or unparsable date, a missing, non-numeric, negative or
        below-threshold loss, an unknown unit or category, or an incident
        outside the window.

    Examples
    --------
    >>> from riskbudget.bayes import read_incidents
    >>> from riskbudget.io import example_path
    >>> data = read_incidents(example_path("incidents.csv"), threshold=10_000, start="2019-07-01", end="2024-12-31")
    >>> round(data.observed_years(), 3)  # 184 days of 2019, then 2020-2024
    5.504
    >>> import pandas as pd
    >>> read_incidents(pd.DataFrame({"date": ["2024-01-05"], "unit": ["Ops"], "loss": [-5.0],
    ...                              "category": ["bec_fraud"]}))
    Traceback (most recent call last):
    ...
    riskbudget.bayes.incidents.IncidentDataError: DataFrame: row 0, column loss: -5 is negative; a loss is a positive amount
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        raw = source.copy()
        label = "DataFrame"
        is_file = False
        row_labels: list[Any] = list(raw.index)
    else:
        path = Path(source)
        label = path.name
        if not path.exists():
            raise FileNotFoundError(f"read_incidents: no file at {str(path)!r}")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        is_file = True
        row_labels = list(range(2, len(raw) + 2))  # the header is line 1
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing_cols:
        raise IncidentDataError(
            f"{label}: missing column(s) {missing_cols}; an incident table needs {list(REQUIRED_COLUMNS)} "
            f"(it has {list(raw.columns)})"
        )
    dup = raw.columns[raw.columns.duplicated()].tolist()
    if dup:
        raise IncidentDataError(f"{label}: column {dup[0]!r} appears more than once")

    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise IncidentDataError(f"{label}: threshold ({threshold!r}) must be a number") from None
    if not math.isfinite(thr) or thr < 0:
        raise IncidentDataError(f"{label}: threshold ({threshold!r}) must be a finite amount >= 0")

    problems: list[str] = []
    n = len(raw)

    # -- dates ------------------------------------------------------------ #
    dates = np.empty(n, dtype="datetime64[ns]")
    date_ok = np.zeros(n, dtype=bool)
    for i, v in enumerate(raw["date"].tolist()):
        w = _where(row_labels, i, is_file)
        if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()) or v is pd.NaT:
            problems.append(f"{w}, column date: missing date; every incident needs the day it happened (ISO, e.g. 2023-04-17)")
            continue
        try:
            if isinstance(v, str):
                ts = pd.Timestamp(v.strip()) if _looks_iso(v.strip()) else None
            else:
                ts = pd.Timestamp(v)
        except (TypeError, ValueError, OverflowError):
            ts = None
        if ts is None or ts is pd.NaT:
            problems.append(f"{w}, column date: {v!r} is not a date; write ISO dates like 2023-04-17")
            continue
        if ts.tzinfo is not None:
            ts = ts.tz_convert(None)
        dates[i] = ts.to_datetime64()
        date_ok[i] = True

    # -- losses ----------------------------------------------------------- #
    losses = np.full(n, np.nan)
    for i, v in enumerate(raw["loss"].tolist()):
        w = _where(row_labels, i, is_file)
        if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v)):
            problems.append(f"{w}, column loss: missing loss; record the amount (a plain number)")
            continue
        if isinstance(v, bool):
            problems.append(f"{w}, column loss: {v!r} is not a number")
            continue
        try:
            x = float(v.strip()) if isinstance(v, str) else float(v)
        except (TypeError, ValueError):
            hint = (
                "; write plain numbers without thousands separators or currency symbols"
                if isinstance(v, str) and any(ch in v for ch in ",$€£ ")
                else ""
            )
            problems.append(f"{w}, column loss: {v!r} is not a number{hint}")
            continue
        if not math.isfinite(x):
            problems.append(f"{w}, column loss: {v!r} is not a finite amount")
        elif x < 0:
            problems.append(f"{w}, column loss: {_fmt(x)} is negative; a loss is a positive amount")
        elif x == 0:
            problems.append(f"{w}, column loss: 0 is not a loss; record only events with a loss > 0")
        elif x < thr:
            problems.append(
                f"{w}, column loss: {_fmt(x)} is below the reporting threshold ({_fmt(thr)}); "
                f"losses under the threshold are not recorded, so fix the row or lower the threshold"
            )
        else:
            losses[i] = x

    # -- units and categories --------------------------------------------- #
    def labels_of(column: str, allowed: Sequence[str] | None) -> tuple[list[str], tuple[str, ...]]:
        values: list[str] = []
        for i, v in enumerate(raw[column].tolist()):
            w = _where(row_labels, i, is_file)
            s = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
            if not s:
                problems.append(f"{w}, column {column}: missing {column}")
            elif allowed is not None and s not in allowed:
                problems.append(f"{w}, column {column}: unknown {column} {s!r}; expected one of {list(allowed)}")
            values.append(s)
        if allowed is not None:
            return values, tuple(allowed)
        return values, tuple(dict.fromkeys(sorted(v for v in values if v)))

    if units is not None:
        units = _label_list(label, "units", units)
    if categories is not None:
        categories = _label_list(label, "categories", categories)
    unit_values, unit_list = labels_of("unit", units)
    cat_values, cat_list = labels_of("category", categories)

    # -- window ------------------------------------------------------------ #
    ok_dates = dates[date_ok]
    if start is not None:
        start_ts = _parse_timestamp(label, "start", start)
    elif ok_dates.size:
        start_ts = pd.Timestamp(year=pd.Timestamp(ok_dates.min()).year, month=1, day=1)
    else:
        start_ts = None
    if end is not None:
        end_ts = _parse_timestamp(label, "end", end)
    elif ok_dates.size:
        end_ts = pd.Timestamp(year=pd.Timestamp(ok_dates.max()).year, month=12, day=31)
    else:
        end_ts = None
    if (start_ts is None or end_ts is None) and not problems:
        raise IncidentDataError(f"{label}: there are no incidents, so give the observation window with start= and end=")
    if start_ts is not None and end_ts is not None:
        if end_ts < start_ts:
            raise IncidentDataError(f"{label}: end ({end_ts:%Y-%m-%d}) is before start ({start_ts:%Y-%m-%d}); swapped?")
        for j in np.flatnonzero(date_ok).tolist():
            d = pd.Timestamp(dates[j])
            if d.normalize() < start_ts or d.normalize() > end_ts:
                problems.append(
                    f"{_where(row_labels, j, is_file)}, column date: {d:%Y-%m-%d} is outside the observation "
                    f"window {start_ts:%Y-%m-%d} to {end_ts:%Y-%m-%d}"
                )
    if problems:
        raise _problems_error(label, problems)
    assert start_ts is not None and end_ts is not None
    if not unit_list:
        raise IncidentDataError(f"{label}: there are no incidents, so give the list of units with units=[...]")

    frame = raw.copy()
    frame["date"] = pd.to_datetime(dates)
    frame["loss"] = losses
    frame["unit"] = pd.array(unit_values, dtype="str") if n else pd.array([], dtype="str")
    frame["category"] = pd.array(cat_values, dtype="str") if n else pd.array([], dtype="str")
    frame = frame.reset_index(drop=True)
    years = list(range(start_ts.year, end_ts.year + 1))
    exp_table, per_unit = _exposure_table(label, exposure, years, unit_list)
    return IncidentData(
        frame=frame,
        start=start_ts,
        end=end_ts,
        threshold=thr,
        units=unit_list,
        categories=cat_list,
        exposure=exp_table,
        source=label,
        unit_exposure=per_unit,
    )


def _label_list(where: str, name: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        raise IncidentDataError(f"{where}: {name} must be a list of names, not the single string {values!r}")
    out = tuple(str(v).strip() for v in values)
    if not out or any(not v for v in out):
        raise IncidentDataError(f"{where}: {name} must be a non-empty list of non-empty names")
    if len(set(out)) != len(out):
        dup = next(v for v in out if out.count(v) > 1)
        raise IncidentDataError(f"{where}: {name} lists {dup!r} twice")
    return out


def _looks_iso(text: str) -> bool:
    """ISO 8601 dates (``2023-04-17``, optionally with a time); rejects 03/04/2023 and the like."""
    import re

    return re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?", text) is not None
