"""Where do the links sit when dale_glm's ``acausal="auto"`` gate switches? (issue 15;
benchmarks/results/dale27.md).

The mirror filter's test covers only the short scan group (lags ≈ 1–2 ms at 1 ms bins
with 6 functions), so it suits sparsely recorded networks with short delays and drops
the test of slower links. This script fits the default (causal) ``dale_glm`` on
recordings where the mirror helps (Brunel N = 100, 1.5 ms delays, 10 of 100 recorded)
and where it hurts (a 1,000-neuron Brunel network with delays 0.5–≈5 ms from positions,
40 recorded), and saves per pair what the causal fit sees (its unscaled scan contrasts,
its filters, p-values) beside the truth (link, sign, delay), for offline gate rules.

Usage::

    python benchmarks/bench_dale_gate.py collect --out DIR [--cache DIR] [--which NAME ...]
        [--settings JSON] [--constants JSON] [--tag SUFFIX]
    python benchmarks/bench_dale_gate.py rules DIR
    python benchmarks/bench_dale_gate.py delays DIR
    python benchmarks/bench_dale_gate.py evidence DIR

``collect`` fits ``dale_glm`` (``--settings``: its settings, e.g. ``'{"acausal":
"mirror"}'``; ``--constants``: module constants such as ``MIRROR_INHIBITION_SCAN``) and
writes one ``NAME{SUFFIX}.npz`` per recording; ``rules`` prints candidate gate statistics
of the causal fits; ``delays`` prints every fit's calls and recall by true delay and the
lag-group z of E and I links; ``evidence`` re-makes every saved mirror fit's decision
under the mirror evidence rules (benchmarks/results/dale28.md). Simulations are cached
in ``$SPIKEWIRE_BENCH_CACHE``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import spikewire as sw
from spikewire.infer.dale_glm import DaleGLM

sys.path.insert(0, str(Path(__file__).parent))


def _brunel100(seed: int, hidden: float, cache: str | None):
    from bench_dale90 import network, recording
    net = network(seed)
    return net, recording(seed, hidden, cache=cache)


def _network_rec(family: str, n: int, n_rec: int, duration: float, seed: int):
    from bench_calibration import simulate_cached
    net, st = simulate_cached(family, n, duration, seed)
    rng = np.random.default_rng(seed + 7)
    idx = np.sort(rng.choice(n, n_rec, replace=False))
    return net, sw.Recording.from_spikes(st.select(idx), true_index=idx)


def _study_rec(family: str, n_rec: int, duration: float = 600.0, seed: int = 0):
    """``n_rec`` of the calibration study's 100 recorded units of ``family`` (drawn with
    ``default_rng(seed + 7)``), through the study's own builders and observation."""
    from bench_calibration import study_recordings
    for _fam, net, rec, _t in study_recordings([family], duration):
        rng = np.random.default_rng(seed + 7)
        keep = np.sort(rng.choice(rec.n_units, n_rec, replace=False))
        sub = rec.spikes.select(keep)
        return net, sw.Recording.from_spikes(sub, true_index=np.asarray(rec.true_index)[keep])
    raise SystemExit(f"the calibration study has no family {family!r}")


RECORDINGS = {
    **{f"b100_s{s}_h90": (lambda c, s=s: _brunel100(s, 0.9, c)) for s in range(3, 9)},
    **{f"b100_s{s}_h50": (lambda c, s=s: _brunel100(s, 0.5, c)) for s in (3, 4)},
    "b1000_r40_s0": lambda c: _network_rec("brunel", 1000, 40, 600.0, 0),
    "b1000_r40_s1": lambda c: _network_rec("brunel", 1000, 40, 600.0, 1),
    "b1000_r20_s0": lambda c: _network_rec("brunel", 1000, 20, 600.0, 0),
    "izr_r40_s0": lambda c: _network_rec("izh_random", 1000, 40, 600.0, 0),
    **{f"study_{f}_r40": (lambda c, f=f: _study_rec(f, 40))
       for f in ("adex", "scale_free_lif", "brunel_states", "brunel")},
}


def true_delays(net, idx: np.ndarray) -> np.ndarray:
    """(post, pre) delays in s among the recorded neurons (NaN where no link)."""
    W = net.weights.tocsr()
    out = np.full((idx.size, idx.size), np.nan)
    if net.delays is None:
        return out
    d = np.broadcast_to(np.asarray(net.delays, dtype=float), W.data.shape)
    pos = {int(t): k for k, t in enumerate(idx)}
    for a, i in enumerate(idx):
        lo, hi = W.indptr[i], W.indptr[i + 1]
        for j, dd in zip(W.indices[lo:hi], d[lo:hi], strict=True):
            b = pos.get(int(j))
            if b is not None:
                out[a, b] = dd
    return out


def collect(out: Path, cache: str | None, names: list[str], settings: dict | None = None,
            tag: str = "") -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or {}
    for name in names:
        t0 = time.process_time()
        net, rec = RECORDINGS[name](cache)
        idx = np.asarray(rec.true_index)
        W = net.dense_weights()[np.ix_(idx, idx)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = DaleGLM(**settings).fit(rec)
            sc = sw.score(net, est)
        d = est.diagnostics
        adj = est.adjacency()
        extra = {}
        if d["acausal"] == "mirror":
            extra = {k: d[k] for k in ("mirror_scan_z", "mirror_scan_corr",
                                       "mirror_scan_events", "wald_z_causal")}
        else:
            extra = {"scan_z_contrasts": d["scan_z_contrasts"]}
        np.savez_compressed(
            out / f"{name}{tag}.npz", acausal=d["acausal"], **extra, W=W,
            true_delay=true_delays(net, idx),
            pvalues=est.pvalues, weights=est.weights, delays=est.delays,
            adjacency=adj, mcc=float(sc["mcc"]), auc=float(sc["auc"]),
            cell_type=np.asarray(est.cell_type, dtype=str),
            true_type=np.asarray(net.cell_type)[idx].astype(str),
            filters=d["filters"],
            synchrony_shift=d["synchrony_shift"],
            bin_width=float(est.settings.get("bin_width", np.nan)),
            pair_status=est.pair_status)
        print(f"{name}{tag} ({d['acausal']}): {idx.size} units, shift {d['synchrony_shift']:.2f}, "
              f"{int((adj != 0).sum())} calls / {int((W != 0).sum())} links, "
              f"AUC {sc['auc']:.3f} MCC {sc['mcc']:.3f}, "
              f"{time.process_time() - t0:.0f} CPU-s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--out", required=True)
    c.add_argument("--cache", default=None)
    c.add_argument("--which", nargs="*", default=list(RECORDINGS))
    c.add_argument("--settings", default="{}", help="dale_glm settings as JSON")
    c.add_argument("--tag", default="", help="suffix of the saved files' names")
    c.add_argument("--constants", default="{}",
                   help="dale_glm module constants to set, as JSON (e.g. "
                        "'{\"MIRROR_INHIBITION_SCAN\": \"all\"}')")
    r = sub.add_parser("rules")
    r.add_argument("folder")
    dl = sub.add_parser("delays")
    dl.add_argument("folder")
    ev = sub.add_parser("evidence")
    ev.add_argument("folder")
    args = ap.parse_args()
    if args.mode == "collect":
        dg = sys.modules[DaleGLM.__module__]
        for key, value in json.loads(args.constants).items():
            if not hasattr(dg, key):
                raise SystemExit(f"dale_glm has no constant {key}")
            setattr(dg, key, value)
        collect(Path(args.out), args.cache, args.which, json.loads(args.settings), args.tag)
    elif args.mode == "rules":
        from bench_dale_gate_rules import print_rules
        print_rules(Path(args.folder))
    elif args.mode == "evidence":
        from bench_dale_gate_rules import print_evidence
        print_evidence(Path(args.folder))
    else:
        from bench_dale_gate_rules import print_by_delay
        print_by_delay(Path(args.folder))


if __name__ == "__main__":
    main()
