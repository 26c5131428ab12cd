"""Declarative sweeps: a TOML spec → jobs (simulate → observe → infer → score) → a table.

Quick use::

    from spikewire.experiments import run_experiment, load_results, query
    summary = run_experiment("realism", out="out/realism")      # a built-in study by name
    df = load_results("out/realism")                            # one row per job
    query("out/realism", "select method, avg(auc) from results group by method")

Command line: ``spikewire run SPEC_OR_STUDY``, ``spikewire report RESULTS_DIR``.

Specs are data: ``plugins`` and ``module:function`` builders run code and need
``allow_code=True`` (``spikewire run --allow-code``). Every job is checked before anything
is simulated; cells whose method cannot analyse the observation are "not applicable".
"""

from spikewire.experiments.grid import BUILDERS, CodeNotAllowedError, Job, expand, stable_hash
from spikewire.experiments.job import ensure_simulation, run_job
from spikewire.experiments.runner import RunSummary, plan, run_experiment, with_overrides
from spikewire.experiments.spec import ExperimentSpec, SpecError, load_spec, parse_spec
from spikewire.experiments.store import ResultStore, RunLockedError, load_results, query
from spikewire.experiments.studies import list_studies, study_path

__all__ = ["BUILDERS", "CodeNotAllowedError", "ExperimentSpec", "Job", "ResultStore",
           "RunLockedError", "RunSummary", "SpecError", "ensure_simulation", "expand",
           "list_studies", "load_results", "load_spec", "parse_spec", "plan", "query",
           "run_experiment", "run_job", "stable_hash", "study_path", "with_overrides"]
