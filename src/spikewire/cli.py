"""The ``spikewire`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(
    name="spikewire",
    help="Recover synaptic weight matrices from spikes: build ground-truth networks, "
         "simulate, observe, infer, score, and run sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """spikewire: when can a synaptic weight matrix be recovered from spikes?

    Start with `spikewire demo` (the realism study, a few minutes), then
    `spikewire studies` and `spikewire run STUDY_OR_SPEC.toml`.
    """


def _fail(err: Exception) -> None:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _print_summary(out: Path) -> None:
    import pandas as pd

    from spikewire.experiments import load_results
    from spikewire.report import in_grid_order, summary_table
    from spikewire.report.html import report_metrics

    df = in_grid_order(load_results(out), out)
    if df.empty:
        typer.echo("no results")
        return
    table = summary_table(df, report_metrics(df, out)[1])
    with pd.option_context("display.max_rows", 200, "display.max_columns", 20,
                           "display.width", 160, "display.max_colwidth", 40):
        typer.echo(table.to_string(index=False))


def _parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` or ``"0:5"`` (0 to 4) → list of seeds."""
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = (int(x) for x in text.split(":", 1))
            seeds = list(range(lo, hi))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise typer.BadParameter(f"--seeds {text!r}: give non-negative integers as "
                                 "'0,1,2' or a range 'START:STOP' such as '0:5'")
    return seeds


def _print_plan(spec, jobs, out) -> None:
    sims = {j.sim_key for j in jobs if not j.not_applicable}
    na = [j for j in jobs if j.not_applicable]
    e = spec.experiment
    durations = sorted({float(j.network["duration"]) for j in jobs})
    typer.echo(f"plan for {e.name!r}: {len(jobs)} jobs ({len(jobs) - len(na)} to run, "
               f"{len(na)} not applicable), {len(sims)} simulations of "
               f"{', '.join(f'{d:g}' for d in durations)} s at dt = {e.dt:g} s, "
               f"seeds {list(e.seeds)}; results would go to {out}")
    for name in sorted({j.network["name"] for j in jobs}):
        n_neurons = next(j.network["params"].get("n_neurons", "?") for j in jobs
                         if j.network["name"] == name)
        typer.echo(f"  network {name}: n_neurons = {n_neurons}")
    for cell in sorted({(j.observation["name"], j.method["label"], j.not_applicable)
                        for j in na}):
        typer.echo(f"  not applicable: {cell[1]} on {cell[0]} ({cell[2]})")


def _run(spec, out, runner, workers, address, retry_failed, progress, report, *,
         allow_code=False, duration=None, seeds=None, dry_run=False) -> Path:
    from spikewire.experiments import SpecError, plan, run_experiment
    from spikewire.experiments.store import RunLockedError
    from spikewire.report import write_report

    errors = (SpecError, ValueError, TypeError, FileNotFoundError, PermissionError,
              MemoryError, ImportError, RunLockedError)
    if dry_run:
        try:
            messages: list[str] = []
            spec_, jobs, out_ = plan(spec, out, messages, allow_code=allow_code,
                                     duration=duration, seeds=seeds)
        except errors as err:
            _fail(err)
        for m in messages:
            typer.echo(f"note: {m}")
        _print_plan(spec_, jobs, out_)
        return out_
    try:
        summary = run_experiment(spec, out=out, runner=runner, n_workers=workers,
                                 address=address, retry_failed=retry_failed, progress=progress,
                                 allow_code=allow_code, duration=duration, seeds=seeds)
    except errors as err:
        _fail(err)
    for m in summary.messages:
        typer.echo(f"note: {m}")
    typer.echo(str(summary))
    _print_summary(summary.out)
    if report:
        path = write_report(summary.out)
        typer.echo(f"report: {path.resolve()}")
    if summary.failures:
        typer.secho(f"{len(summary.failures)} job(s) failed:", fg=typer.colors.RED, err=True)
        for f in summary.failures[:20]:
            typer.secho(f"  {f['network']} / {f['observation']} / {f['method']} / seed "
                        f"{f['seed']} ({f['stage']}): {f['error_type']}: {f['error_message']}",
                        err=True)
        if len(summary.failures) > 20:
            typer.secho(f"  ... and {len(summary.failures) - 20} more (see the error rows in "
                        f"{summary.out})", err=True)
        raise typer.Exit(code=1)
    return summary.out


@app.command()
def run(
    spec: str = typer.Argument(..., help="Spec file (TOML) or built-in study name "
                                         "(see `spikewire studies`)."),
    out: Path = typer.Option(None, help="Result folder (default: the spec's experiment.output "
                                        "or spikewire-results/<name>)."),
    runner: str = typer.Option(None, help="inprocess | local | address | slurm | pbs "
                                          "(default: the spec's runner.kind)."),
    workers: int = typer.Option(None, help="Workers of the local Dask cluster."),
    address: str = typer.Option(None, help="Address of a running Dask scheduler."),
    retry_failed: bool = typer.Option(True, help="Re-run jobs whose stored row is an error."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
    report: bool = typer.Option(True, help="Write report.html when done."),
    duration: float = typer.Option(None, help="Simulated time per network in s (overrides "
                                              "every duration of the spec)."),
    seeds: str = typer.Option(None, help="Seeds to run, '0,1,2' or 'START:STOP' (overrides "
                                         "experiment.seeds)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the spec and print the plan "
                                                          "(jobs, simulations) without "
                                                          "running or writing anything."),
    allow_code: bool = typer.Option(False, "--allow-code",
                                    help="Run code the spec names: experiment.plugins and "
                                         "'module:function' builders. A spec can then run "
                                         "any command as you; use only for specs you trust."),
) -> None:
    """Run a sweep. Finished jobs are skipped, so re-running resumes an interrupted sweep.

    Every job is checked before anything is simulated; cells whose method cannot analyse
    the observation are recorded as "not applicable". Exits with status 1 when jobs fail
    (their error messages are printed) and 2 when the spec is invalid or the result folder
    is in use by another run.
    """
    _run(spec, out, runner, workers, address, retry_failed, progress, report,
         allow_code=allow_code, duration=duration, seeds=_parse_seeds(seeds), dry_run=dry_run)


@app.command()
def demo(
    out: Path = typer.Option(Path("spikewire-results/demo"), help="Output folder."),
    workers: int = typer.Option(None, help="Dask workers (default: all cores)."),
    runner: str = typer.Option(None, help="inprocess | local (default: local Dask cluster)."),
) -> None:
    """Run the main job: a small realism study (a few minutes on 2 cores).

    Five variants of one balanced E/I network (a: no refractory period, one-step
    transmission; b: 2 ms refractory; c: 2 ms delays; d: both; e: smoothed rates of d),
    inferred by the fast methods and scored against the truth. Prints the summary table
    and writes the HTML report.
    """
    from spikewire.experiments import load_spec

    spec = load_spec("demo")
    typer.echo("spikewire demo: does biological realism make weights easier to infer?")
    typer.echo(spec.experiment.description.strip())
    _run(spec, out, runner, workers, None, True, True, True)


@app.command()
def report(
    results_dir: Path = typer.Argument(..., help="An experiment's result folder."),
    out: Path = typer.Option(None, help="HTML file (default: RESULTS_DIR/report.html)."),
) -> None:
    """Write a self-contained HTML report (figures embedded) for a result folder."""
    from spikewire.report import write_report

    try:
        path = write_report(results_dir, out)
    except FileNotFoundError as err:
        _fail(err)
    _print_summary(results_dir)
    typer.echo(f"report: {path.resolve()}")


@app.command()
def methods() -> None:
    """List the registered inference methods."""
    from spikewire.infer import list_methods

    items = list_methods()
    if not items:
        typer.echo("no inference methods registered")
    for name, desc in items.items():
        typer.echo(f"{name:>14}  {desc}")


@app.command()
def studies() -> None:
    """List the built-in studies (run one with `spikewire run NAME`)."""
    from spikewire.experiments import list_studies

    for name, desc in list_studies().items():
        typer.echo(f"{name:>12}  {desc}")


@app.command()
def simulate(
    n_neurons: int = typer.Option(2_500, help="Total neurons N (80 % excitatory)."),
    duration: float = typer.Option(1.0, help="Biological time to simulate, in s."),
    g: float = typer.Option(5.0, help="Relative inhibitory strength g."),
    eta: float = typer.Option(2.0, help="External rate as a multiple of nu_thr."),
    J: float = typer.Option(0.5, help="Excitatory PSP amplitude in mV."),
    delay: float = typer.Option(1.5, help="Transmission delay in ms."),
    dt: float = typer.Option(0.1, help="Time step in ms."),
    seed: int = typer.Option(0, help="Random seed (connectivity and simulation)."),
    out: Path = typer.Option(Path("spikewire-results/brunel"), help="Output folder."),
) -> None:
    """Simulate a Brunel (2000) E/I network; print statistics and save spikes and a raster."""
    from spikewire.networks import brunel
    from spikewire.report.quick import brunel_summary

    net = brunel(n_neurons, g=g, eta=eta, J=J, delay=delay * 1e-3, seed=seed)
    brunel_summary(net, duration=duration, dt=dt * 1e-3, seed=seed, out=out)


@app.command()
def infer(
    path: Path = typer.Argument(..., help="NWB file, Kilosort/phy folder, or spike table "
                                          "(CSV, TSV, Parquet, NPZ)."),
    method: str = typer.Option("ccg", help="Inference method (see `spikewire methods`)."),
    units: list[str] = typer.Option(None, help="Keep units with this quality label "
                                               "(repeatable), e.g. --units good."),
    interval: tuple[float, float] = typer.Option(None, help="Analysis window A B in s."),
    out: Path = typer.Option(None, help="Output folder (default: <name>-spikewire)."),
    set_: list[str] = typer.Option(None, "--set", help="Method setting NAME=VALUE "
                                                       "(repeatable)."),
    min_spikes: int = typer.Option(20, help="Drop units with fewer spikes."),
    alpha: float = typer.Option(None, help="Significance level (default: the method's)."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
    validate: bool = typer.Option(False, help="Also score the method(s) on a matched "
                                              "ground-truth surrogate (slow)."),
    compare: list[str] = typer.Option(None, help="Further method to score with --validate "
                                                 "(repeatable)."),
    validate_seeds: int = typer.Option(3, help="Surrogate seeds for --validate."),
) -> None:
    """Estimate the circuit of a recording: table, figure and summary in --out."""
    from spikewire.io.cli_infer import parse_settings, run_infer
    from spikewire.io.quality import DataError

    try:
        res = run_infer(path, method=method, labels=units or None, interval=interval,
                        out=out, settings=parse_settings(set_), min_spikes=min_spikes,
                        alpha=alpha, progress=progress, validate=validate,
                        validate_methods=compare or (),
                        validate_options={"n_seeds": validate_seeds})
    except (DataError, ValueError, TypeError, FileNotFoundError, ImportError) as err:
        _fail(err)
    typer.echo(res.summary)
    typer.echo(f"results: {res.out.resolve()}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
