"""Declarative sweeps: a TOML spec → jobs (simulate → observe → infer → score) → a table.

Quick use::

    from spikewire.experiments import run_experiment, load_results, query
    summary = run_experiment("realism", out="out/realism")      # a built-in study by name
    df = load_results("out/realism")                            # one row per job
    query("out/realism", "select method, avg(auc) from results group by method")

Command line: ``spikewire run SPEC_OR_STUDY``, ``spikewire report RESULTS_DIR``.
"""

from spikewire.experiments.grid import Job, expand, stable_hash
from spikewire.experiments.job import ensure_simulation, run_job
from spikewire.experiments.runner import RunSummary, plan, run_experiment
from spikewire.experiments.spec import ExperimentSpec, SpecError, load_spec, parse_spec
from spikewire.experiments.store import ResultStore, load_results, query
from spikewire.experiments.studies import list_studies, study_path

__all__ = ["ExperimentSpec", "Job", "ResultStore", "RunSummary", "SpecError",
           "ensure_simulation", "expand", "list_studies", "load_results", "load_spec",
           "parse_spec", "plan", "query", "run_experiment", "run_job", "stable_hash",
           "study_path"]
