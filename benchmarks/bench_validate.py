"""Does the matched surrogate of ``spikewire infer --validate`` predict how well a method does?

For recordings from three network families with shared slow co-modulation (LIF Brunel,
Izhikevich, AdEx), each observed as 100 of 400 neurons for 60 s on a 10 kHz grid:

1. the recording's statistics (rates, ISI CV, count correlations, synchrony);
2. the **actual** AUC / precision / recall of each method on the recording, scored against
   the recording's own ground truth;
3. the **predicted** ones from :func:`spikewire.io.validate.validate` for each surrogate
   of ``--matches``: ``uncalibrated`` (full match of rates, CV, correlations, synchrony,
   ``calibrate=False``), ``calibrated`` (the same plus the calibration of the synapses to
   the recording's detection count: the default), ``rates`` (rates only), each over
   ``--seeds`` surrogate seeds, with their wall times.

Usage: ``nice python benchmarks/bench_validate.py --family brunel`` (one family per run,
each a few minutes on the loaded 2-core machine); ``--out`` writes the JSON record;
``--table A.json B.json ...`` prints the markdown tables of benchmarks/results/validate.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from spikewire import Recording, simulate
from spikewire.core.seeds import rng as seeded_rng
from spikewire.io.validate import recording_statistics, validate
from spikewire.networks import adex, brunel, izhikevich
from spikewire.score import score
from spikewire.simulate.comodulation import slow_comodulation

N, N_REC, DURATION, RES = 400, 100, 60.0, 1e-4

#: family -> (builder, shared-gain CV): gains chosen for count correlations of ~0.05-0.3
FAMILIES = {
    "brunel": (lambda: brunel(N, epsilon=0.1, g=5.0, eta=1.2, J=0.5, delay=1.5e-3, seed=21),
               0.05),
    "izhikevich": (lambda: izhikevich(N, out_degree=20, seed=22), 0.6),
    "adex": (lambda: adex(N, seed=23), 0.1),
}


def recording_of(family: str, seed: int = 7):
    build, cv = FAMILIES[family]
    net = build()
    mod = slow_comodulation(DURATION, cv=cv, n_neurons=N, seed=seeded_rng(seed, "inputs"))
    st = simulate(net, DURATION, seed=seed, modulation=mod)
    chosen = np.sort(seeded_rng(seed, "observation").choice(N, N_REC, replace=False))
    obs = st.select(chosen)
    t = np.floor(obs.grouped_times / RES + 1e-9) * RES          # the recording's 10 kHz grid
    from spikewire.core.spiketrains import SpikeTrains

    obs = SpikeTrains(np.minimum(t, np.nextafter(obs.t_stop, 0)), obs.indptr, obs.units,
                      obs.t_start, obs.t_stop)
    return net, Recording(spikes=obs, true_index=chosen, sampling_rate=1 / RES)


#: the surrogates compared: name -> validate() options
MATCHES = {"rates": {"match": "rates", "calibrate": False},
           "uncalibrated": {"match": "full", "calibrate": False},
           "calibrated": {"match": "full", "calibrate": True},
           # records of the earlier version of this script (full match, no calibration)
           "full": {"match": "full", "calibrate": False}}


def table(paths) -> str:
    """Markdown tables (prediction vs actual; statistics; time) from the JSON records."""
    recs = []
    for p in paths:
        with open(p) as fh:
            recs.append(json.load(fh))
    names = [m for m in MATCHES if any(m in r for r in recs)]
    lines = ["| family | method | actual AUC / precision / recall | "
             + " | ".join(f"predicted, {m} (mean ± sd)" for m in names)
             + " | significant links: recording / " + " / ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names) + "---|"]
    stats = ["| family | statistic | recording | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    times = ["| family | simulate recording | "
             + " | ".join(f"validate {m}: wall (of which fitting)" for m in names)
             + " | fitted (seed 0, last match) |", "|---|---|" + "---|" * len(names) + "---|"]
    for r in recs:
        have = [m for m in names if m in r]
        for meth, a in r["actual"].items():
            cells = [f"{a['auc']:.3f} / {a['precision']:.3f} / {a['recall']:.3f}"]
            rows = {}
            for m in names:
                if m not in r:
                    cells.append("–")
                    continue
                rows[m] = next(t for t in r[m]["table"] if t["method"] == meth)
                cell = " / ".join(f"{rows[m][k + '_mean']:.3f} ± {rows[m][k + '_sd']:.3f}"
                                  for k in ("auc", "precision", "recall"))
                if rows[m].get("auc_uncalibrated") is not None and \
                        np.isfinite(rows[m]["auc_uncalibrated"]):
                    cell += (f" (seed 0 before: AUC {rows[m]['auc_uncalibrated']:.3f}, "
                             f"recall {rows[m]['recall_uncalibrated']:.3f})")
                cells.append(cell)
            first = rows[have[0]]
            cells.append(f"{first['n_significant_recording']:.0f} / " + " / ".join(
                f"{rows[m]['n_significant_mean']:.1f}" if m in rows else "–" for m in names))
            lines.append(f"| {r['family']} | {meth} | " + " | ".join(cells) + " |")
        for k, st in enumerate(r[have[0]]["statistics"]):
            cell = []
            for m in names:
                if m not in r:
                    cell.append("–")
                    continue
                x = r[m]["statistics"][k]
                cell.append(f"{x['surrogate_mean']:.4g} ± {x['surrogate_sd']:.2g}"
                            + (" (poor)" if x["poor"] else ""))
            stats.append(f"| {r['family']} | {st['index']} | {st['recording']:.4g} | "
                         + " | ".join(cell) + " |")
        par = r[have[-1]]["params"]
        cal = r[have[-1]].get("calibration") or {}
        pts = ", ".join(f"k {k:.2f}: {n}" for k, n in cal.get("points", []))
        times.append(f"| {r['family']} | {r['simulate_recording_s']:.0f} s | "
                     + " | ".join(f"{r[m]['wall_s']:.0f} s ({r[m]['fit_s']:.0f} s)"
                                  if m in r else "–" for m in names)
                     + f" | shared gain CV {par['comod_cv']:.3g} "
                     f"(loadings CV {par.get('loading_cv') or 0:.2g}), private "
                     f"{par['private_cv']:.3g}, refractory {par['tau_ref'] * 1e3:.3g} ms, "
                     f"J x{par['j_scale']:.2f}"
                     + (f", PSP scale {par.get('psp_scale') or 1:.2f} ({cal.get('method')} "
                        f"links {cal.get('target')} in the recording; {pts})" if pts else "")
                     + " |")
    return "\n\n".join("\n".join(t) for t in (lines, stats, times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", nargs="+", help="print the markdown tables of these JSON "
                    "records and exit")
    ap.add_argument("--family", choices=sorted(FAMILIES))
    ap.add_argument("--methods", default="ccg,tspe")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=None)
    ap.add_argument("--matches", default="uncalibrated,calibrated",
                    help="comma list of surrogates to compare: " + ", ".join(MATCHES))
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return
    if args.family is None:
        ap.error("--family is required (or --table)")
    warnings.simplefilter("ignore")
    methods = args.methods.split(",")
    from spikewire.infer import get_method_class

    t0 = time.perf_counter()
    net, rec = recording_of(args.family)
    t_rec = time.perf_counter() - t0
    stats = recording_statistics(rec.spikes).as_dict()
    actual = {}
    for m in methods:
        est = get_method_class(m)().fit(rec)
        sc = score(net, est)
        actual[m] = {k: float(sc[k]) for k in ("auc", "precision", "recall")}
    out = {"family": args.family, "n": N, "n_recorded": N_REC, "duration": DURATION,
           "simulate_recording_s": t_rec, "recording_stats": stats, "actual": actual}
    for match in args.matches.split(","):
        t0 = time.perf_counter()
        v = validate(rec, methods, n_seeds=args.seeds, hidden_fraction=1 - N_REC / N,
                     max_duration=DURATION, seed=1, **MATCHES[match])
        out[match] = {"wall_s": time.perf_counter() - t0, "fit_s": v.match["fit_seconds"],
                      "table": v.table.reset_index().to_dict("records"),
                      "statistics": v.statistics.reset_index().to_dict("records"),
                      "warnings": v.warnings, "calibration": v.match.get("calibration"),
                      "params": {k: v.match.get(k) for k in ("comod_cv", "loading_cv",
                                                             "private_cv", "tau_ref",
                                                             "j_scale", "psp_scale")}}
        print(v.summary(), flush=True)
        if args.out:        # after each match, so that a long run keeps what it has
            with open(args.out, "w") as fh:
                json.dump(out, fh, indent=1, default=float)
    print(json.dumps({"actual": actual, "recording": stats}, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
