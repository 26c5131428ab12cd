"""Confusion matrix of the low-rank distance from presets run in separate processes (quad4).

``bench_lowrank_spikes.py --save-draws DIR`` writes each preset's flow draws, fitted units'
m and posterior-mean n; this builds the matrix of :func:`bench_lowrank_spikes.confusion`
from them (the same estimator and numbers as a four-preset run of the bench: the flows and
draws are seeded, so a preset run alone gives the same draws).

Usage: python benchmarks/bench_lowrank_quad4_confusion.py DIR [--repeats 256]
       [--counts-seed 0] [--n 1000] [--seed 0] [--out c.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_lowrank_spikes import PRESETS, confusion

from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import sinkhorn_matrix


def row(draws_dir: Path, p: str, tag: str, draws: list, truths: dict) -> np.ndarray:
    """Preset p's draws against every true network, (K, P); cached in ``draws_dir``."""
    f = draws_dir / f"row_{p}_{tag}.npy"
    if f.exists():
        return np.load(f)
    r = sinkhorn_matrix(draws, [truths[q].m for q in truths])
    np.save(f, r)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("draws_dir")
    ap.add_argument("--repeats", type=int, default=256)
    ap.add_argument("--counts-seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="seed of the true networks")
    ap.add_argument("--presets", nargs="+", default=PRESETS, choices=PRESETS)
    ap.add_argument("--out", default=None)
    ap.add_argument("--row", default=None, choices=PRESETS,
                    help="only compute (and cache) this preset's row, to spread the work "
                         "over processes; the assembly then reuses it")
    args = ap.parse_args()
    keep, K = {}, None
    for p in [args.row] if args.row else args.presets:
        f = Path(args.draws_dir) / f"{p}_r{args.repeats}_c{args.counts_seed}.npz"
        if not f.exists():
            raise SystemExit(f"{f} is missing: run bench_lowrank_spikes.py --presets {p} "
                             f"--save-draws {args.draws_dir} first")
        z = np.load(f)
        keep[p] = {"m_flow": z["m_flow"], "m_draws": list(z["m_draws"]),
                   "m_units": z["m_units"], "n_post": z["n_post"],
                   "flow_sinkhorn": float(z["flow_sinkhorn"])}
        if K not in (None, len(keep[p]["m_draws"])):
            raise SystemExit("the presets' files hold different numbers of draws")
        K = len(keep[p]["m_draws"])
    truths = {p: lowrank_preset(p, args.n, seed=args.seed) for p in args.presets}
    tag = f"r{args.repeats}_c{args.counts_seed}_" + "-".join(args.presets)
    if args.row:
        row(Path(args.draws_dir), args.row, tag, keep[args.row]["m_draws"], truths)
        return
    S_all = np.stack([row(Path(args.draws_dir), p, tag, keep[p]["m_draws"], truths)
                      for p in args.presets])
    c = confusion(keep, truths, args.presets, K, S_all=S_all)
    print("confusion / max", round(float(np.max(c["raw"])), 3), "\n",
          np.array2string(np.array(c["normalised"]), precision=3), "\nSE\n",
          np.array2string(np.array(c["normalised_se"]), precision=4),
          "\ndiagonal - per-preset", c["diag_minus_per_preset_max"], "cpu", c["cpu_s"])
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"args": vars(args), "confusion": c}, fh, indent=1)


if __name__ == "__main__":
    main()
