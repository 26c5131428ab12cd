"""Are the low-rank biases needed? The bias test of ``biases="auto"`` (issue 14, helpers
lrbias, session 22, and lrauto, session 23: low counts, ``--min-count``, ``--net-seed``,
``--flow-seed``; results in ``benchmarks/results/lrbias.md`` and ``lrauto.md``).

Data as in ``bench_lowrank_spikes.py``: N units, Poisson counts at 5–20 Hz (rate = 12.5 +
7.5 φ Hz, 10-ms bins), ``repeats`` repeats of a 6 × 6 grid of initial latents (±2.4), 50
steps each, pooled (``exposure = repeats``).

``null``   false-alarm rate: :func:`spikewire.infer.lowrank.bias_test` on networks with
    d = 0 (the five presets, network seeds ``--seeds``; counts seed = network seed;
    ``--repeats 1 4 16``: 0.125–2 spikes per unit and bin, where the test pools bins and
    calibrates; ``--min-count`` overrides its threshold).
``power``  detection: the same presets with biases added, d ~ N(0, sd²) per unit
    (``--sds``) or a shared offset d = c (``--shared``).
``data``   the test on the data sets of ``fit`` (and bistable with biases ``--sds``).
``fit PRESET``  the front end with ``biases="auto"`` (300 Adam + 400 L-BFGS, one restart,
    as the cached fits of ``/tmp/lrring/fitcache``), session 20's flows
    (``targets_from="units"``, ``coupling="ot"``, ``smooth=True``, 6,000 iterations,
    seed 1) and the scoring of ``bench_lowrank_close_truthN.py flow`` (100 networks of
    1,000 units, seeds 300–399, dynamics summaries) plus the distance Sinkhorn(m) +
    MSE(n, E[n|m]) of ``bench_lowrank_spikes.py``. ``--bias-sd S`` adds d ~ N(0, S²) to
    the data network (seed ``--bias-seed``), the network "with real biases".
    ``--net-seed S``: another data network (its counts from a generator of their own);
    ``--flow-seed``: the flows' seed (1); also records the Hill index of |m| (truth,
    fitted units, 1,000 flow samples).

Usage: python benchmarks/bench_lrbias.py null --n 200 --seeds 1 2 3 4 5 --out null.json
       python benchmarks/bench_lrbias.py power --n 200 --sds 0.01 0.03 0.3 --out power.json
       python benchmarks/bench_lrbias.py fit ring --counts-seed 0 --out-dir D
       python benchmarks/bench_lrbias.py null --n 200 --seeds 1 2 3 4 --repeats 1 4 16 --out F
       python benchmarks/bench_lrbias.py fit heavy_tailed --net-seed 1 --biases fit
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from spikewire.infer.lowrank import bias_test
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

OFFSET, GAIN = 12.5, 7.5
ALL = ["quadstable", "bistable", "limit_cycle", "ring", "heavy_tailed"]
PRESETS = ["quadstable", "bistable", "limit_cycle", "ring"]


def biased(net, sd: float = 0.0, shared: float = 0.0, seed: int = 0):
    """The network with biases d ~ N(0, sd²) + shared added (same loadings)."""
    d = shared + sd * np.random.default_rng(10_000 + seed).standard_normal(net.m.shape[0])
    return lowrank_network(net.m, net.n, d=d, alpha=net.alpha, dt=net.dt)


def counts_of(net, repeats: int, rng: np.random.Generator) -> np.ndarray:
    phi = simulate_lowrank(net, initial_grid(6, 2.4), 50).activity()
    return rng.poisson(repeats * (OFFSET + GAIN * phi) * net.dt).astype(float)


def run_test(net, repeats, rng, min_count=None) -> dict:
    c0 = time.process_time()
    kw = {} if min_count is None else {"min_count": min_count}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = bias_test(counts_of(net, repeats, rng), 2, rate_offset=OFFSET, rate_gain=GAIN,
                      bin_width=net.dt, exposure=repeats, **kw)
    r["warnings"] = [str(w.message) for w in caught]
    r["cpu_s"] = time.process_time() - c0
    return r


def null(args) -> list:
    rows = []
    for s in args.seeds:
        for p in ALL:
            for rep in args.repeats:
                r = run_test(lowrank_preset(p, args.n, seed=s), rep,
                             np.random.default_rng(s), args.min_count)
                rows.append({"preset": p, "seed": s, "n": args.n, "repeats": rep, **r})
                print(p, s, rep, f"p={r['p']:.3f} z={r['z']:.2f} {r['decision']} "
                      f"k={r['pooled_bins']} rounds={r['rounds']} {r['cpu_s']:.1f}s",
                      flush=True)
    return rows


def power(args) -> list:
    rows = []
    kinds = [("sd", v) for v in args.sds] + [("shared", v) for v in args.shared]
    for s in args.seeds:
        for p in args.presets:
            for kind, v in kinds:
                net = biased(lowrank_preset(p, args.n, seed=s),
                             **({"sd": v} if kind == "sd" else {"shared": v}), seed=s)
                for rep in args.repeats:
                    r = run_test(net, rep, np.random.default_rng(s), args.min_count)
                    rows.append({"preset": p, "seed": s, "n": args.n, "kind": kind,
                                 "value": v, "repeats": rep, **r})
                    print(p, s, kind, v, rep, f"p={r['p']:.3g} z={r['z']:.2f} {r['decision']} "
                      f"{r['cpu_s']:.1f}s", flush=True)
    return rows


def data_for(p: str, cs: int, bias_sd: float, n: int = 1000, repeats: int = 256,
             net_seed: int = 0):
    """The data network (seed ``net_seed``, 0 as the cached fits) and its pooled counts as
    ``bench_lowrank_spikes.py`` draws them (one counts generator over the four presets in
    order, so that the counts are those of the cached fits); heavy_tailed, biased networks
    and network seeds other than 0: a generator of their own (seed 100 + cs + 1000·net_seed)."""
    if p in PRESETS and not bias_sd and not net_seed:
        rng = np.random.default_rng(cs)
        for q in PRESETS:
            net = lowrank_preset(q, n, seed=0)
            counts = counts_of(net, repeats, rng)
            if q == p:
                return net, counts
    net = lowrank_preset(p, n, seed=net_seed)
    if bias_sd:
        net = biased(net, sd=bias_sd, seed=0)
    return net, counts_of(net, repeats, np.random.default_rng(100 + cs + 1000 * net_seed))


def fit(args) -> dict:
    """Front end with the bias test's decision, flows, dynamics of sampled networks and the
    distance (module docstring)."""
    import pickle

    from bench_lowrank_close_truthN import _clean, passes
    from bench_lowrank_spikes import dynamics_summary

    from spikewire.infer.lowrank import fit_lowrank
    from spikewire.infer.lowrank_flow import fit_loading_distribution
    from spikewire.score.lowrank import (
        align_latent_basis,
        hill_tail_index,
        sinkhorn_mean,
        true_conditional_mean,
    )

    p, cs = args.preset, args.counts_seed
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ns = f"_net{args.net_seed}" if args.net_seed else ""
    tag = f"{p}{ns}_c{cs}" + (f"_bias{args.bias_sd}" if args.bias_sd else "") + \
        ("" if args.biases == "auto" else f"_{args.biases}") + \
        (f"_flow{args.flow_seed}" if args.flow_seed != 1 else "")
    c0 = time.process_time()
    net, counts = data_for(p, cs, args.bias_sd, net_seed=args.net_seed)
    test = bias_test(counts, 2, rate_offset=OFFSET, rate_gain=GAIN, bin_width=net.dt,
                     exposure=256)
    c_test = time.process_time() - c0
    used = test["decision"] if args.biases == "auto" else args.biases
    cache = out / f"fit_{p}{ns}_c{cs}_bias{args.bias_sd}_{used}.pkl"
    if cache.exists():
        fit_ = pickle.loads(cache.read_bytes())
    else:
        fit_ = fit_lowrank(counts, 2, observation="poisson", rate_offset=OFFSET,
                           rate_gain=GAIN, bin_width=net.dt, exposure=256, n_restarts=1,
                           n_iter=300, refine_iter=400, seed=0, biases=used)
        cache.write_bytes(pickle.dumps(fit_))
    c_fit = time.process_time() - c0 - c_test
    dist, _ = fit_loading_distribution(fit_, n_iter=6000, targets_from="units",
                                       coupling="ot", smooth=True, smooth_gain=True,
                                       seed=args.flow_seed)
    c_flow = time.process_time() - c0 - c_test - c_fit
    A = align_latent_basis(fit_.m, net.m)
    Ait = np.linalg.inv(A).T
    E = true_conditional_mean(net, fit_.m @ A)
    n_post = dist.conditional_n(fit_.m, fit_.d, n_samples=16, seed=2).mean(0) @ Ait
    m_draws = [dist.sample(1000, seed=3 + k)["m"] @ A for k in range(4)]
    sk, sk_se = sinkhorn_mean(m_draws, net.m)
    res = {"preset": p, "counts_seed": cs, "bias_sd": args.bias_sd, "setting": args.biases,
           "net_seed": args.net_seed, "flow_seed": args.flow_seed, "used": used,
           "test": test, "fit_loss": fit_.loss,
           "flow_sinkhorn": sk, "flow_sinkhorn_se": sk_se,
           "flow_mse_n": float(np.mean((n_post - E) ** 2))}
    res["flow_total"] = res["flow_sinkhorn"] + res["flow_mse_n"]
    res.update(hill_m_truth_units=hill_tail_index(net.m),
               hill_m_fitted_units=hill_tail_index(fit_.m @ A),
               hill_m_flow_1000=hill_tail_index(m_draws[0]),
               fit_d_sd=float(np.std(fit_.d)),
               fit_mse_n=float(np.mean((fit_.n @ Ait - E) ** 2)))
    starts = initial_grid(9, 3.0)
    res["data_network"] = _clean(dynamics_summary(net, p, starts, np.eye(2)))
    rows = []
    for k in range(args.n_flow):
        smp = dist.sample(1000, seed=300 + k)
        sn = lowrank_network(smp["m"], smp["n"], d=smp["d"], alpha=fit_.alpha)
        rows.append(_clean(dynamics_summary(sn, p, starts @ A.T, A.T)))
    res["n1000"] = rows
    if p in PRESETS and not args.bias_sd and not args.net_seed:
        judge = json.loads(Path(args.judge).read_text())[p]
        rules = [r for r in ("A", "B", "A0", "B0") if "rule_" + r in judge]
        res["pass"] = {r: float(np.mean([passes(g, p, judge["rule_" + r]["rule"])
                                         for g in rows])) for r in rules}
        res["pass_before"] = {r: judge["rule_" + r][f"c{cs}_flow_n1000_pass"]
                              for r in rules}
    res.update(cpu_test_s=c_test, cpu_fit_s=c_fit, cpu_flow_s=c_flow,
               cpu_s=time.process_time() - c0)
    (out / f"fit_{tag}.json").write_text(json.dumps(res, default=float))
    print(tag, used, {k: res[k] for k in ("flow_total", "flow_sinkhorn", "flow_mse_n")},
          res.get("pass"), res.get("pass_before"), f"cpu {res['cpu_s']:.0f} s", flush=True)
    return res


def data_tests(args) -> list:
    """The test on the data sets of ``fit`` (N = 1,000, 256 repeats): the four presets on
    counts seeds 0 and 1 (the counts of the cached fits), heavy_tailed, and bistable with
    biases d ~ N(0, sd²) for ``--sds``."""
    rows = []
    cases = [(p, cs, 0.0) for cs in (0, 1) for p in PRESETS] + [("heavy_tailed", 0, 0.0)] \
        + [("bistable", 0, sd) for sd in args.sds]
    for p, cs, sd in cases:
        c0 = time.process_time()
        net, counts = data_for(p, cs, sd)
        r = bias_test(counts, 2, rate_offset=OFFSET, rate_gain=GAIN, bin_width=net.dt,
                      exposure=256)
        r["cpu_s"] = time.process_time() - c0
        rows.append({"preset": p, "counts_seed": cs, "bias_sd": sd, **r})
        print(p, cs, sd, f"p={r['p']:.3g} z={r['z']:.2f} {r['decision']} rounds={r['rounds']} "
              f"d_sd={r['d_sd']:.4f} {r['cpu_s']:.1f}s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["null", "power", "fit", "data"])
    ap.add_argument("preset", nargs="?", default="ring", choices=ALL)
    ap.add_argument("--counts-seed", type=int, default=0)
    ap.add_argument("--bias-sd", type=float, default=0.0)
    ap.add_argument("--biases", default="auto", choices=["auto", "fit", "zero"])
    ap.add_argument("--n-flow", type=int, default=100)
    ap.add_argument("--net-seed", type=int, default=0)
    ap.add_argument("--flow-seed", type=int, default=1)
    ap.add_argument("--out-dir", default="/tmp/lrbias/fits")
    ap.add_argument("--judge", default="/tmp/lrclose/truthN/judge.json")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--repeats", type=int, nargs="+", default=[256])
    ap.add_argument("--presets", nargs="+", default=ALL, choices=ALL)
    ap.add_argument("--sds", type=float, nargs="*", default=[0.01, 0.03, 0.3])
    ap.add_argument("--shared", type=float, nargs="*", default=[0.1])
    ap.add_argument("--min-count", type=float, default=None,
                    help="bias_test's min_count (None: its default)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.mode == "fit":
        fit(args)
        return
    rows = {"null": null, "power": power, "data": data_tests}[args.mode](args)
    Path(args.out).write_text(json.dumps(rows, default=float))


if __name__ == "__main__":
    main()
