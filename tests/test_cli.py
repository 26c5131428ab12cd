"""The command line: help, listing, run → report, bad input."""

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
