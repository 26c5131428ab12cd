"""Split-half (binomial thinning) refits of one preset's pooled spike counts, for a data-only
estimate of the fitted field's error. Usage: halves.py PRESET [counts_seed] [refine]"""
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spikewire.infer.lowrank import fit_lowrank
from spikewire.networks.lowrank import lowrank_preset
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

torch.set_num_threads(1)
PRESETS = ["quadstable", "bistable", "limit_cycle", "ring"]
OFFSET, GAIN, REP = 12.5, 7.5, 256
p = sys.argv[1]
cs = int(sys.argv[2]) if len(sys.argv) > 2 else 0
ref = int(sys.argv[3]) if len(sys.argv) > 3 else 150
nh = int(sys.argv[4]) if len(sys.argv) > 4 else 1
rng = np.random.default_rng(cs)
for q in PRESETS:          # the bench's draw order
    net = lowrank_preset(q, 1000, seed=0)
    phi = simulate_lowrank(net, initial_grid(6, 2.4), 50).activity()
    counts = rng.poisson(REP * (OFFSET + GAIN * phi) * net.dt).astype(float)
    if q == p:
        break
thin = np.random.default_rng([cs, 777])
c1 = thin.binomial(counts.astype(int), 0.5).astype(float)
halves = [c1, counts - c1]
out = Path(f"/tmp/lrquad3/fitcache/{p}_halves{nh}_ref{ref}_c{cs}.pkl")
fits, cpu = [], []
for h, c in enumerate(halves[:nh]):
    c0 = time.process_time()
    fits.append(fit_lowrank(c, 2, observation="poisson", rate_offset=OFFSET, rate_gain=GAIN,
                            bin_width=net.dt, exposure=REP // 2, n_restarts=1, n_iter=300,
                            refine_iter=ref, seed=0))
    cpu.append(time.process_time() - c0)
    print(p, "half", h, "cpu", round(cpu[-1], 1), "loss", fits[-1].loss, flush=True)
pickle.dump((fits, cpu), open(out, "wb"))
