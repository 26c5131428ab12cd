"""lowrank_flow with lrring20's distance-meeting options on the five null families (issue 14).

The options ``refine_iter=400, targets_from="units", coupling="ot", smooth=True`` (with
``smooth_gain``) and 6,000 flow iterations meet issue 14's distances on four presets
(benchmarks/results/lrring20.md); before they can become the default, the shift-surrogate
gate must stay closed on networks with no connections. One JSON line per family: CPU
seconds of the fit, default calls, the gate's p and decision.

Usage::

    python benchmarks/bench_lrflow_options_null.py [FAMILIES] [SEED] [SETTINGS] > rows.jsonl

``SETTINGS`` (a JSON object) replaces those options, e.g. ``'{"biases": "auto"}'`` for the
defaults plus the bias test (benchmarks/results/lrbias.md); each row then also carries the
estimate's bias decision.
"""
import json
import sys
import time

import numpy as np

import spikewire as sw
from spikewire.infer._null_families import FAMILIES, null_family

OPTIONS = dict(refine_iter=400, targets_from="units", coupling="ot", smooth=True,
               flow_iter=6000)


def main() -> None:
    fams = sys.argv[1].split(",") if len(sys.argv) > 1 else FAMILIES
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    settings = json.loads(sys.argv[3]) if len(sys.argv) > 3 else OPTIONS
    for fam in fams:
        st = null_family(fam, n_units=20, duration=120.0, seed=seed)
        t0 = time.process_time()
        est = sw.infer(st, "lowrank_flow", **settings)
        cpu = time.process_time() - t0
        off = ~np.eye(est.n_units, dtype=bool)
        tested = (est.pair_status == 0) & off
        gate = est.diagnostics.get("surrogate_gate", {})
        print(json.dumps(dict(
            family=fam, seed=seed, units=20, duration_s=120.0, cpu_s=round(cpu, 1),
            calls=int(est.adjacency()[off].sum()), n_tested=int(tested.sum()),
            fpr05=(float(np.mean(est.pvalues[tested] < 0.05))
                   if est.pvalues is not None else None),
            gate_p=gate.get("p"), gate_passed=gate.get("passed"), settings=settings,
            biases_used=est.diagnostics.get("biases", {}).get("used"),
            gate_bias_decisions=gate.get("bias_decisions"),
            gate_bias_unconverged=gate.get("bias_unconverged"))), flush=True)


if __name__ == "__main__":
    main()
