"""glmcc's presynaptic centring on the null families (issue 12; session 19, lead).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_glmcc_centre_null.py \
        poisson,heterogeneous,comodulated,updown,bursting 0,1,2 > OUT.jsonl

One glmcc fit per family × seed (40 units × 300 s) with ``presynaptic_centre=False``;
its p-values are then centred exactly as the default fit centres them (after
``check_null``). Printed per fit (JSON lines): tested pairs, the rate at α = 0.05 before
and after centring, the default calls before and after, and the number of shifted units.
Results: benchmarks/results/glmcc_centre_null.jsonl, summarised in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

import spikewire as sw
from spikewire.infer._centring import centre_presynaptic
from spikewire.infer._null_families import null_family


def main(families: list[str], seeds: list[int]) -> None:
    for fam in families:
        for seed in seeds:
            st = null_family(fam, n_units=40, duration=300, seed=seed)
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(st, "glmcc", presynaptic_centre=False)
                adj0 = est.adjacency()
                off = ~np.eye(est.n_units, dtype=bool)
                tested = (est.pair_status == 0) & off & np.isfinite(est.pvalues)
                raw = est.pvalues.copy()
                est.pvalues, est.scores, shift = centre_presynaptic(raw, est.pair_status == 0)
                adj1 = est.adjacency()
            rec = {"family": fam, "seed": seed, "tested": int(tested.sum()),
                   "fpr_raw": float(np.mean(raw[tested] < 0.05)),
                   "fpr_centred": float(np.mean(est.pvalues[tested] < 0.05)),
                   "calls_raw": int((adj0[off] != 0).sum()),
                   "calls_centred": int((adj1[off] != 0).sum()),
                   "shifted": int((shift > 0).sum()), "cpu": time.process_time() - t0}
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","), [int(s) for s in sys.argv[2].split(",")])
