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


def _run(spec, out, runner, workers, address, retry_failed, progress, report) -> Path:
    from spikewire.experiments import SpecError, run_experiment
    from spikewire.report import write_report

    try:
        summary = run_experiment(spec, out=out, runner=runner, n_workers=workers,
                                 address=address, retry_failed=retry_failed, progress=progress)
    except (SpecError, ValueError, TypeError, FileNotFoundError, PermissionError,
            MemoryError, ImportError) as err:
        _fail(err)
    for m in summary.messages:
        typer.echo(f"note: {m}")
    typer.echo(str(summary))
    _print_summary(summary.out)
    if report:
        path = write_report(summary.out)
        typer.echo(f"report: {path.resolve()}")
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
) -> None:
    """Run a sweep. Finished jobs are skipped, so re-running resumes an interrupted sweep."""
    _run(spec, out, runner, workers, address, retry_failed, progress, report)


@app.command()
def demo(
    out: Path = typer.Option(Path("spikewire-results/demo"), help="Output folder."),
    workers: int = typer.Option(None, help="Dask workers (default: all cores)."),
    runner: str = typer.Option(None, help="inprocess | local (default: local Dask cluster)."),
) -> None:
    """Run the main job: a small realism study (a few minutes on 2 cores).

    Five variants of one balanced E/I network (a: no refractory period, one-step
    transmission; b: 2 ms refractory; c: 3 ms delays; d: both; e: smoothed rates of d),
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
