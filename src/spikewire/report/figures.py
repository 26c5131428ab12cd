"""Matplotlib figures of the experiment report (each returns a Figure; the caller closes it)."""

from __future__ import annotations

import numpy as np

__all__ = ["raster_figure", "ccg_figure", "weights_figure", "roc_pr_figure",
           "factor_figure", "cell_type_order", "ring_profile_figure"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def raster_figure(spikes, cell_type=None, *, title: str = "", max_units: int = 150,
                  t_window: float = 1.0, skip: float = 1.0):
    """Raster of up to ``max_units`` units over ``t_window`` s, and the population rate.

    With ``cell_type`` (per true neuron) the units are drawn from both types in the
    network's proportion (at least one fifth I when there are I units), E below I. The
    window starts ``skip`` s after the start (the start-up transient of a simulation) when
    the recording is long enough. The population rate (Hz, 1 ms bins) is over all units.
    """
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7.5, 4.2), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    t0 = spikes.t_start + (skip if spikes.duration >= skip + 2 * t_window else 0.0)
    t1 = min(t0 + t_window, spikes.t_stop)
    pos = np.arange(spikes.n_units)
    ct = (np.asarray(cell_type)[spikes.units] if cell_type is not None
          else np.full(spikes.n_units, "E"))
    n_i = min(int((ct != "E").sum()), max(max_units // 5, int(max_units * (ct != "E").mean())))
    shown = np.r_[pos[ct == "E"][:max_units - n_i], pos[ct != "E"][:n_i]]
    for color, want in (("C0", "E"), ("C3", "I")):
        xs, ys = [], []
        for row, k in enumerate(shown):
            if ct[k] != want:
                continue
            t = spikes.train(k)
            t = t[(t >= t0) & (t < t1)]
            xs.append(t)
            ys.append(np.full(t.size, row))
        if xs:
            ax.plot(np.concatenate(xs), np.concatenate(ys), "|", ms=2.5, color=color,
                    label=want)
    ax.set_ylabel("neuron (E below I)" if cell_type is not None else "unit")
    ax.set_title(title, fontsize=10)
    if cell_type is not None:
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    bw = 1e-3
    edges = np.arange(t0, t1 + bw / 2, bw)
    times = spikes.times
    hist, _ = np.histogram(times[(times >= t0) & (times < t1)], edges)
    ax2.plot(edges[:-1], hist / bw / max(spikes.n_units, 1), lw=0.7, color="k")
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("rate (Hz)")
    fig.tight_layout()
    return fig


def ccg_figure(spikes, weights_dense: np.ndarray, cell_type, *, title: str = "",
               max_units: int = 200, delay: float | None = None, bin_width: float = 1e-3,
               max_lag: float = 0.02):
    """Example cross-correlograms: strongest E link, strongest I link, an unconnected pair.

    Correlograms come from :func:`spikewire.infer.ccg.cross_correlograms` (the lag
    convention of the CCG method: post − pre). ``bin_width`` (s) must not be finer than the
    spike times' resolution; the y axis is the coincidence rate in Hz (counts per bin per
    presynaptic spike per second of bin), so pairs of different rates compare.
    """
    from spikewire.infer.ccg import cross_correlograms

    plt = _plt()
    pos = np.arange(spikes.n_units)
    if cell_type is not None:
        # candidates from both cell types (Brunel networks list every E neuron first)
        ct = np.asarray(cell_type)[spikes.units]
        n_i = min(int((ct != "E").sum()), max_units // 5)
        pos = np.sort(np.r_[pos[ct == "E"][:max_units - n_i], pos[ct != "E"][:n_i]])
    pos = pos[:max_units]
    spikes = spikes.select(pos)
    n = spikes.n_units
    units = spikes.units
    w = weights_dense[np.ix_(units, units)]
    rates = spikes.counts().astype(float)
    score = np.abs(w) * np.sqrt(np.outer(rates, rates))  # prefer links between active cells
    picks = []
    if (w > 0).any():
        i, j = np.unravel_index(np.argmax(np.where(w > 0, score, -np.inf)), w.shape)
        picks.append(("E link", i, j, w[i, j]))
    if (w < 0).any():
        i, j = np.unravel_index(np.argmax(np.where(w < 0, score, -np.inf)), w.shape)
        picks.append(("I link", i, j, w[i, j]))
    none = (w == 0) & (w.T == 0) & ~np.eye(n, dtype=bool)
    if none.any():
        act = np.where(none, np.outer(rates, rates), -1)
        i, j = np.unravel_index(np.argmax(act), w.shape)
        picks.append(("no link", i, j, 0.0))
    fig, axes = plt.subplots(1, max(len(picks), 1), figsize=(3.0 * max(len(picks), 1), 2.7),
                             squeeze=False)
    for ax, (label, i, j, wij) in zip(axes[0], picks, strict=False):
        pair = spikes.select([i, j])
        ccg, lags = cross_correlograms(pair, bin_width=bin_width, max_lag=max_lag,
                                       pairs=[(pair.units[0], pair.units[1])])
        n_pre = max(int(pair.counts()[1]), 1)
        ax.bar(lags * 1e3, ccg[0, 1] / n_pre / bin_width, width=bin_width * 1e3, color="0.3")
        if delay is not None and label != "no link":
            ax.axvline(delay * 1e3, color="C1", lw=0.8, ls="--")
        ax.set_title(f"{label}: {units[j]}→{units[i]} ({wij:+.2g} mV)", fontsize=8)
        ax.set_xlabel("lag post − pre (ms)")
    axes[0][0].set_ylabel("post rate given pre spike (Hz)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def cell_type_order(cell_type) -> tuple[np.ndarray, int]:
    """Unit order with E units first, then I (stable), and the number of E units."""
    ct = np.asarray(cell_type).astype(str)
    order = np.argsort(ct != "E", kind="stable")
    return order, int((ct == "E").sum())


def _matrix(ax, fig, m: np.ndarray, n_e: int, title: str, unit: str, robust: bool):
    lim = (np.nanpercentile(np.abs(m[m != 0]), 99) if robust and (m != 0).any()
           else np.nanmax(np.abs(m))) or 1.0
    # RdBu: positive (excitatory) blue, negative (inhibitory) red, as in the scatter
    im = ax.imshow(m, cmap="RdBu", vmin=-lim, vmax=lim, interpolation="nearest",
                   aspect="auto")
    n = m.shape[0]
    if 0 < n_e < n:
        for f in (ax.axhline, ax.axvline):
            f(n_e - 0.5, color="k", lw=0.6)
        ax.set_xticks([n_e / 2 - 0.5, (n_e + n) / 2 - 0.5], ["E", "I"])
        ax.set_yticks([n_e / 2 - 0.5, (n_e + n) / 2 - 0.5], ["E", "I"])
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("presynaptic unit", fontsize=8)
    ax.set_ylabel("postsynaptic unit", fontsize=8)
    ax.set_title(title, fontsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(unit, fontsize=7)
    cb.ax.tick_params(labelsize=7)


def weights_figure(items: list[tuple[str, dict]], *, max_matrix: int = 400):
    """Per method: inferred vs true weight scatter, and true / inferred matrices.

    ``items`` is a list of ``(method label, artifact arrays)``; an artifact may carry
    ``weight_unit`` (the estimate's unit, a 0-d string array). Matrices are post × pre with
    units ordered by true cell type (E then I, the block boundary drawn) so Dale's-law
    columns show, and each has a colourbar with its unit. The inferred matrix's colour
    range is its 99th percentile of ``|w|`` (a few extreme pairs would grey out the rest).
    """
    plt = _plt()
    rows = len(items)
    fig, axes = plt.subplots(rows, 3, figsize=(11.0, 3.3 * rows), squeeze=False)
    for r, (label, art) in enumerate(items):
        tw = art["true_weights"]
        ew = art["est_weights"]
        unit = str(art["weight_unit"]) if "weight_unit" in art else "method's units"
        n = tw.shape[0]
        off = ~np.eye(n, dtype=bool)
        t, e = tw[off], ew[off]
        ax = axes[r][0]
        rng = np.random.default_rng(0)
        sub = rng.choice(t.size, size=min(t.size, 8_000), replace=False)
        jitter = (np.ptp(t) or 1.0) * 0.02 * rng.standard_normal(sub.size)
        col = np.where(t[sub] > 0, "C0", np.where(t[sub] < 0, "C3", "0.6"))
        ax.scatter(t[sub] + jitter, e[sub], s=2, c=col, alpha=0.5, linewidths=0)
        ax.set_xlabel("true weight (mV, jittered)", fontsize=8)
        ax.set_ylabel(f"{label}: inferred\n({unit})", fontsize=7)
        ct = art.get("true_cell_type")
        order, n_e = cell_type_order(ct if ct is not None else np.full(n, "E"))
        order = order[:max_matrix]
        n_e = min(n_e, order.size)
        _matrix(axes[r][1], fig, tw[np.ix_(order, order)], n_e,
                f"true (post × pre, {order.size} units)", "PSP (mV)", robust=False)
        em = ew[np.ix_(order, order)].astype(float)
        np.fill_diagonal(em, 0)
        _matrix(axes[r][2], fig, em, n_e, f"{label} (post × pre)", unit, robust=True)
    fig.tight_layout()
    return fig


def _ranking(art: dict) -> np.ndarray:
    if "est_scores" in art:
        return np.abs(art["est_scores"])
    return np.abs(art["est_weights"])


def roc_pr_figure(items: list[tuple[str, dict]], *, title: str = ""):
    """ROC and precision-recall curves of link existence, one line per method."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.3))
    base = None
    for k, (label, art) in enumerate(items):
        tw = art["true_weights"]
        n = tw.shape[0]
        off = ~np.eye(n, dtype=bool)
        y = (tw != 0)[off]
        s = np.nan_to_num(_ranking(art)[off])
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, s)
        prec, rec, _ = precision_recall_curve(y, s)
        a1.plot(fpr, tpr, color=f"C{k % 10}", lw=1.2, label=f"{label} ({auc(fpr, tpr):.2f})")
        a2.plot(rec, prec, color=f"C{k % 10}", lw=1.2, label=label)
        base = y.mean()
    a1.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    if base is not None:
        a2.axhline(base, color="0.7", lw=0.8, ls="--")
    a1.set_xlabel("false positive rate (fraction)")
    a1.set_ylabel("true positive rate (fraction)")
    a1.set_title("ROC (AUC)", fontsize=9)
    a2.set_xlabel("recall (fraction)")
    a2.set_ylabel("precision (fraction)")
    a2.set_title("precision–recall", fontsize=9)
    if a1.get_legend_handles_labels()[0]:
        a1.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def factor_figure(df, factor: str, metrics: list[str], *, method_col: str = "method",
                  note: str = ""):
    """Each metric against ``factor``: one line per method, mean ± s.d. over seeds.

    Other factors are averaged first within each seed, so the error bar is the spread
    across seeds only. Axes carry units (:func:`spikewire.report.findings.factor_label`);
    dashed grey lines mark the chance level of scores that have one.
    """
    import pandas as pd

    from spikewire.report.findings import CHANCE, factor_label, metric_label

    plt = _plt()
    ncol = min(3, len(metrics))
    nrow = int(np.ceil(len(metrics) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.7 * ncol, 3.0 * nrow), squeeze=False)
    values = list(pd.unique(df[factor].dropna()))
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)
    if numeric:
        values = sorted(values)
    pos = {v: k for k, v in enumerate(values)}
    methods = list(pd.unique(df[method_col]))
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        for k, m in enumerate(methods):
            d = df[(df[method_col] == m) & df[metric].notna()]
            if d.empty:
                continue
            per_seed = d.groupby([factor, "seed"])[metric].mean().reset_index()
            g = per_seed.groupby(factor)[metric].agg(["mean", "std", "count"]).reset_index()
            x = g[factor].to_numpy() if numeric else np.array([pos[v] for v in g[factor]])
            order = np.argsort(x)
            ax.errorbar(x[order] + (0 if numeric else (k - len(methods) / 2) * 0.04),
                        g["mean"].to_numpy()[order], yerr=g["std"].fillna(0).to_numpy()[order],
                        marker="o", ms=3, lw=1, capsize=2, color=f"C{k % 10}", label=str(m))
        if metric in CHANCE:
            ax.axhline(CHANCE[metric], color="0.6", lw=0.8, ls="--")
        ax.set_ylabel(metric_label(metric), fontsize=8)
        ax.set_xlabel(factor_label(factor), fontsize=8)
        if not numeric:
            ax.set_xticks(range(len(values)))
            ax.set_xticklabels([str(v) for v in values], rotation=30, ha="right", fontsize=7)
        elif len(values) > 2 and min(values) > 0 and max(values) / min(values) > 50:
            ax.set_xscale("log")
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    if note:
        fig.suptitle(note, fontsize=8)
    fig.tight_layout()
    return fig


def ring_profile_figure(items: list[tuple[str, dict]], n_ring: int, *, title: str = ""):
    """Inferred weight profile against the true one on a ring network, one panel per method.

    ``items`` is a list of ``(method label, artifact arrays)`` with ``true_weights`` and
    ``est_weights`` (post × pre over the recorded units) and ``true_index`` (each recorded
    unit's position on the ring, ``0 .. n_ring − 1``). Each profile is the mean weight by
    ring offset (rows aligned to a common phase,
    :func:`spikewire.score.ring.aligned_profile`), the inferred one multiplied by the scale
    c minimising ``‖c·w̄ − w_true‖₁`` (:func:`spikewire.score.ring.l1_scale`, as in the
    relative profile error Δ; the scale may be negative for methods whose weights are
    defined up to sign). The true profile is drawn over the offsets with a recorded pair.
    Side troughs (values of the sign opposite to the true peak far from offset 0) are the
    co-activation artifact. Offsets are in neurons, ``−n_ring/2 .. n_ring/2``; weights in
    the truth's unit.
    """
    from spikewire.score.ring import aligned_profile, l1_scale

    if not isinstance(n_ring, int | np.integer) or n_ring < 3:
        raise ValueError(f"n_ring={n_ring!r} must be an integer >= 3 (neurons on the ring)")
    plt = _plt()
    k = len(items)
    ncol = min(k, 5) or 1
    nrow = max(1, int(np.ceil(k / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.7 * ncol, 2.5 * nrow), squeeze=False,
                             sharey=True)
    off = np.arange(n_ring)
    d = np.where(off <= n_ring // 2, off, off - n_ring)
    order = np.argsort(d, kind="stable")
    for ax, (label, art) in zip(axes.ravel(), items, strict=False):
        pos = np.asarray(art["true_index"], dtype=np.int64)
        tw = np.asarray(art["true_weights"], dtype=float)
        ew = np.asarray(art["est_weights"], dtype=float)
        if pos.min() < 0 or pos.max() >= n_ring:
            raise ValueError(f"{label}: true_index must hold ring positions in [0, {n_ring})")
        have = np.zeros(n_ring, dtype=bool)
        have[(pos[None, :] - pos[:, None])[~np.eye(pos.size, dtype=bool)] % n_ring] = True
        have[0] = False
        true = aligned_profile(tw, pos, n_ring)
        est = aligned_profile(ew, pos, n_ring)
        c = l1_scale(est[have], true[have])
        x = d[order]
        keep = have[order]
        ax.axhline(0, color="0.8", lw=0.6)
        ax.plot(x[keep], true[order][keep], "k-", lw=1.4, label="true")
        ax.plot(x[keep], c * est[order][keep], ".-", color="C3", ms=3, lw=0.8,
                label=f"{label} × c")
        ax.set_title(f"{label} (c = {c:.3g})", fontsize=8)
        ax.set_xlabel("ring offset (neurons)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("weight (truth's unit)", fontsize=8)
    axes[0][0].legend(fontsize=6)
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
