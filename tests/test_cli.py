"""The command line: help, listing, run → report, bad input."""

import json
import re
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent / "experiments"))
from sweep_fixtures import write_tiny  # noqa: E402

from spikewire.cli import app  # noqa: E402

runner = CliRunner()


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("demo", "run", "report", "methods", "studies", "simulate"):
        assert cmd in res.output


def test_studies_and_methods():
    res = runner.invoke(app, ["studies"])
    assert res.exit_code == 0
    for name in ("realism", "resolution", "hidden", "recurrence", "motifs", "states",
                 "stimulation"):
        assert name in res.output
    res = runner.invoke(app, ["methods"])
    assert res.exit_code == 0 and "ccg" in res.output


def test_run_then_report(tmp_path):
    spec = write_tiny(tmp_path, seeds=(0,))
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(spec), "--out", str(out), "--runner", "inprocess",
                              "--no-progress", "--allow-code"])
    assert res.exit_code == 0, res.output
    assert "6 jobs: 0 already done, 6 ok, 0 failed" in res.output
    assert "auc" in res.output and "report:" in res.output
    assert (out / "report.html").exists()
    res = runner.invoke(app, ["run", str(spec), "--out", str(out), "--runner", "inprocess",
                              "--no-progress", "--no-report", "--allow-code"])
    assert "6 already done" in res.output
    res = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0 and (tmp_path / "r.html").exists()


def test_bad_spec_is_a_clean_error(tmp_path):
    spec = write_tiny(tmp_path)
    spec.write_text(spec.read_text().replace("eta = 1.2", "etta = 1.2"))
    res = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "o"), "--allow-code"])
    assert res.exit_code == 2
    assert "has no parameter(s) ['etta']" in res.output
    assert not (tmp_path / "o").exists()  # nothing started
    res = runner.invoke(app, ["run", "no_such_study"])
    assert res.exit_code == 2 and "built-in studies" in res.output


def test_failed_jobs_print_their_message_and_exit_non_zero(tmp_path):
    spec = write_tiny(tmp_path, seeds=(0,), fail=True)
    res = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "o"), "--runner",
                              "inprocess", "--no-progress", "--no-report", "--allow-code"])
    assert res.exit_code == 1, res.output
    assert "6 job(s) failed" in res.output
    assert "RuntimeError: asked to fail" in res.output  # the message, not only the type


def test_spec_code_needs_allow_code(tmp_path):
    spec = write_tiny(tmp_path, seeds=(0,))
    res = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 2 and "--allow-code" in res.output
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["run", "--help"])
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", res.output).split())  # the help's boxes unwrapped
    assert "--allow-code" in text and "A spec can then run any command as you" in text


def test_dry_run_plans_without_writing(tmp_path):
    spec = write_tiny(tmp_path)
    out = tmp_path / "o"
    res = runner.invoke(app, ["run", str(spec), "--out", str(out), "--dry-run", "--allow-code",
                              "--seeds", "0:3", "--duration", "0.5"])
    assert res.exit_code == 0, res.output
    # 3 networks x 1 observation x 2 methods x 3 seeds; 3 x 3 simulations of 0.5 s
    assert "18 jobs (18 to run, 0 not applicable), 9 simulations of 0.5 s" in res.output
    assert "seeds [0, 1, 2]" in res.output
    assert not out.exists()


def test_duration_and_seeds_size_the_run(tmp_path):
    spec = write_tiny(tmp_path, bin_widths=(1e-3,))
    out = tmp_path / "o"
    res = runner.invoke(app, ["run", str(spec), "--out", str(out), "--runner", "inprocess",
                              "--no-progress", "--no-report", "--allow-code", "--seeds", "5",
                              "--duration", "0.5"])
    assert res.exit_code == 0, res.output
    from spikewire.experiments import load_results

    df = load_results(out)
    assert len(df) == 3 and set(df["seed"]) == {5}
    assert {json.loads(c)["network"]["duration"] for c in df["spec"]} == {0.5}
    assert json.loads((out / "meta.json").read_text())["overrides"] == {"duration": 0.5,
                                                                        "seeds": [5]}
    res = runner.invoke(app, ["run", str(spec), "--seeds", "a,b", "--dry-run"])
    assert res.exit_code == 2 and "--seeds" in res.output
