"""The ``spikewire`` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="spikewire",
    help="Recover synaptic weight matrices from spikes: build ground-truth networks, "
         "simulate, observe, infer, score, and run sweeps.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """spikewire: when can a synaptic weight matrix be recovered from spikes?"""


@app.command()
def demo(
    out: Path = typer.Option(Path("spikewire-results/demo"), help="Output folder."),
) -> None:
    """Run the main job: a small end-to-end study (currently: a Brunel network)."""
    from spikewire.networks import brunel
    from spikewire.report.quick import brunel_summary

    net = brunel(2_500, J=0.5, seed=0)
    brunel_summary(net, duration=1.0, dt=1e-4, seed=0, out=out)


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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
