"""riskbudget._parse: one reader of typed numbers, amounts of money, shares and whole numbers.

Oracles: ``float()`` of the plain spelling (``parse_money(str(x)) == x``), exact integers for whole numbers,
:func:`riskbudget.formatting.money` for the round trip of what riskbudget itself prints, and
:func:`riskbudget.exceptions.check_finite` for what counts as a number at all.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskbudget as rb
from riskbudget._parse import MAX_WHOLE_DIGITS, parse_money, parse_number, parse_share, parse_whole
from riskbudget.exceptions import MONEY, InvalidParameterError, RegisterError, RiskBudgetError, check_finite
from riskbudget.formatting import money

AMOUNTS = st.floats(min_value=0.0, max_value=MONEY.value, allow_nan=False, allow_infinity=False)
EXAMPLE = r"an amount of money such as 250000, 2\.5e5, 250K, 1\.2M or \$250,000"


# --------------------------------------------------------------------------- #
# Money: spellings
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "text, expected",
    [
        ("6M", 6e6),
        ("6m", 6e6),
        ("$6,000,000", 6e6),
        ("6e6", 6e6),
        ("6 000 000", 6e6),
        ("6\u2009000\u2009000", 6e6),  # thin spaces
        ("6\u00a0000\u00a0000", 6e6),  # no-break spaces
        ("6\u202f000\u202f000", 6e6),  # narrow no-break spaces (French)
        ("2.5K", 2500.0),
        ("2.5k", 2500.0),
        ("1.2B", 1.2e9),
        ("$1.5 M", 1.5e6),
        ("$ 1.5M", 1.5e6),
        ("  6M  ", 6e6),
        ("6000000", 6e6),
        ("6_000_000", 6e6),
        ("$6,000,000.50", 6000000.5),
        ("1.1M", 1100000.0),  # exact decimal arithmetic: not 1.1 * 1e6 == 1100000.0000000002
        ("$12.3M", 12.3e6),
        ("$1000T", 1e15),
        ("0", 0.0),
        (".5", 0.5),
        ("+250K", 250e3),
        ("2.5e3K", 2.5e6),
    ],
)
def test_money_spellings(text, expected):
    assert parse_money(text, where="w", name="n") == expected


@pytest.mark.parametrize("number", [0, 6_000_000, 2.5e5, 1e15])
def test_money_numbers_are_taken_as_they_are(number):
    assert parse_money(number, where="", name="n") == float(number)


def test_money_negative_only_when_allowed():
    for text, expected in (("-$2M", -2e6), ("$-2M", -2e6), ("-2e6", -2e6), ("-2,000,000", -2e6)):
        assert parse_money(text, where="", name="n", allow_negative=True) == expected
        with pytest.raises(InvalidParameterError, match=r"must be a finite amount >= 0 \(such as 0, 250K or 1\.2M\)"):
            parse_money(text, where="", name="n")
    with pytest.raises(RiskBudgetError, match=r"is below -1e15 \(one quadrillion\)"):
        parse_money("-2000T", where="", name="n", allow_negative=True)


@pytest.mark.parametrize(
    "value, rule",
    [
        ("6 MB", r"must be a number \(" + EXAMPLE + r"\)"),
        ("six", r"must be a number \(" + EXAMPLE + r"\)"),
        ("6MM", r"must be a number \(" + EXAMPLE + r"\)"),
        ("1,5", r"must be a number \(" + EXAMPLE + r"\)"),  # not 15, not 1.5: a decimal comma is refused
        ("1,50,000", r"must be a number \(" + EXAMPLE + r"\)"),  # groups are threes
        ("6 00 000", r"must be a number \(" + EXAMPLE + r"\)"),
        ("-$-5", r"must be a number \(" + EXAMPLE + r"\)"),
        ("€6M", r"must be a number \(" + EXAMPLE + r"\)"),
        ("", r"must be a number \(" + EXAMPLE + r"\)"),
        ("1e400", r"is too large for a 64-bit float \(at most about 1\.8e308\); is the number right\?"),
        ("1e400M", r"is too large for a 64-bit float"),
        ("nan", r"must be finite, not NaN or inf"),
        ("inf", r"must be finite, not NaN or inf"),
        (math.nan, r"must be finite, not NaN or inf"),
        ("-5", r"must be a finite amount >= 0 \(such as 0, 250K or 1\.2M\)"),
        ("2e15", r"exceeds 1e15 \(one quadrillion\), the largest amount of money riskbudget accepts; is the unit"),
        ("$1001T", r"exceeds 1e15 \(one quadrillion\)"),
        (True, r"must be a number, not a boolean"),
        (None, r"must be a number \(" + EXAMPLE + r"\)"),
    ],
)
def test_money_refusals_name_where_name_value_and_rule(value, rule):
    with pytest.raises(RegisterError) as err:
        parse_money(value, where="reg.csv, line 3", name="loss_high", error=RegisterError)
    message = str(err.value)
    assert message.startswith(f"reg.csv, line 3: loss_high ({value!r}) "), message  # the value as written
    assert re.search(rule, message), message


def test_an_empty_name_shows_the_value_alone_for_the_command_line():
    with pytest.raises(RiskBudgetError) as err:
        parse_money("6 MB", where="", name="")
    assert str(err.value).startswith("'6 MB' must be a number (an amount of money such as")


def test_a_ceiling_can_be_lifted_or_changed():
    assert parse_money("2e15", where="", name="n", ceiling=None) == 2e15
    with pytest.raises(RiskBudgetError, match="exceeds 1e6"):
        parse_money("2M", where="", name="n", ceiling=rb.exceptions.EVENTS_PER_YEAR)


@settings(max_examples=300)
@given(AMOUNTS)
def test_money_reads_the_plain_spelling_of_every_float_exactly(x):
    assert parse_money(str(x), where="", name="n") == x
    assert parse_money(repr(x), where="", name="n") == x
    assert parse_money(-x, where="", name="n", allow_negative=True) == -x
    assert parse_money(str(-x), where="", name="n", allow_negative=True) == -x


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=10**15))
def test_money_reads_grouped_whole_amounts_exactly(n):
    for text in (f"{n:,}", f"${n:,}", f"{n:_}", f"{n:,}".replace(",", " "), f"{n:,}".replace(",", "\u2009")):
        assert parse_money(text, where="", name="n") == float(n), text


@settings(max_examples=300)
@given(AMOUNTS, st.booleans())
def test_every_formatted_amount_reads_back_within_its_rounding(x, negative):
    # money() keeps three significant digits: half a unit in the third is at most 0.5% of the amount
    value = -x if negative else x
    back = parse_money(money(value), where="", name="n", allow_negative=True)
    assert abs(back - value) <= 5e-3 * abs(value), (value, money(value), back)
    assert math.copysign(1.0, back) == math.copysign(1.0, value) or back == 0.0


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=999_999), st.sampled_from(["K", "M", "B", "k", "m", "b"]),
       st.integers(min_value=0, max_value=3))
def test_scaled_amounts_are_the_nearest_float_to_the_exact_value(mantissa, suffix, decimals):
    text = f"{mantissa / 10**decimals:.{decimals}f}"
    power = {"k": 3, "m": 6, "b": 9}[suffix.lower()]
    assert parse_money(text + suffix, where="", name="n") == float(f"{text}e{power}")


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=12), st.text(alphabet="0123456789,._ $-+eEkKmMbBtT%\u2009", max_size=14)))
def test_money_refuses_cleanly_or_returns_a_finite_amount(text):
    try:
        x = parse_money(text, where="w", name="n")
    except RiskBudgetError as exc:
        assert str(exc).startswith("w: n ("), exc
    else:
        assert math.isfinite(x) and 0 <= x <= MONEY.value


# --------------------------------------------------------------------------- #
# Numbers, shares, whole numbers
# --------------------------------------------------------------------------- #
@settings(max_examples=300)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)))
def test_parse_number_is_check_finite(value):
    def outcome(f):
        try:
            return f()
        except RiskBudgetError as exc:
            return ("refused", str(exc))

    got = outcome(lambda: parse_number(value, where="w", name="n", ceiling=MONEY))
    want = outcome(lambda: check_finite("w", "n", value, ceiling=MONEY))
    assert got == want or (got != got and want != want)


@pytest.mark.parametrize("text, expected", [("15%", 0.15), ("0.15", 0.15), ("15 %", 0.15), (0.15, 0.15),
                                            ("14.1%", 0.141), ("0%", 0.0), ("100%", 1.0), ("1", 1.0), (" 0.5 ", 0.5)])
def test_share_spellings(text, expected):
    assert parse_share(text, where="", name="share") == expected


@pytest.mark.parametrize(
    "value, rule",
    [
        ("1.5", r"must lie in \[0, 1\] \(or 0%\.\.100%\), e\.g\. 0\.15 or 15%"),
        ("150%", r"must lie in \[0, 1\]"),
        ("-10%", r"must lie in \[0, 1\]"),
        (-0.1, r"must lie in \[0, 1\]"),
        ("lots", r"must be a number \(a share such as 0\.15 or 15%\)"),
        ("nan%", r"must be a number \(a share such as 0\.15 or 15%\)"),
        ("nan", r"must be finite, not NaN or inf"),
        (True, r"must be a number, not a boolean"),
    ],
)
def test_share_refusals(value, rule):
    with pytest.raises(InvalidParameterError, match=r"^Budget: share \(" + re.escape(repr(value))
                       + r"\) " + rule):
        parse_share(value, where="Budget", name="share")


@given(st.integers(min_value=0, max_value=100))
def test_whole_percentages_are_the_nearest_float_to_the_share(k):
    assert parse_share(f"{k}%", where="", name="s") == k / 100 == float(f"{k}e-2")


@pytest.mark.parametrize("text", ["100000", "1e5", "100_000", "100,000", "100 000", "1.0e5", 100000, 1e5, " 100000 "])
def test_whole_spellings(text):
    assert parse_whole(text, where="", name="years") == 100_000


def test_whole_numbers_are_exact():
    assert parse_whole("1e30", where="", name="years") == 10**30
    assert parse_whole(str(2**80 + 1), where="", name="years") == 2**80 + 1
    assert parse_whole(2**80 + 1, where="", name="years") == 2**80 + 1


@pytest.mark.parametrize(
    "value, options, rule",
    [
        ("2.5", {}, r"must be a whole number, such as 100000, 1e5, 100_000 or 100,000$"),
        ("2.5e0", {}, r"must be a whole number"),
        (2.5, {}, r"must be a whole number"),
        ("many", {}, r"must be a number \(a whole number, such as 100000"),
        ("1,00", {}, r"must be a number \(a whole number"),
        (True, {}, r"must be a number, not a boolean"),
        ("nan", {}, r"must be finite, not NaN or inf"),
        ("0", {"minimum": 1}, r"must be at least 1$"),
        ("-5", {"minimum": 0}, r"must be at least 0$"),
        ("202", {"maximum": 201}, r"must be at most 201$"),
        ("1e400", {}, rf"has more than {MAX_WHOLE_DIGITS} digits; is the number right\?"),
        ("1e999999999999999999999", {}, r"has an exponent beyond any number riskbudget reads"),
    ],
)
def test_whole_refusals(value, options, rule):
    with pytest.raises(InvalidParameterError, match=r"^years \(.*\) " + rule):
        parse_whole(value, where="", name="years", **options)


@settings(max_examples=300)
@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_whole_numbers_read_back_in_every_grouping(n):
    for text in (str(n), f"{n:,}", f"{n:_}"):
        assert parse_whole(text, where="", name="n") == n, text


# --------------------------------------------------------------------------- #
# The readers that use them
# --------------------------------------------------------------------------- #
def test_the_command_line_reads_options_with_these_parsers(capsys):
    from riskbudget.cli import main

    base = ["optimize", "--register", "r.csv", "--controls", "c.csv", "--projects", "p.csv"]
    for argv, message in (
        ([*base, "--budget", "6 MB"], "argument --budget: '6 MB' must be a number (an amount of money such as"),
        ([*base, "--budget", "-6e6"], "argument --budget: '-6e6' must be a finite amount >= 0"),
        ([*base, "--budget", "6M", "--min-security-share", "150%"], "'150%' must lie in [0, 1] (or 0%..100%)"),
        ([*base, "--budget", "6M", "--years", "2.5"], "argument --years: '2.5' must be a whole number"),
        ([*base, "--budget", "6M", "--time-limit", "soon"], "'soon' must be a number of seconds, such as 30"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err, argv


def test_files_and_constructors_read_money_as_typed(tmp_path):
    plain = tmp_path / "plain.csv"
    typed = tmp_path / "typed.csv"
    plain.write_text("name,frequency,loss_low,loss_high\nA,0.5,250000,12000000\n")
    typed.write_text('name,frequency,loss_low,loss_high\nA,0.5,"$250,000",12M\n')
    assert rb.read_register(typed) == rb.read_register(plain)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,frequency,loss_low,loss_high\nA,0.5,250 kB,12M\n")
    with pytest.raises(RegisterError, match=r"bad.csv, line 2, scenario 'A', column loss_low: value \('250 kB'\) "
                                            r"must be a number \(" + EXAMPLE):
        rb.read_register(bad)
    # rates stay plain numbers: "0.5M" events a year is refused as before
    rate = tmp_path / "rate.csv"
    rate.write_text("name,frequency,loss_low,loss_high\nA,5K,250000,12M\n")
    with pytest.raises(RegisterError, match=r"column frequency: value \('5K'\) must be a number \(write plain"):
        rb.read_register(rate)
    assert rb.Appetite.from_dict({"var95": "20M"}) == rb.Appetite(var95=20e6)
    assert rb.Control("EDR", cost_per_year="$250K", avoidance=0.5).cost_per_year == 250e3


def test_docstring_examples_run():
    import doctest

    from riskbudget import _parse

    outcome = doctest.testmod(_parse, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted >= 8 and outcome.failed == 0


def test_percent_never_rounds_a_chance_to_certainty_or_to_nothing():
    from riskbudget.formatting import percent

    assert percent(0.0512) == "5.1%" and percent(0.25, digits=0) == "25%"
    assert percent(0.0004) == "<0.1%" and percent(0.004, digits=0) == "<1%"
    assert percent(0.9996) == ">99.9%" and percent(0.996, digits=0) == ">99%" and percent(0.99996, digits=2) == ">99.99%"
    assert percent(0.9994) == "99.9%" and percent(0.994, digits=0) == "99%"  # below the half-unit: as rounded
    assert percent(0.0) == "0.0%" and percent(1.0, digits=0) == "100%" and percent(float("nan")) == "n/a"
