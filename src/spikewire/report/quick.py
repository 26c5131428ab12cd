"""A quick look at one simulation: statistics and a raster plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikewire.core.network import Network
from spikewire.core.spike_stats import isi_cv
from spikewire.simulate import simulate

__all__ = ["brunel_summary", "plot_raster"]


def plot_raster(spikes, path: Path, *, max_units: int = 200, t_window: float = 0.5,
                cell_type=None, title: str = "") -> Path:
    """Save a raster (first ``max_units`` units, first ``t_window`` s) and population rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    t1 = min(spikes.t_start + t_window, spikes.t_stop)
    for k in range(min(max_units, spikes.n_units)):
        t = spikes.train(k)
        t = t[t < t1]
        color = "C3" if cell_type is not None and cell_type[spikes.units[k]] == "I" else "C0"
        ax.plot(t, np.full(t.size, k), "|", ms=2, color=color)
    ax.set_ylabel("neuron")
    ax.set_title(title)
    bw = 1e-3
    edges = np.arange(spikes.t_start, t1 + bw, bw)
    hist, _ = np.histogram(spikes.times, edges)
    ax2.plot(edges[:-1], hist / bw / max(spikes.n_units, 1), lw=0.8, color="k")
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("rate (Hz)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def brunel_summary(net: Network, *, duration: float, dt: float, seed: int, out: Path) -> dict:
    """Simulate ``net``, print rates and CVs per population, save spikes and a raster."""
    import time

    t0 = time.perf_counter()
    spikes = simulate(net, duration, dt=dt, seed=seed, progress=True)
    wall = time.perf_counter() - t0
    rates = spikes.rates()
    cv = isi_cv(spikes)
    e = net.is_excitatory
    stats = {
        "rate_E_Hz": float(rates[e].mean()),
        "rate_I_Hz": float(rates[~e].mean()) if (~e).any() else float("nan"),
        "cv_isi_E": float(np.nanmean(cv[e])),
        "cv_isi_I": float(np.nanmean(cv[~e])) if (~e).any() else float("nan"),
        "n_spikes": spikes.n_spikes,
        "wall_s": wall,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spikes.save(out / "spikes.npz")
    raster = plot_raster(spikes, out / "raster.png", cell_type=net.cell_type, title=net.name)
    print(net)
    print(f"simulated {duration:g} s in {wall:.2f} s wall time")
    for k, v in stats.items():
        print(f"  {k:>10}: {v:.4g}" if isinstance(v, float) else f"  {k:>10}: {v}")
    print(f"spikes: {out / 'spikes.npz'}")
    print(f"raster: {raster}")
    return stats
