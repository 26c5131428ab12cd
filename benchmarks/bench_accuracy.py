"""Accuracy of every available inference method on Brunel-type networks, plus elephant's TSPE.

    benchmarks/.venv-bench/bin/python benchmarks/bench_accuracy.py [--duration 3600]

Main network: Brunel (2000) model A with N = 1,000 (800 E, 200 I), ε = 0.1 (C_E = 80),
J = 1.25 mV (≈ 0.1·1000/C_E, so recurrent input matters), g = 8, η = 0.7 (≈ 7 Hz,
asynchronous irregular), 2 ms absolute refractory period and per-synapse delays from
neuron positions in a 1 mm square (0.5 ms + distance / 0.3 m/s, i.e. 0.5–5.2 ms), simulated
at dt = 0.1 ms. 100 neurons chosen at random are recorded. Realism variants (shorter,
``--variant-duration``): (a) no refractory period and one-step transmission, (b) 2 ms
refractory, (c) 3 ms delays, (d) both. Every registered method runs with its default
settings (each in a subprocess with a time limit) and is scored with
:func:`spikewire.score.score`; elephant's ``total_spiking_probability_edges`` (TSPE, 1 ms
bins, its defaults) runs on the same recorded spikes. TSPE has no significance threshold,
so its threshold metrics are reported only at the oracle count (the top-k links by
evidence with k = number of true links), which is given for every method as ``mcc@k``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import time
import traceback
from pathlib import Path

import numpy as np

import spikewire as sw
from spikewire.infer import Estimate, label_cell_types
from spikewire.score import score

CACHE = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE", "/tmp/spikewire_bench_accuracy"))


def build(variant: str, n: int, seed: int):
    refr = 0.0 if variant == "a" or variant == "c" else 2e-3
    delay = None if variant in ("a", "b") else 3e-3
    c_e = max(int(round(0.1 * 0.8 * n)), 1)
    net = sw.networks.brunel(n, epsilon=0.1, g=8.0, eta=0.7, J=0.1 * 1000 / c_e,
                             tau_ref=refr, delay=delay if variant != "main" else 1.5e-3,
                             seed=seed)
    if variant == "main":
        rng = np.random.default_rng(seed + 100)
        pos = rng.uniform(0.0, 1.0, (n, 2))
        d = sw.networks.delays_from_positions(net.weights, pos, velocity=300.0, min_delay=5e-4)
        net = net.replace(delays=d, positions=pos)
    return net


def simulate_cached(net, variant, duration, seed):
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{variant}_n{net.n_neurons}_T{duration:g}_s{seed}.npz"
    if path.exists():
        return sw.SpikeTrains.load(path), 0.0
    t0 = time.perf_counter()
    st = sw.simulate(net, duration, seed=seed)
    el = time.perf_counter() - t0
    st.save(path)
    return st, el


def _worker(q, method, rec, net):
    name, _, opts = method.partition(":")
    kwargs = {}
    for item in filter(None, opts.split(";")):
        k, v = item.split("=")
        kwargs[k] = json.loads(v)
    try:
        t0 = time.perf_counter()
        est = sw.infer(rec, name, **kwargs)
        el = time.perf_counter() - t0
        q.put(("ok", el, est_scores(net, est)))
    except Exception as err:  # noqa: BLE001 - reported in the table
        q.put(("error", 0.0, f"{type(err).__name__}: {err}"[:300] + traceback.format_exc()[-300:]))


def run_method(method, rec, net, timeout):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(q, method, rec, net))
    p.start()
    try:
        status, el, res = q.get(timeout=timeout)
    except Exception:  # noqa: BLE001 - queue.Empty on timeout
        p.terminate()
        p.join()
        return {"error": f"timeout after {timeout} s"}, timeout
    p.join()
    if status != "ok":
        return {"error": res}, el
    return res, el


def mcc_at_k(net, est: Estimate) -> float:
    """MCC when the top-k pairs by evidence are called links, k = number of true links."""
    ti = est.true_index
    W = net.weights.tocsr()[ti][:, ti].toarray()
    off = ~np.eye(est.n_units, dtype=bool)
    ev = est.scores if est.scores is not None else np.abs(est.weights)
    ev = np.where(est.pair_status == 0, ev, -np.inf)[off]
    y = W[off] != 0
    k = int(y.sum())
    if k == 0:
        return math.nan
    pred = np.zeros(y.size, bool)
    pred[np.argsort(-ev, kind="stable")[:k]] = True
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(y, pred))


def est_scores(net, est):
    s = score(net, est)
    s["mcc@k"] = mcc_at_k(net, est)
    return s


def tspe_estimate(rec, duration_limit):
    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.functional_connectivity import total_spiking_probability_edges

    st = rec.spikes
    t_stop = min(st.t_stop, st.t_start + duration_limit)
    trains = [neo.SpikeTrain(t[t < t_stop] * pq.s, t_start=st.t_start * pq.s, t_stop=t_stop * pq.s)
              for t in st]
    t0 = time.perf_counter()
    binned = BinnedSpikeTrain(trains, bin_size=1 * pq.ms)
    conn, delay = total_spiking_probability_edges(binned)
    el = time.perf_counter() - t0
    conn = np.nan_to_num(np.asarray(conn, float))
    np.fill_diagonal(conn, 0.0)
    return conn, np.asarray(delay), el, t_stop - st.t_start


def tspe_scores(net, rec, conn):
    ti = rec.true_index
    W = net.weights.tocsr()[ti][:, ti].toarray()
    n = conn.shape[0]
    off = ~np.eye(n, dtype=bool)
    k = int((W[off] != 0).sum())
    thr = np.sort(np.abs(conn[off]))[::-1][k - 1] if k else np.inf
    top = (np.abs(conn) >= thr) & off
    adj = (np.sign(conn) * top).astype(int)
    ct, conf = label_cell_types(adj, weights=conn)
    # evidence |TSPE|, links = top-k (oracle count) expressed as a p-value-free estimate
    est = Estimate(weights=np.where(top, conn, 0.0), method="tspe", settings={},
                   units=rec.spikes.units, scores=np.abs(conn), cell_type=ct,
                   cell_type_confidence=conf, true_index=ti)
    s = score(net, est)
    # AUCs must rank all pairs by |TSPE|, not only the top-k: recompute with full weights
    est_all = Estimate(weights=conn, method="tspe", settings={}, units=rec.spikes.units,
                       scores=np.abs(conn), cell_type=ct, cell_type_confidence=conf,
                       true_index=ti)
    s_all = score(net, est_all)
    for key in ("auc", "ap", "auc_exc", "auc_inh", "weight_corr", "sign_accuracy_all"):
        s[key] = s_all[key]
    s["mcc@k"] = s["mcc"]
    return s


COLUMNS = ["auc", "ap", "mcc", "mcc@k", "auc_exc", "auc_inh", "mcc_exc", "mcc_inh",
           "sign_accuracy", "ei_accuracy", "ei_accuracy_E", "ei_accuracy_I", "ei_labelled",
           "frac_direct", "delay_mae"]


def fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.3f}"
    return str(v)


def table(rows):
    head = "| network | method | time (s) | " + " | ".join(COLUMNS) + " |"
    sep = "|" + "---|" * (len(COLUMNS) + 3)
    lines = [head, sep]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['network']} | {r['method']} | {r['time_s']:.0f} | "
                         f"error: {r['error'].splitlines()[0][:120]} |")
            continue
        vals = []
        for c in COLUMNS:
            v = r.get(c, math.nan)
            vals.append(f"{v * 1e3:.2f} ms" if c == "delay_mae" and not math.isnan(v)
                         else fmt(v))
        lines.append(f"| {r['network']} | {r['method']} | {r['time_s']:.1f} | "
                     + " | ".join(vals) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--recorded", type=int, default=100)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--variant-duration", type=float, default=600.0)
    ap.add_argument("--variants", default="a,b,c,d")
    ap.add_argument("--methods", default=None,
                    help="comma list (default: all registered, plus ccg without the causal test); "
                         "settings as name:key=json;key=json, e.g. ccg:causal_test=true")
    ap.add_argument("--timeout", type=float, default=900.0, help="per method, s")
    ap.add_argument("--tspe-duration", type=float, default=1800.0,
                    help="TSPE densifies the binned trains; cap the data it gets (s)")
    ap.add_argument("--skip-main", action="store_true", help="only the variants")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="/tmp/bench_accuracy.json")
    args = ap.parse_args()

    if args.methods:
        methods = args.methods.split(",")
    else:
        methods = [m for m in sw.list_methods() if m != "learned"]
        methods.insert(methods.index("ccg") + 1, "ccg:causal_test=false")
    rng = np.random.default_rng(args.seed + 7)
    observed = np.sort(rng.choice(args.n, args.recorded, replace=False))
    rows = []
    nets = [] if args.skip_main else [("main", args.duration)]
    nets += [(v, args.variant_duration) for v in args.variants.split(",") if v]
    for variant, duration in nets:
        net = build(variant, args.n, args.seed)
        st, t_sim = simulate_cached(net, variant, duration, args.seed)
        rates = st.rates()
        rec = sw.Recording(spikes=st.select(observed), true_index=observed)
        info = (f"{variant}: {net!r}; {duration:g} s simulated in {t_sim:.0f} s; rate "
                f"{rates.mean():.2f} Hz (E {rates[net.is_excitatory].mean():.2f}, I "
                f"{rates[~net.is_excitatory].mean():.2f}); observed {rec.n_units}")
        print(info, flush=True)
        for m in methods:
            res, el = run_method(m, rec, net, args.timeout)
            row = {"network": variant, "method": m, "time_s": el, "duration_s": duration,
                   "sim_info": info, **res}
            rows.append(row)
            print(f"  {m}: {el:.1f} s " + (res.get("error", "")[:200] if "error" in res else
                  " ".join(f"{c}={fmt(res.get(c, math.nan))}" for c in COLUMNS)), flush=True)
        try:
            conn, _, el, used = tspe_estimate(rec, args.tspe_duration)
            res = tspe_scores(net, rec, conn)
            rows.append({"network": variant, "method": f"TSPE (elephant, {used:g} s)",
                         "time_s": el, "duration_s": used, **res})
            print(f"  TSPE: {el:.1f} s " + " ".join(f"{c}={fmt(res.get(c, math.nan))}"
                                                     for c in COLUMNS), flush=True)
        except Exception as err:  # noqa: BLE001
            rows.append({"network": variant, "method": "TSPE (elephant)", "time_s": 0.0,
                         "error": f"{type(err).__name__}: {err}"})
            print(f"  TSPE failed: {err}", flush=True)
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "args": vars(args),
                       "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, f,
                      indent=1, default=float)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
