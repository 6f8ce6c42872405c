"""The command line: table and JSON output, exit codes, errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from riskbudget.cli import main


def test_simulate_json_has_the_documented_shape(example_register_path, capsys, example_register):
    assert main(["simulate", str(example_register_path), "--years", "3000", "--seed", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["years"] == 3000 and out["seed"] == 5 and out["method"] == "aggregate"
    assert list(out["scenarios"]) == list(example_register.names)
    keys = {"ale", "ale_se", "p_loss", "p50", "p90", "p95", "p99", "var95", "tvar95"}
    assert set(out["total"]) == keys
    assert all(set(v) == keys for v in out["scenarios"].values())
    assert out["total"]["ale"] == pytest.approx(sum(v["ale"] for v in out["scenarios"].values()))


def test_simulate_json_equals_the_library(example_register_path, capsys):
    import riskbudget as rb

    main(["simulate", str(example_register_path), "--years", "2000", "--seed", "8", "--json", "--method", "lef_x_lm"])
    out = json.loads(capsys.readouterr().out)
    ref = rb.simulate(rb.read_register(example_register_path), years=2000, seed=8, method="lef_x_lm").summary()
    assert out["total"]["tvar95"] == pytest.approx(ref.loc["Total", "tvar95"], rel=1e-12)


def test_simulate_table_is_readable(example_register_path, capsys):
    assert main(["simulate", str(example_register_path), "--years", "2000", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "ALE" in out and "VaR95" in out and "Total" in out and "$" in out


def test_bad_file_exits_non_zero_with_message_on_stderr(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,frequency,loss_low,loss_high\nA,1,500,50\n")
    proc = subprocess.run(
        [sys.executable, "-m", "riskbudget", "simulate", str(bad), "--years", "100"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "line 2, scenario 'A', column loss_high: value 50 must exceed loss_low (500)" in proc.stderr


def test_usage_errors_exit_with_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "x.csv", "--years", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_non_integer_years_and_bad_time_limits_are_usage_errors(capsys):
    for argv in (["simulate", "x.csv", "--years", "2.5e0"], ["simulate", "x.csv", "--years", "2.5"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "must be a whole number, such as 100000, 1e5, 100_000 or 100,000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["optimize", "--register", "r.csv", "--controls", "c.csv", "--projects", "p.csv", "--budget", "1e6",
              "--time-limit", "-1"])
    assert "must be more than 0 seconds" in capsys.readouterr().err
    assert main(["simulate", "data/example/register.csv", "--years", "1e3", "--seed", "1", "--json"]) == 0


def test_writing_over_a_directory_is_a_clean_error(tmp_path, example_register_path, capsys):
    target = tmp_path / "adir"
    target.mkdir()
    code = main(["report", str(example_register_path), "--years", "500", "--seed", "1", "--out", str(target)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("riskbudget report: error:") and "Traceback" not in err


def test_optimize_and_frontier_read_the_boards_appetite_file(capsys):
    """--appetite FILE gives the same appetite report reads; --appetite-* flags replace its limits of that kind."""
    import riskbudget as rb

    files = ["--register", "data/example/register.csv", "--controls", "data/example/controls.csv",
             "--projects", "data/example/projects.csv", "--budget", "6e6", "--years", "1000", "--seed", "3"]
    # margins (--confidence) and infeasible shares are tested elsewhere; here only the file is read
    assert main(["optimize", *files, "--appetite", "data/example/appetite.yaml", "--confidence", "0.5",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    appetite = rb.read_appetite("data/example/appetite.yaml")
    assert {row["limit"] for row in plan["appetite"]} == {lim.label for lim in appetite.limits}
    assert main(["frontier", *files, "--points", "3", "--appetite-mode", "check",
                 "--appetite", "data/example/appetite.yaml", "--appetite-var95", "19e6", "--json"]) == 0
    captured = capsys.readouterr()
    assert "replaces the file's VaR95 limit" in captured.err
    assert json.loads(captured.out)["points"]
    assert main(["optimize", *files, "--appetite", "no/such/file.yaml"]) == 1
    assert "no/such/file.yaml" in capsys.readouterr().err


def test_simulate_by_owner_in_json_and_text(capsys):
    assert main(["simulate", "data/example/register.csv", "--years", "2000", "--seed", "4", "--by", "owner",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    groups = doc["by"]["groups"]
    total = groups.pop("Total")
    assert sum(g["tvar95_contribution"] for g in groups.values()) == pytest.approx(total["tvar95_contribution"])
    assert total["tvar95_contribution"] == pytest.approx(doc["total"]["tvar95"])
    assert main(["simulate", "data/example/register.csv", "--years", "2000", "--seed", "4", "--by", "owner"]) == 0
    assert "Risk by owner (Euler contributions: the groups add up to the total)" in capsys.readouterr().out


def test_simulate_with_insurance_reports_retained_losses_and_the_insurers_share(capsys):
    args = ["simulate", "data/example/register.csv", "--years", "2000", "--seed", "4", "--insurance",
            "data/example/insurance.csv", "--policy", "Cyber primary $10M xs $5M", "--policy",
            "Cyber excess $15M xs $15M", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    plain = main(["simulate", "data/example/register.csv", "--years", "2000", "--seed", "4", "--json"]) == 0
    base = json.loads(capsys.readouterr().out)
    assert plain and doc["insurance"]["premium"] == 1_740_000 + 480_000
    assert doc["insurance"]["ground_up_ale"] == pytest.approx(base["total"]["ale"], rel=1e-9)
    assert doc["total"]["ale"] == pytest.approx(base["total"]["ale"] - doc["insurance"]["recovered_mean"], rel=1e-9)
    # all four layers at once overlap: a clear error naming them
    assert main(["simulate", "data/example/register.csv", "--years", "200", "--insurance",
                 "data/example/insurance.csv"]) == 1
    assert "must not overlap" in capsys.readouterr().err
    assert main(["simulate", "data/example/register.csv", "--years", "200", "--insurance",
                 "data/example/insurance.csv", "--policy", "Nope"]) == 1
    assert "--policy ['Nope']: not in" in capsys.readouterr().err


def test_optimize_states_margins_robustness_reasons_and_an_honest_status(capsys):
    """optimize plans with margins for fresh years by default, and says why each item, in text and JSON."""
    files = ["--register", "data/example/register.csv", "--controls", "data/example/controls.csv",
             "--projects", "data/example/projects.csv", "--budget", "6e6", "--years", "2000", "--seed", "7",
             "--appetite-tvar95", "26e6"]
    assert main(["optimize", *files, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["confidence"] == 0.95 and set(doc["margins"]) == {"TVaR95"} and doc["margins"]["TVaR95"] > 0
    assert doc["robustness"]["limits"][0]["limit"] == "TVaR95" and 0 <= doc["robustness"]["limits"][0]["chance"] <= 1
    names = {r["item"] for r in doc["reasons"]}
    funded = set(doc["funded_controls"]) | set(doc["funded_projects"])
    assert funded <= names and all(r["reason"] for r in doc["reasons"])
    assert doc["status"] in ("optimal", "feasible_gap") and doc["status_text"]
    assert main(["optimize", *files]) == 0
    text = capsys.readouterr().out
    assert "Why each candidate is funded or not" in text and "Margins aiming at a 95.0% chance" in text
    assert "chance it holds on another fresh sample" in text and doc["status_text"] in text
    with pytest.raises(SystemExit):
        main(["optimize", *files, "--confidence", "1.5"])
    assert "must lie in [0.5, 1)" in capsys.readouterr().err


def test_report_says_when_an_ale_is_imprecise(tmp_path, example_register_path, capsys):
    assert main(["report", str(example_register_path), "--years", "500", "--seed", "1",
                 "--out", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "Note: the portfolio's ALE is imprecise: its Monte Carlo standard error is" in out
    assert main(["report", str(example_register_path), "--years", "50000", "--seed", "1",
                 "--out", str(tmp_path / "r2.html")]) == 0
    assert "portfolio's ALE is imprecise" not in capsys.readouterr().out


def test_optimize_over_a_horizon_prints_npv_and_the_year_table(capsys):
    files = ["--register", "data/example/register.csv", "--controls", "data/example/controls.csv",
             "--projects", "data/example/projects.csv", "--budget", "6e6", "--years", "1000", "--seed", "7"]
    assert main(["optimize", *files, "--horizon", "3", "--discount-rate", "8%", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["horizon"] == 3 and doc["discount_rate"] == pytest.approx(0.08)
    assert [row["year"] for row in doc["by_year"]] == [1, 2, 3]
    expected = sum(row["net"] / 1.08 ** row["year"] for row in doc["by_year"])
    assert doc["npv"] == pytest.approx(expected, rel=1e-9)
    assert main(["optimize", *files, "--horizon", "2"]) == 0
    assert "net present value" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["optimize", *files, "--horizon", "3", "--discount-rate", "-100%"])
    assert "must be above -100%" in capsys.readouterr().err


def test_report_with_a_saved_plan_writes_the_decision_pack(tmp_path, capsys):
    files = ["--register", "data/example/register.csv", "--controls", "data/example/controls.csv",
             "--projects", "data/example/projects.csv", "--budget", "6e6", "--years", "1000", "--seed", "7"]
    saved = tmp_path / "plan.json"
    assert main(["optimize", *files, "--save", str(saved), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pack = tmp_path / "pack.html"
    assert main(["report", "--plan", str(saved), "--frontier-points", "0", "--out", str(pack)]) == 0
    assert "wrote the decision pack" in capsys.readouterr().out
    html = pack.read_text(encoding="utf-8")
    for name in doc["funded_controls"] + doc["funded_projects"]:
        assert name.replace("&", "&amp;") in html or name in html
    assert "<script" not in html.lower()
    assert main(["report", "--plan", str(saved), "--years", "500", "--out", str(pack)]) == 1
    assert "--years does not go with --plan" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--out", str(pack)])
    assert exit_.value.code == 2 and "give a register file, or --plan" in capsys.readouterr().err
