"""Hostile and absurd input never reaches a traceback (docs/errors.md).

Every file of the corpus in ``tests/data/bad/`` (one small file per case) goes
through its reader, and the register, controls, projects and appetite cases
through the command line too: each must end in a :class:`RiskBudgetError` whose
message names the file, the value and the rule, never in another exception.
Cases that would be large files (an alias bomb, deep nesting, a huge CSV field,
a file beyond the size cap) are generated here. Property tests cover each class
with random input: bytes and encodings, nesting, magnitudes into every
distribution, text with control characters, and formula neutralisation.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import riskbudget as rb
from riskbudget import _files
from riskbudget.appetite import read_appetite, write_appetite
from riskbudget.cli import main
from riskbudget.controls import (
    Control,
    ControlError,
    Project,
    ProjectError,
    check_references,
    read_controls,
    read_projects,
)
from riskbudget.exceptions import (
    EVENTS_PER_YEAR,
    MONEY,
    InvalidParameterError,
    RiskBudgetError,
    check_finite,
    check_text,
)

BAD = Path(__file__).parent / "data" / "bad"
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"

READERS: dict[str, Callable[[Any], Any]] = {
    "register": rb.read_register,
    "controls": read_controls,
    "projects": read_projects,
    "appetite": read_appetite,
}

_MONEY_CEILING = r"1e15 \(one quadrillion\), the largest amount of money riskbudget accepts; is the unit right"
_MONEY = "exceeds " + _MONEY_CEILING
_RATE = r"exceeds 1e6 \(a million a year\), the largest event rate \(events per year\) riskbudget accepts"
_NOT_UTF8 = r"not UTF-8 text \(the byte 0xE9 is not valid UTF-8 there"
_UTF16 = r"the file is UTF-16 text .*save the \w+ file as UTF-8"
_ALIAS = r"the alias \*\w+ repeats another part of the file; riskbudget refuses YAML aliases"
_TOO_LARGE = r"too large for a 64-bit float"
_DIGITS = r"the integer '9{50}.*' \(452 characters\) has 450 digits, far beyond a 64-bit float"
_CONTROL = r"holds the control character U\+{code} at position \d+, but .* may not hold control characters"

#: Every file of the corpus -> a regex its message must match (the value and the rule; the file is checked apart).
CASES: dict[str, str] = {
    # register, CSV
    "register/latin1.csv": r"line 2, column 4: " + _NOT_UTF8 + r".*'CSV UTF-8'",
    "register/utf16.csv": _UTF16,
    "register/nul_in_name.csv": r"line 2, scenario 'Ransom\\x00ware', column name: value \('Ransom\\x00ware'\) "
    + _CONTROL.format(code="0000"),
    "register/escape_in_owner.csv": r"column owner: value \('\\x1b\[31mCISO'\) " + _CONTROL.format(code="001B"),
    "register/bidi_in_category.csv": r"column category: value \('web\\u202eevil'\) " + _CONTROL.format(code="202E"),
    "register/newline_in_name.csv": r"column name: value \('two\\nlines'\) " + _CONTROL.format(code="000A")
    + r" \(tabs and line breaks are allowed only in descriptions\); remove it",
    "register/name_too_long.csv": r"column name: value \('R{50}.*\(302 characters\)\) is longer than 200 characters, "
    r"the most a name or label may have",
    "register/huge_integer_loss.csv": r"column loss_high: value \('9{50}.*\(352 characters\)\) is " + _TOO_LARGE,
    "register/loss_above_ceiling.csv": r"column loss_high: value \('1e21'\) " + _MONEY,
    "register/loss_near_float_max.csv": r"column loss_high: value \('1.7e308'\) " + _MONEY,
    "register/loss_negative_huge.csv": r"column loss_low: value \('-1e300'\) is below -1e15 \(one quadrillion\)",
    "register/frequency_above_ceiling.csv": r"column frequency: value \('1e300'\) " + _RATE,
    "register/frequency_pert_above_ceiling.csv": r"column frequency_high: value \('5e6'\) " + _RATE,
    "register/tef_above_ceiling.csv": r"column tef_high: value \('1e7'\) " + _RATE,
    "register/nan_loss.csv": r"column loss_high: value \('nan'\) must be finite, not NaN or inf",
    "register/lognormal_mean_overflows_ceiling.csv": r"primary_loss \(LogNormal.from_ci\(1, 1e\+15, level=0.9\)\) "
    r"has mean 2.7\d*e\+31, above 1e15 \(one quadrillion\)",
    "register/unbalanced_quote.csv": r"line 2: 1 values but the header has 4 columns",
    "register/empty.csv": r"the file is empty; expected a header row with at least 'name'",
    "register/header_only.csv": r"the register has no scenarios",
    "register/duplicate_column.csv": r"column\(s\) \['loss_high'\] appear more than once",
    # register, YAML
    "register/alias_bomb.yaml": r"line 2, column 8: " + _ALIAS,
    "register/alias_in_description.yaml": r"line 4, column 18: " + _ALIAS,
    "register/duplicate_key.yaml": r"line 4, column 5: the key 'loss_event_frequency' appears twice in one mapping "
    r"\(first on line 3\); YAML readers would keep only the last value silently",
    "register/duplicate_top_key.yaml": r"line 5, column 1: the key 'scenarios' appears twice",
    "register/latin1.yaml": r"line 2, column 14: " + _NOT_UTF8,
    "register/utf16.yaml": _UTF16,
    "register/huge_integer.yaml": r"line 4, column 56: " + _DIGITS,
    "register/integer_beyond_float.yaml": r"scenario #1 'A': .*primary_loss: LogNormal.from_ci: high "
    r"\(<an integer of about 351 digits>\) is " + _TOO_LARGE,
    "register/float_beyond_max.yaml": r"line 4, column 56: the number '1.0e\+400' is " + _TOO_LARGE,
    "register/adjustments_empty_mapping.yaml": r"adjustments #1 \(\{\}\) misses \['factor', 'multiplier', 'source'\]",
    "register/adjustments_number.yaml": r"adjustments \(5\) must be a list of mappings with keys",
    "register/adjustments_bad_factor.yaml": r"factor \(5\) must be the name of a factor",
    "register/adjustment_multiplier_huge.yaml": r"loss_event_frequency .* raised by the adjustments from 'MFA' "
    r"\(x 1e\+300\) reaches 1e\+300, above 1e6 \(a million a year\)",
    "register/python_tag.yaml": r"invalid YAML: could not determine a constructor for the tag .*python/object",
    "register/boolean_owner.yaml": r"owner \(True\) must be text, not a boolean \(quote yes/no/true/false in YAML\)",
    "register/list_name.yaml": r"Scenario name must be a non-empty string, not \['a', 'b'\]",
    "register/mixed_keys.yaml": r"unknown field\(s\) \['1', 'colour'\]",
    "register/nul_in_name.yaml": r"name \('Ransom\\x00ware'\) " + _CONTROL.format(code="0000"),
    "register/pert_extreme_lam.yaml": r"PERT: lam \(1e\+300\) exceeds 1e\+07, the largest shape riskbudget accepts",
    "register/beta_huge.yaml": r"Beta: a \(1e\+300\) exceeds 1e\+07, the largest shape",
    "register/lognormal_tiny_level.yaml": r"LogNormal.from_ci: level \(1e-300\) is too close to 0 or 1",
    "register/lognormal_moments_overflow.yaml": r"LogNormal\(mu=700, sigma=10\): the mean is not a finite 64-bit float",
    "register/uniform_wide.yaml": r"Uniform\(low=-1e\+308, high=1e\+308\): the variance is not a finite 64-bit float",
    "register/triangular_wide.yaml": r"Triangular\(low=0, mode=1, high=1.7e\+308\): the variance is not a finite",
    "register/loss_near_float_max.yaml": r"primary_loss \(Constant\(value=1.7e\+308\)\) has highest value 1.7e\+308, "
    r"above 1e15 \(one quadrillion\)",
    "register/empty.yaml": r"expected a non-empty list of scenarios under 'scenarios', not None",
    "register/scenario_without_name.yaml": r"scenario #1 None: a scenario needs a 'name'; this one has only "
    r"\['loss_event_frequency', 'primary_loss'\]",
    "register/two_documents.yaml": r"invalid YAML: expected a single document",
    # register, JSON
    "register/duplicate_key.json": r"the key 'primary_loss' appears twice in the object that starts on line 2",
    "register/latin1.json": r"line 1, column 29: " + _NOT_UTF8,
    "register/utf16.json": _UTF16,
    "register/huge_integer.json": r"line 1: " + _DIGITS,
    "register/integer_beyond_float.json": r"primary_loss: Constant: value \(<an integer of about 351 digits>\) is "
    + _TOO_LARGE,
    "register/float_beyond_max.json": r"line 1: the number '1e400' is " + _TOO_LARGE,
    "register/nan.json": r"primary_loss: Constant: value \(nan\) must be finite, not NaN or inf",
    "register/adjustments_empty_mapping.json": r"adjustments #1 \(\{\}\) misses \['factor', 'multiplier', 'source'\]",
    "register/adjustments_number.json": r"adjustments \(5\) must be a list of mappings",
    "register/lone_surrogate.json": r"name \('A\\ud800'\) " + _CONTROL.format(code="D800"),
    "register/frequency_float_max.json": r"loss_event_frequency \(Constant\(value=1.7e\+308\)\) has highest value "
    r"1.7e\+308, above 1e6 \(a million a year\)",
    "register/top_level_number.json": r"expected a non-empty list of scenarios under 'scenarios', not 5",
    "register/unknown_top_key.json": r"unknown top-level key\(s\) \['extra'\]",
    # register, Excel
    "register/loss_above_ceiling.xlsx": r"sheet 'register', row 2, scenario 'A', column loss_high \(D\): "
    r"value \(1e\+21\) " + _MONEY,
    "register/frequency_near_float_max.xlsx": r"row 2, scenario 'A', column frequency \(B\): value \(1.7e\+308\) "
    + _RATE,
    "register/del_in_name.xlsx": r"row 2, .*column name \(A\): value \('Ransom\\x7fware'\) "
    + _CONTROL.format(code="007F"),
    "register/bidi_in_name.xlsx": r"column name \(A\): value \('A\\u202eB'\) " + _CONTROL.format(code="202E"),
    "register/formula_without_value.xlsx": r"row 2, column frequency \(B\): the cell holds the formula '=1/0' but no "
    r"saved value",
    "register/not_a_workbook.xlsx": r"not a readable Excel workbook \(BadZipFile",
    # controls
    "controls/latin1.csv": r"line 2, column 4: " + _NOT_UTF8,
    "controls/cost_above_ceiling.csv": r"line 2, control 'EDR', column cost_per_year: value \('1e21'\) " + _MONEY,
    "controls/cost_huge_integer.csv": r"column cost_per_year: value \('9{50}.*\(352 characters\)\) is " + _TOO_LARGE,
    "controls/requires_and_excludes_same.csv": r"line 2, control 'EDR', column requires: .*requires and excludes both "
    r"name \['MFA'\]; an item cannot need something and rule it out",
    "controls/nul_in_name.csv": r"line 2, control 'E\\x00DR', column name: .*" + _CONTROL.format(code="0000"),
    "controls/bidi_in_description.csv": r"column description: .*" + _CONTROL.format(code="202E"),
    "controls/escape_in_applies_to.csv": r"column applies_to: .*applies_to \('ransom\\x1bware'\) "
    + _CONTROL.format(code="001B"),
    "controls/cost_per_hour_above_ceiling.csv": r"control 'IR', column cost_per_hour_high: value \('1e300'\) " + _MONEY,
    "controls/nan_cost.csv": r"column cost_per_year: value \('nan'\) must be finite, not NaN or inf",
    "controls/empty.csv": r"the file is empty; expected a header row with at least 'name' and 'cost_per_year'",
    # projects
    "projects/value_above_ceiling.csv": r"line 2, project 'Portal', column value_high: value \('1e300'\) " + _MONEY,
    "projects/cost_above_ceiling.csv": r"project 'Portal', column cost_per_year: value \('1e21'\) " + _MONEY,
    "projects/new_loss_above_ceiling.csv": r"project 'Portal': new scenario: .*line 2, scenario 'Portal abuse', "
    r"column new_loss_high: value \('1e21'\) " + _MONEY,
    "projects/requires_and_excludes_same.csv": r"project 'Portal', column requires: .*requires and excludes both "
    r"name \['App'\]",
    "projects/latin1.csv": r"line 2, column 4: " + _NOT_UTF8,
    "projects/escape_in_owner.csv": r"column owner: .*owner \('C\\x07IO'\) " + _CONTROL.format(code="0007"),
    "projects/sbd_cost_above_ceiling.csv": r"column sbd_cost_per_year: value \('1e300'\) " + _MONEY,
    # appetite
    "appetite/empty.yaml": r"the file is empty \(or only comments\); an appetite file states at least one limit",
    "appetite/comments_only.yaml": r"the file is empty \(or only comments\)",
    "appetite/only_description.yaml": r"the file states no limit and no tolerance curve \(keys found: "
    r"\['description', 'name'\]\)",
    "appetite/null.json": r"the file is empty",
    "appetite/empty_object.json": r"the file states no limit and no tolerance curve \(keys found: \[\]\)",
    "appetite/latin1.yaml": r"line 1, column 17: " + _NOT_UTF8,
    "appetite/utf16.json": _UTF16,
    "appetite/alias_bomb.yaml": r"line 2, column 8: " + _ALIAS,
    "appetite/duplicate_key.yaml": r"line 2, column 1: the key 'var95' appears twice in one mapping \(first on line 1\)",
    "appetite/duplicate_key.json": r"the key 'var95' appears twice in the object that starts on line 1",
    "appetite/var95_above_ceiling.yaml": r"var95 \(1e\+21\) " + _MONEY,
    "appetite/tolerance_loss_above_ceiling.json": r"ToleranceCurve: point 2 loss \(1e\+300\) " + _MONEY,
    "appetite/exceedance_threshold_above_ceiling.yaml": r"exceedance level or threshold \(1e\+300\) " + _MONEY,
    "appetite/huge_integer.json": r"line 1: " + _DIGITS,
    "appetite/float_beyond_max.yaml": r"line 1, column 9: the number '1.0e\+400' is " + _TOO_LARGE,
    "appetite/boolean_limit.yaml": r"var95 \(True\) must be a number, not a boolean",
}
#: Files every reader accepts, refused where all the alternatives are known (see test below).
REFUSED_LATER = {"controls/unknown_requires.csv"}


def _corpus() -> set[str]:
    return {p.relative_to(BAD).as_posix() for p in BAD.rglob("*") if p.is_file()}


def test_the_corpus_and_the_expectations_list_the_same_files():
    assert _corpus() == set(CASES) | REFUSED_LATER
    assert all(p.stat().st_size < 6_000 for p in BAD.rglob("*") if p.is_file()), "corpus files stay small"


def _check(message: str, path: Path, pattern: str) -> None:
    assert str(path) in message, f"the message does not name the file: {message}"
    assert re.search(pattern, message, flags=re.S), f"{pattern!r} not in {message!r}"
    assert len(message) < 1_500, "a message never grows with the input"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_bad_file_is_a_clean_error_naming_file_value_and_rule(case):
    path = BAD / case
    with pytest.raises(RiskBudgetError) as info:
        READERS[case.split("/")[0]](path)
    _check(str(info.value), path, CASES[case])


# --------------------------------------------------------------------------- #
# The same files through the command line
# --------------------------------------------------------------------------- #
def _cli_args(case: str, tmp: Path) -> list[str]:
    kind = case.split("/")[0]
    path = str(BAD / case)
    years = ["--years", "200", "--seed", "1"]
    if kind == "register":
        return ["simulate", path, *years]
    if kind == "appetite":
        return ["report", str(EXAMPLE / "register.csv"), "--appetite", path, "--out", str(tmp / "r.html"), *years]
    decision = {"register": str(EXAMPLE / "register.csv"), "controls": str(EXAMPLE / "controls.csv"),
                "projects": str(EXAMPLE / "projects.csv")}
    decision[kind] = path
    return ["optimize", "--register", decision["register"], "--controls", decision["controls"], "--projects",
            decision["projects"], "--budget", "4M", *years]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_bad_file_through_the_command_line_is_one_line_on_stderr(case, tmp_path, capsys):
    argv = _cli_args(case, tmp_path)
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"riskbudget {argv[0]}: error: ")
    _check(captured.err, BAD / case, CASES[case])
    assert not (tmp_path / "r.html").exists()


def test_an_unknown_requirement_is_refused_where_all_alternatives_are_known(capsys):
    controls = read_controls(BAD / "controls/unknown_requires.csv")  # a project could have that name
    with pytest.raises(ControlError, match=r"Control 'EDR': requires names \['Ghost'\], which are neither controls "
                                           r"nor projects here \(known: \['EDR'\]\)"):
        check_references(controls)
    assert main(["optimize", "--register", str(EXAMPLE / "register.csv"), "--controls",
                 str(BAD / "controls/unknown_requires.csv"), "--projects", str(EXAMPLE / "projects.csv"),
                 "--budget", "4M", "--years", "200"]) == 1
    assert re.search(r"riskbudget optimize: error: Control 'EDR': requires names \['Ghost'\]", capsys.readouterr().err)


# --------------------------------------------------------------------------- #
# Large cases, generated
# --------------------------------------------------------------------------- #
def _laughs(levels: int, width: int = 10) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind,suffix", [("register", ".yaml"), ("appetite", ".yaml"), ("register", ".yml")])
def test_a_billion_laughs_is_refused_at_once(tmp_path, kind, suffix):
    path = tmp_path / f"bomb{suffix}"
    path.write_text(_laughs(12) + "scenarios: *a11\nvar95: *a11\n")  # 10**11 strings if expanded
    with pytest.raises(RiskBudgetError, match=r"line 2, column \d+: the alias \*a0 .* riskbudget refuses YAML aliases"):
        READERS[kind](path)


def test_a_billion_laughs_in_a_description_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(_laughs(9) + "scenarios:\n  - name: A\n    description: *a8\n    loss_event_frequency: 1\n"
                    "    primary_loss: 5\n")
    with pytest.raises(rb.RegisterError, match=r"the alias \*a0"):
        rb.read_register(path)


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("kind", ["register", "appetite"])
def test_deep_nesting_is_refused_with_the_cap(tmp_path, depth, suffix, kind):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"scenarios": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(RiskBudgetError, match=r"nested more than 32 levels deep") as info:
        READERS[kind](path)
    assert str(path) in str(info.value)


def test_block_style_yaml_nesting_is_refused_too(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("scenarios:\n" + "".join("  " * i + "- \n" for i in range(1, 60)))
    with pytest.raises(rb.RegisterError, match=r"line \d+, column \d+: the data is nested more than 32 levels"):
        rb.read_register(path)


@pytest.mark.parametrize(
    "kind,header",
    [
        ("register", "name,frequency,loss_low,loss_high\n"),
        ("controls", "name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high\n"),
        ("projects", "name,cost_per_year,value_low,value_mode,value_high\n"),
    ],
)
def test_a_csv_field_beyond_the_field_limit_is_an_error_naming_the_line(tmp_path, kind, header):
    path = tmp_path / f"{kind}.csv"
    path.write_text(header + 'A,"' + "x" * (csv.field_size_limit() + 10) + '",1,2,3\n')
    limit_before = csv.field_size_limit()
    with pytest.raises(RiskBudgetError, match=r"line 2: not readable as CSV \(field larger than field limit .*a quote "
                                              r"\(\"\) that is never closed") as info:
        READERS[kind](path)
    assert str(path) in str(info.value)
    assert csv.field_size_limit() == limit_before  # no process-wide change


@pytest.mark.parametrize("name", ["r.csv", "r.yaml", "r.json", "r.xlsx", "c.csv", "p.csv", "a.yaml"])
def test_files_beyond_the_size_cap_are_refused_before_reading(tmp_path, name):
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(_files.MAX_FILE_BYTES + 1)  # sparse: nothing is written
    kind = {"r": "register", "c": "controls", "p": "projects", "a": "appetite"}[name[0]]
    with pytest.raises(RiskBudgetError, match=r"the file holds 50,000,001 bytes, more than the 50,000,000 bytes "
                                              r"riskbudget reads"):
        READERS[kind](path)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_directory_is_not_a_file(tmp_path, kind):
    d = tmp_path / ("dir.yaml" if kind == "appetite" else "dir.csv")
    d.mkdir()
    with pytest.raises(RiskBudgetError, match=r"dir\.\w+: is a directory; give the path of a"):
        READERS[kind](d)


def test_a_sheet_whose_xml_breaks_while_reading_is_a_register_error(tmp_path):
    import zipfile

    good = tmp_path / "good.xlsx"
    rb.write_register(rb.read_register(EXAMPLE / "register.csv"), good)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<v>0.2</v>", b"<v>" + b"9" * 5_000 + b"</v>", 1)
            zout.writestr(item, data)
    with pytest.raises(rb.RegisterError) as info:
        rb.read_register(bad)
    assert str(bad) in str(info.value)


# --------------------------------------------------------------------------- #
# Consistency
# --------------------------------------------------------------------------- #
def test_a_control_or_project_that_requires_and_excludes_the_same_item_is_refused():
    with pytest.raises(ControlError, match=r"Control 'PAM': requires and excludes both name \['MFA'\]"):
        Control("PAM", 1e5, resistance=0.3, requires=["MFA", "EDR"], excludes="MFA")
    with pytest.raises(ProjectError, match=r"Project 'ERP': requires and excludes both name \['WMS'\]"):
        Project("ERP", 1e6, value_per_year=2e6, requires="WMS", excludes=["WMS"])


def test_check_references_knows_controls_and_projects():
    mfa = Control("MFA", 1e5, resistance=0.3)
    pam = Control("PAM", 1e5, resistance=0.3, requires="MFA", excludes="Portal")
    portal = Project("Portal", 1e6, value_per_year=2e6)
    check_references([mfa, pam], [portal])  # all known: no error
    with pytest.raises(ControlError, match=r"Control 'PAM': excludes names \['Portal'\]"):
        check_references([mfa, pam])


def test_the_ceilings_are_defined_once_and_used_everywhere():
    assert MONEY.value == 1e15 and EVENTS_PER_YEAR.value == 1e6
    with pytest.raises(ControlError, match=_MONEY):
        Control("EDR", 1e21, resistance=0.3)
    with pytest.raises(ProjectError, match=r"value_per_year .* has highest value 1e\+16, above " + _MONEY_CEILING):
        Project("ERP", 1e6, value_per_year=rb.PERT(1, 2, 1e16))
    with pytest.raises(ProjectError, match=_MONEY):
        rb.controls.SecurityByDesign(2e15)
    with pytest.raises(ControlError, match=r"cost_per_hour .* above 1e15"):
        rb.controls.ResponseSLA(rb.PERT(1, 2, 3), 1, cost_per_hour=rb.LogNormal.from_ci(1e14, 1e16), disruption_share=1)
    with pytest.raises(RiskBudgetError, match=_MONEY):
        rb.Appetite(tvar99=2e15)
    with pytest.raises(RiskBudgetError, match=_MONEY):
        rb.ToleranceCurve.from_points([(0.5, 1e6), (0.01, 2e15)])
    with pytest.raises(rb.ScenarioError, match=r"primary_loss.productivity .* above 1e15"):
        rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.LossForms(productivity=rb.PERT(1, 2, 2e15)))
    with pytest.raises(rb.ScenarioError, match=r"threat_event_frequency .* above 1e6"):
        rb.Scenario("A", threat_event_frequency=rb.LogNormal.from_ci(1e5, 1e7), susceptibility=0.5, primary_loss=5)


def test_a_register_at_the_ceilings_simulates_to_finite_metrics():
    s = rb.Scenario("At the ceilings", loss_event_frequency=EVENTS_PER_YEAR.value, primary_loss=MONEY.value,
                    secondary_loss_probability=1.0, secondary_loss=MONEY.value)
    summary = rb.simulate([s], years=3, seed=1).summary()
    assert np.isfinite(summary.to_numpy(dtype=float)).all()
    assert summary.loc["Total", "ale"] == pytest.approx(2e21, rel=1e-2)


def test_the_optimiser_solves_at_the_money_ceiling():
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=rb.PERT(1e5, 5e5, 1e6),
                                   primary_loss=rb.PERT(1e14, 5e14, MONEY.value), category="web")])
    waf = Control("WAF", MONEY.value, applies_to="web", resistance=rb.PERT(0.1, 0.5, 0.9))
    portal = Project("Portal", MONEY.value, value_per_year=rb.PERT(1e14, 5e14, MONEY.value))
    plan = rb.optimize(reg, [waf], [portal], budget=MONEY.value, years=50, seed=1, appetite=rb.Appetite(var95=MONEY.value))
    assert plan.status in ("optimal", "infeasible_appetite")
    assert math.isfinite(plan.ale) and plan.total_spend <= MONEY.value


def test_a_project_raising_a_frequency_past_the_ceiling_is_refused_where_it_applies():
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=9e5, primary_loss=5, category="web")])
    p = Project("Portal", 1e6, value_per_year=2e6, risk_changes=[rb.controls.RiskChange("web", rb.PERT(0.1, 0.5, 1))])
    with pytest.raises(rb.ScenarioError, match=r"loss_event_frequency .* raised by the adjustments from 'Portal' "
                                               r"\(x 2\) reaches 1.8e\+06, above 1e6"):
        rb.controls.apply_projects(reg, [p])


def test_a_control_costing_more_than_the_ceiling_never_reaches_the_solver(tmp_path, capsys):
    path = tmp_path / "controls.csv"
    text = (EXAMPLE / "controls.csv").read_text().splitlines()
    name, rest = text[1].split(",", 1)
    text[1] = name + ",1e21," + rest.split(",", 1)[1]
    path.write_text("\n".join(text) + "\n")
    argv = ["optimize", "--register", str(EXAMPLE / "register.csv"), "--controls", str(path), "--projects",
            str(EXAMPLE / "projects.csv"), "--budget", "4M", "--years", "200"]
    assert main(argv) == 1
    assert re.search(r"line 2, control 'Phishing-resistant MFA', column cost_per_year: value \('1e21'\) " + _MONEY,
                     capsys.readouterr().err)


# --------------------------------------------------------------------------- #
# Formula injection and atomic writes
# --------------------------------------------------------------------------- #
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "'=already quoted", "''@twice", "-"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_written_text_cells_never_start_a_formula_and_read_back_equal(tmp_path, suffix):
    reg = rb.Register([
        rb.Scenario(text, loss_event_frequency=1, primary_loss=rb.LogNormal.from_ci(1e3, 1e5), owner=text,
                    category=text, id=f"id{i}", description="=cmd|' /C calc'!A0\nsecond line")
        for i, text in enumerate(FORMULAS)
    ])
    path = rb.write_register(reg, tmp_path / f"r{suffix}")
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    else:
        import openpyxl

        ws = openpyxl.load_workbook(path)["register"]
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
        header = [c.value for c in ws[1]]
        rows = [dict(zip(header, [c.value for c in row])) for row in ws.iter_rows(min_row=2)]
    text = [v for row in rows for k, v in row.items() if k in rb.io.TEXT_COLUMNS and v]
    assert len(text) == 5 * len(FORMULAS)
    assert not [v for v in text if v[:1] in _files.FORMULA_STARTS]
    numbers = [v for row in rows for k, v in row.items() if k not in rb.io.TEXT_COLUMNS and v not in ("", None)]
    assert numbers and all(not str(v).startswith("'") for v in numbers), "numbers are never quoted"
    assert rb.read_register(path) == reg


def test_text_starting_with_a_tab_or_carriage_return_is_quoted_too(tmp_path):
    # readers trim the whitespace around text, so such text reads back trimmed; the file is safe all the same
    s = rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.PERT(1, 2, 3), description="\t=1+1")
    text = rb.write_register([s], tmp_path / "r.csv").read_text()
    assert "'\t=1+1" in text
    assert rb.read_register(tmp_path / "r.csv")["A"].description == "=1+1"


def _writers(tmp_path: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    reg = rb.read_register(EXAMPLE / "register.csv")
    appetite = rb.Appetite(var95=2e7)
    for suffix in (".csv", ".yaml", ".json", ".xlsx"):
        yield f"register{suffix}", lambda s=suffix: rb.write_register(reg, tmp_path / f"register{s}")
    for suffix in (".yaml", ".json"):
        yield f"appetite{suffix}", lambda s=suffix: write_appetite(appetite, tmp_path / f"appetite{s}")
    yield "report.html", lambda: rb.report(reg, years=300, seed=1, out=tmp_path / "report.html")


def test_a_failing_write_leaves_no_file_for_every_writer(tmp_path, monkeypatch):
    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    for name, write in _writers(tmp_path):
        with pytest.raises(OSError, match="No space left"):
            write()
        assert sorted(p.name for p in tmp_path.iterdir()) == [], name


#: Modules that write files other than the user's, and why that needs no atomic write.
_NOT_USER_FILES = {"_package_data.py": "copies the bundled data into a private temporary directory"}


def test_no_module_writes_a_file_except_through_atomic_write():
    src = Path(rb.__file__).parent
    offenders = []
    pattern = re.compile(r"\.write_(text|bytes)\(|open\([^)]*['\"][wax]b?['\"]|\.to_(csv|excel|json)\(\s*[a-z]")
    for path in src.rglob("*.py"):
        if path.name in _NOT_USER_FILES:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            # os.fdopen: atomic_write's own temporary file; closefd=False: the CLI's wrapper of stdout's descriptor
            if pattern.search(line) and not any(ok in line for ok in ("atomic_write", "os.fdopen", "closefd=False")):
                offenders.append(f"{path.relative_to(src)}:{n}: {line.strip()}")
    assert offenders == []


# --------------------------------------------------------------------------- #
# Library constructors
# --------------------------------------------------------------------------- #
_ABSURD = [None, 0, -1, 1e300, -1e300, 10**400, math.nan, math.inf, "", "abc", "1e400", True, [], [1, 2], {},
           {"family": "pert"}, (1,), "a\x00b", object(), b"x", 5j, np.float32(np.inf), np.int64(-5)]
_CONSTRUCTORS: dict[str, Callable[[Any], Any]] = {
    "Scenario(loss_event_frequency=)": lambda v: rb.Scenario("A", loss_event_frequency=v, primary_loss=5),
    "Scenario(primary_loss=)": lambda v: rb.Scenario("A", loss_event_frequency=1, primary_loss=v),
    "Scenario(name)": lambda v: rb.Scenario(v, loss_event_frequency=1, primary_loss=5),
    "Scenario(adjustments=)": lambda v: rb.Scenario("A", loss_event_frequency=1, primary_loss=5, adjustments=v),
    "Scenario(owner=)": lambda v: rb.Scenario("A", loss_event_frequency=1, primary_loss=5, owner=v),
    "Scenario.from_dict": lambda v: rb.Scenario.from_dict(v),
    "Scenario.from_dict(adjustments)": lambda v: rb.Scenario.from_dict(
        {"name": "A", "loss_event_frequency": 1, "primary_loss": 5, "adjustments": v}),
    "Register": lambda v: rb.Register(v),
    "LossForms.from_mapping": lambda v: rb.LossForms.from_mapping(v),
    "Adjustment(factor)": lambda v: rb.Adjustment(v, 0.5, "X"),
    "Adjustment(multiplier)": lambda v: rb.Adjustment("frequency", v, "X"),
    "Adjustment(source)": lambda v: rb.Adjustment("frequency", 0.5, v),
    "Control(cost)": lambda v: Control("C", v, resistance=0.3),
    "Control(applies_to=)": lambda v: Control("C", 1, applies_to=v, resistance=0.3),
    "Control(resistance=)": lambda v: Control("C", 1, resistance=v),
    "Control(requires=)": lambda v: Control("C", 1, resistance=0.3, requires=v),
    "Control(response_sla=)": lambda v: Control("C", 1, response_sla=v),
    "Project(value_per_year=)": lambda v: Project("P", 1, value_per_year=v),
    "Project(risk_changes=)": lambda v: Project("P", 1, value_per_year=1, risk_changes=v),
    "Project(new_scenarios=)": lambda v: Project("P", 1, value_per_year=1, new_scenarios=v),
    "RiskChange(increase)": lambda v: rb.controls.RiskChange("x", v),
    "SecurityByDesign(cost)": lambda v: rb.controls.SecurityByDesign(v),
    "ResponseSLA(cost_per_hour=)": lambda v: rb.controls.ResponseSLA(5, 1, cost_per_hour=v),
    "Appetite(var95=)": lambda v: rb.Appetite(var95=v),
    "Appetite(exceedance=)": lambda v: rb.Appetite(exceedance=v),
    "Appetite(limits=)": lambda v: rb.Appetite(limits=v),
    "Appetite.from_dict": lambda v: rb.Appetite.from_dict(v),
    "ToleranceCurve.from_points": lambda v: rb.ToleranceCurve.from_points(v),
    "from_dict": lambda v: rb.distribution_from_dict(v),
    "Distribution.sample(n)": lambda v: rb.PERT(0, 1, 2).sample(v, 0),
    "Distribution.scaled": lambda v: rb.LogNormal.from_ci(1, 2).scaled(v),
}


@pytest.mark.parametrize("constructor", sorted(_CONSTRUCTORS))
def test_library_constructors_refuse_absurd_arguments_cleanly(constructor):
    for value in _ABSURD:
        try:
            _CONSTRUCTORS[constructor](value)
        except RiskBudgetError as exc:
            assert len(str(exc)) < 2_000
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{constructor} with {value!r} raised {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- #
# Property tests
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _file(name: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        yield path


def _read_cleanly(kind: str, path: Path) -> Any:
    """Read ``path``; any error must be a RiskBudgetError naming the file."""
    try:
        return READERS[kind](path)
    except RiskBudgetError as exc:
        assert str(path) in str(exc) or "Control '" in str(exc) or "Project '" in str(exc), str(exc)
        assert len(str(exc)) < 3_000
        return exc


_FILES = st.sampled_from([
    ("register", "r.csv"), ("register", "r.yaml"), ("register", "r.json"), ("register", "r.xlsx"),
    ("controls", "c.csv"), ("projects", "p.csv"), ("appetite", "a.yaml"), ("appetite", "a.json"),
])
_SYNTAX = st.text(alphabet=st.sampled_from(list("{}[]:,-'\"&*!|>#\n \t0123456789.eE+namescrioqfyuwlh_\x00\u202e\xe9")),
                  max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=_FILES, data=st.binary(max_size=400))
def test_random_bytes_are_read_or_refused_cleanly(target, data):
    kind, name = target
    with _file(name, data) as path:
        _read_cleanly(kind, path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=_FILES, text=_SYNTAX, encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
def test_random_text_in_random_encodings_is_read_or_refused_cleanly(target, text, encoding):
    kind, name = target
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    with _file(name, data) as path:
        result = _read_cleanly(kind, path)
    if encoding == "utf-16" and text:
        assert isinstance(result, RiskBudgetError) and ("UTF-16" in str(result) or "Excel" in str(result))


_CONTAINERS = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["register", "appetite"]), suffix=st.sampled_from([".json", ".yaml"]),
       depth=st.integers(1, 3_000), leaf=_CONTAINERS, brackets=st.sampled_from(["[]", "{}"]))
def test_random_nesting_is_read_or_refused_cleanly(kind, suffix, depth, leaf, brackets):
    opening, closing = brackets
    inner = json.dumps(leaf, allow_nan=True)
    text = ('{"a": ' * depth if opening == "{" else "[" * depth) + inner + closing * depth
    with _file("f" + suffix, text.encode()) as path:
        result = _read_cleanly(kind, path)
    assert isinstance(result, RiskBudgetError)  # never a register or an appetite
    if depth > _files.MAX_DEPTH:
        assert "nested more than 32 levels deep" in str(result)


_MAGNITUDES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.sampled_from([0.0, 5e-324, 1e-308, 1e-12, 1.0, 1e6, 1e15, 1e16, 1e154, 1e155, 1e300, 1.7976931348623157e308]),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-1000, max_value=1000),
    st.sampled_from(["1e400", "abc", "", None, True, [1.0]]),
)
_FAMILIES: dict[str, tuple[Callable[..., Any], int]] = {
    "PERT": (rb.PERT, 3),
    "PERT lam": (lambda a, b, c, lam: rb.PERT(a, b, c, lam), 4),
    "LogNormal": (rb.LogNormal, 2),
    "LogNormal.from_ci": (rb.LogNormal.from_ci, 2),
    "LogNormal.from_ci level": (rb.LogNormal.from_ci, 3),
    "LogNormal.from_median_p95": (rb.LogNormal.from_median_p95, 2),
    "Triangular": (rb.Triangular, 3),
    "Uniform": (rb.Uniform, 2),
    "Constant": (rb.Constant, 1),
    "Beta": (rb.Beta, 2),
    "Gamma": (rb.Gamma, 2),
}


@pytest.mark.parametrize("family", sorted(_FAMILIES))
@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_every_distribution_is_refused_cleanly_or_finite_inside_its_support(family, data):
    build, arity = _FAMILIES[family]
    params = [data.draw(_MAGNITUDES, label=f"p{i}") for i in range(arity)]
    if data.draw(st.booleans(), label="sorted") and all(isinstance(p, float) and math.isfinite(p) for p in params):
        params = sorted(params[:3]) + params[3:]  # valid orderings, so the magnitudes themselves get tested
    try:
        dist = build(*params)
    except InvalidParameterError:
        return
    low, high = dist.support()
    mean, var = dist.mean(), dist.var()
    assert math.isfinite(mean) and math.isfinite(var) and var >= 0, (dist, mean, var)
    x = dist.sample(200, np.random.default_rng(0))
    assert np.isfinite(x).all(), dist
    assert (x >= low).all() and (x <= high).all(), (dist, x.min(), x.max())
    assert low <= mean <= high


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40), field=st.sampled_from(["name", "owner", "category", "id", "description"]))
def test_text_with_control_characters_is_refused_everywhere_or_kept_exactly(text, field):
    kwargs = {"loss_event_frequency": 1, "primary_loss": 5}
    name = text if field == "name" else "A"
    if field != "name":
        kwargs[field] = text
    has_control = bool(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]", text))
    if field != "description":
        has_control = has_control or bool(re.search(r"[\t\n\r\u2028\u2029]", text))
    try:
        s = rb.Scenario(name, **kwargs)
    except rb.ScenarioError as exc:
        assert has_control or not text.strip() or text.strip() == "Total", exc
        return
    assert not has_control
    assert getattr(s, field) == text
    for build in (lambda: Control(name, 1, resistance=0.1, description=text if field == "description" else ""),
                  lambda: Project(name, 1, value_per_year=1, owner=text if field == "owner" else "")):
        try:
            build()
        except (ControlError, ProjectError) as exc:
            assert "Total" in str(exc) or not name.strip(), exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                              max_size=12), min_size=1, max_size=4, unique_by=lambda t: t.strip()))
def test_any_register_text_round_trips_through_csv_and_excel(texts):
    texts = [t for t in texts if t.strip() and t.strip() != "Total" and not re.search("[\u202a-\u202e\u2066-\u2069]", t)]
    assume(texts)
    reg = rb.Register([rb.Scenario(t.strip(), loss_event_frequency=1, primary_loss=rb.PERT(1, 2, 3), owner=t.strip(),
                                   description=t.strip()) for t in texts])
    with tempfile.TemporaryDirectory() as d:
        for suffix in (".csv", ".xlsx"):
            path = rb.write_register(reg, Path(d) / f"r{suffix}")
            assert rb.read_register(path) == reg


@given(text=st.text())
def test_formula_escaping_is_a_bijection_and_never_starts_a_formula(text):
    escaped = _files.escape_cell(text)
    assert _files.unescape_cell(escaped) == text
    assert escaped[:1] not in _files.FORMULA_STARTS or not escaped


@settings(max_examples=300, deadline=None)
@given(value=_MAGNITUDES, column=st.sampled_from(["frequency", "loss_low", "loss_high", "annual_probability"]))
def test_any_magnitude_in_a_register_cell_is_read_or_refused_cleanly(value, column):
    row = {"name": "A", "frequency": "1", "loss_low": "1000", "loss_high": "100000"}
    if column == "annual_probability":
        del row["frequency"]
    row[column] = "" if value is None else str(value)
    text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    with _file("r.csv", text.encode()) as path:
        result = _read_cleanly("register", path)
    if not isinstance(result, RiskBudgetError):
        s = result["A"]
        assert s.expected_annual_loss() <= MONEY.value * EVENTS_PER_YEAR.value


@given(value=_MAGNITUDES)
def test_check_finite_and_check_text_only_raise_riskbudget_errors(value):
    with contextlib.suppress(RiskBudgetError):
        x = check_finite("where", "name", value, ceiling=MONEY)
        assert math.isfinite(x) and abs(x) <= MONEY.value
    with contextlib.suppress(RiskBudgetError):
        assert isinstance(check_text("where", "name", value), str)


def test_report_and_optimize_apply_one_rule_to_unknown_requires(tmp_path):
    """A control whose ``requires`` names nothing known is refused by report as by optimize."""
    import riskbudget as rb
    from riskbudget.controls import ControlError

    register = rb.read_register(rb.datasets.example_path("register.csv"))
    pam = rb.Control("PAM", 1e5, applies_to="*", resistance=0.3, requires="MFA")
    with pytest.raises(ControlError, match=r"Control 'PAM': requires names \['MFA'\]"):
        rb.report(register, controls=[pam], years=200, seed=1, out=tmp_path / "r.html")
    with pytest.raises(ControlError, match=r"Control 'PAM': requires names \['MFA'\]"):
        rb.optimize(register, [pam], [], budget=1e6, years=200, seed=1, progress=False)
    assert not (tmp_path / "r.html").exists()
