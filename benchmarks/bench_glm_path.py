"""GLM default-path speed (issue 18): the current code against a reference commit, same data.

Data: the coupled Poisson GLM of ``bench_glm.py`` (100 units, 1 ms bins, ~10 % of pairs
coupled, 80 % of presynaptic units excitatory, refractory history), cached as ``.npz``.
Each fit runs in a fresh subprocess (so both codes pay the same JIT/cache start and
nothing is shared), alternating reference and current code; each child reports its wall
and CPU (process) time of ``GLM(n_jobs=...).fit`` only, the L-BFGS iterations, the
chosen penalties, the held-out bits per spike and the link AUC (all, excitatory and
inhibitory presynaptic units), and writes its weights so the two codes' estimates can be
compared.

Usage::

    git archive <ref> src | tar -x -C /tmp/glm_ref     # the reference code
    python benchmarks/bench_glm_path.py --units 100 --duration 3600 --ref /tmp/glm_ref/src \
        --rounds 1 [--settings '{"penalties": [128]}'] [--json out.json]

``--child`` is internal (one fit in this process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(args):
    from sklearn.metrics import roc_auc_score

    import spikewire as sw
    from spikewire.infer.glm import GLM

    z = np.load(args.data)
    st = sw.SpikeTrains.from_times(z["t"], z["u"], t_stop=float(z["duration"]),
                                   units=np.arange(int(z["n_units"])), sort=False)
    mask, exc = z["mask"], z["exc"]
    settings = json.loads(args.settings)
    GLM(penalties=[1.0], max_iter=3).fit(st.select(np.arange(10)).restrict(0, 20.0))  # JIT
    c0, t0 = _cpu(), time.perf_counter()
    est = GLM(n_jobs=args.n_jobs, **settings).fit(st)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    off = ~np.eye(st.n_units, dtype=bool)
    score = np.abs(est.weights)
    auc = roc_auc_score(mask[off], score[off])
    # per presynaptic type: true links of that type against all absent pairs
    res = {}
    for name, cols in (("exc", exc), ("inh", ~exc)):
        sel = off & (~mask | cols[None, :])
        res[f"auc_{name}"] = float(roc_auc_score(mask[sel], score[sel]))
    d = est.diagnostics
    lam = np.array(list(d["chosen_penalty"].values()))
    np.savez(args.out, weights=est.weights, pvalues=est.pvalues, lam=lam,
             ll=np.array(list(d["heldout_loglik_per_target"].values())))
    res.update(wall_s=wall, cpu_s=cpu, auc=float(auc), iterations=int(d["iterations"]),
               n_penalties_fitted=int(np.asarray(d["penalty_grid"]).shape[1]),
               heldout_bits_per_spike=float(d["heldout_bits_per_spike"]),
               heldout_loglik=float(d["heldout_loglik"]), median_penalty=float(np.median(lam)))
    print("RESULT " + json.dumps(res), flush=True)


def make(args):
    sys.path.insert(0, str(HERE))
    from bench_glm import make_data

    path = Path(args.cache) / f"glm_data_{args.units}u_{args.duration:g}s.npz"
    if not path.exists():
        st, _, mask = make_data(args.units, args.duration)
        # make_data's excitatory draw (same generator order as bench_glm.make_data)
        rng = np.random.default_rng(0)
        rng.random((args.units, args.units))
        exc = rng.random(args.units) < 0.8
        np.savez(path, t=st.times, u=st.unit_ids, duration=args.duration,
                 n_units=args.units, mask=mask, exc=exc)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--ref", default=None, help="src folder of the reference code")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--settings", default="{}", help="GLM settings as JSON")
    ap.add_argument("--cache", default="/tmp")
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", choices=["ref", "new"], default=None)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--data")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        return child(args)
    data = make(args)
    new_src = str(HERE.parent / "src")
    codes = [("ref", args.ref), ("new", new_src)] if args.ref else [("new", new_src)]
    if args.only:
        codes = [c for c in codes if c[0] == args.only]
    rows = []
    for rnd in range(args.rounds):
        for label, src in codes:
            out = Path(args.cache) / f"glm_path_{label}.npz"
            env = dict(os.environ, PYTHONPATH=src)
            p = subprocess.run([sys.executable, __file__, "--child", "--data", str(data),
                                "--out", str(out), "--settings", args.settings,
                                "--n-jobs", str(args.n_jobs)], env=env, capture_output=True,
                               text=True)
            line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                print(p.stdout[-2000:], p.stderr[-4000:])
                raise SystemExit(f"{label} failed")
            r = json.loads(line[0][7:])
            r.update(code=label, round=rnd + 1)
            rows.append(r)
            print(json.dumps(r), flush=True)
    if len(codes) == 2:
        a = np.load(Path(args.cache) / "glm_path_ref.npz")
        b = np.load(Path(args.cache) / "glm_path_new.npz")
        off = ~np.eye(a["weights"].shape[0], dtype=bool)
        cmp = {"same_penalty_fraction": float(np.mean(np.isclose(a["lam"], b["lam"]))),
               "max_abs_weight_diff": float(np.nanmax(np.abs(a["weights"] - b["weights"])[off])),
               "weight_corr": float(np.corrcoef(a["weights"][off], b["weights"][off])[0, 1]),
               "max_heldout_ll_diff_nats": float(np.max(np.abs(a["ll"] - b["ll"])))}
        print(json.dumps(cmp))
        rows.append(cmp)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
