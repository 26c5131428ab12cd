"""What the false calls at the default are, by strength of the hidden paths (brief "indirect").

In a 1,000-neuron network with p = 0.08 every pair of recorded units has a two-step path
and a common presynaptic neuron (about 6 of each), so ``classify_links``' classes do not
separate mechanisms. This measures their *strength* instead, from the true excitatory
PSPs ``We`` (mV) of the whole network: common excitatory input ``Σ_k We_ik We_jk`` and
the two-step excitatory chain ``j → k → i``, ``Σ_k We_ik We_kj`` (mV²), for the false
calls of each method's default against the unlinked pairs it did not call (60 min fits
saved by ``bench_external20.py --save``), with the AUC of the strength for "called".

Usage (main venv)::

    python benchmarks/bench_indirect_strength.py NETWORK.npz FITS_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu


def main(network, fits, methods=("glmcc", "tspe", "partial_corr_shared_null='off'",
                                 "partial_corr_shared_null='auto'")):
    net = np.load(network)
    W = net["W_post_pre_mV"]
    We = np.where(W > 0, W, 0.0)
    common = We @ We.T                   # [i, j]: Σ_k We[i, k] We[j, k]
    chain = We @ We                      # [i, j]: Σ_k We[i, k] We[k, j], j -> k -> i
    for m in methods:
        fc, nc = [], []
        for f in sorted(Path(fits).glob(f"*T3600_{m}.npz")):
            d = np.load(f)
            idx, adj = d["idx"], d["adjacency"] != 0
            linked = W[np.ix_(idx, idx)] != 0
            off = ~np.eye(idx.size, dtype=bool)
            sel_f, sel_n = adj & ~linked & off, ~adj & ~linked & off
            c, h = common[np.ix_(idx, idx)], chain[np.ix_(idx, idx)]
            fc += list(zip(c[sel_f], h[sel_f], strict=True))
            nc += list(zip(c[sel_n], h[sel_n], strict=True))
        if not fc:
            continue
        fc, nc = np.array(fc), np.array(nc)
        for k, name in enumerate(("common excitatory input", "two-step excitatory chain")):
            auc = mannwhitneyu(fc[:, k], nc[:, k]).statistic / (len(fc) * len(nc))
            print(f"| {m} | {name} | {np.median(fc[:, k]):.2f} ({len(fc)}) | "
                  f"{np.median(nc[:, k]):.2f} ({len(nc)}) | {auc:.2f} |")


if __name__ == "__main__":
    print("| method (60 min, 5 subsets) | hidden path | false calls: median mV² (n) | "
          "unlinked, not called: median mV² (n) | AUC |")
    print("|---|---|---|---|---|")
    main(sys.argv[1], sys.argv[2])
