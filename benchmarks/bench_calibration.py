"""Calibration benchmark: false-positive rates on null families, calibration gap on networks.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py null \
        [--methods ccg tspe ...] [--units 40 --duration 300 --seeds 1] [--qq out.png]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py networks \
        [--methods ...] [--neurons 1000 --recorded 100 --duration 600]
        [--families brunel,brunel_long,comodulated]

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py rescore --save DIR \
        [--neurons 1000 --recorded 100 --duration 600]

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py study \
        [--methods ccg glmcc tspe] [--families brunel,brunel_states,...] [--save DIR]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py rescore-study --save DIR

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py reciprocal \
        [--methods ccg ...] [--units 200 --duration 1800]

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py nullall \
        [--methods ...] [--units 40 --duration 300 --seed-list 0,1,2] --jsonl OUT.jsonl
    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py nullall-table \
        --jsonl OUT.jsonl
    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py nullall-qq \
        --jsonl OUT.jsonl --pvals DIR --qq OUT.png      (after ``nullall --pvals DIR``)
    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py nullall-ci \
        --jsonl OUT.jsonl      (pooled rate per cell with its 95 % Clopper–Pearson interval)

A method may carry settings: ``"ccg:significance='spike_jitter';causal_test=False"``.
Results: benchmarks/results/calibration.md.

``networks``: LIF Brunel networks (bench_accuracy.py's main network), a variant with
per-synapse delays uniform in 1–20 ms and one with a shared slow modulation of the drive;
Izhikevich networks (``izh_random``, ``izh_scale_free``: spikewire.networks.izhikevich,
1–20 ms E delays, dt = 1 ms);
simulations are cached in ``$SPIKEWIRE_BENCH_CACHE``. Per method × family: AUC (all, E, I),
MCC at the default threshold, the best MCC any threshold reaches on the same ranking and
their difference (the calibration gap), links called / true, sign accuracy, and MCC
(links called) with each correction. ``--save DIR`` pickles every estimate; ``rescore
--save DIR`` scores them again with today's corrections and null check (no refit).

``study``: the built-in study ``calibration``'s six networks (Brunel; Brunel with hidden
up/down states; Izhikevich random / scale-free; AdEx with log-normal weights; scale-free
LIF) built, simulated and observed (100 of 1,000, 1 kHz) by the study's own code and
seeds; simulations cached in ``$SPIKEWIRE_BENCH_CACHE/study`` under the study's keys, so a
study run's ``cache/sims/*.npz`` can be copied there. ``rescore-study --save DIR``
re-decides the saved estimates with today's null check (no refit).

``reciprocal`` (issue 18): a point process with known links among ``--units`` Poisson
units at 5 Hz: each excitatory link adds to the post unit a spike ``delay + U(0, 1 ms)``
after a presynaptic (Poisson) spike with probability ``w ~ U(0.05, 0.2)``, delays
U(1, 3) ms; ~4 % of ordered pairs linked, 20 of them reciprocal pairs; a second variant
("mixed") makes a fifth of the presynaptic units inhibitory (each post spike falling
``delay … delay + 2 ms`` after one of their spikes is deleted with probability
``q ~ U(0.5, 0.9)``). Printed per method × variant: one-way and reciprocal links called
with the right sign, wrong-sign calls, false calls on unlinked pairs (per-pair α).

``null``:
each family (``spikewire.infer._null_families``) has no connections at all, so every
pair called at per-pair level α (``correction="none"``) is a false positive. Printed per
method × family: the false-positive rate at α = 0.05 and 0.01, the number of tested pairs,
the Kolmogorov–Smirnov distance of the p-values from uniform, and what BH (5 %) and the
empirical-null lfdr (0.05) call. ``--qq`` writes p-value QQ plots (−log10 expected vs
observed) of every method × family into one figure.

``nullall`` (issue 12's first target at today's defaults, benchmarks/results/nullall.md):
per method × family × seed, one JSON line with the per-pair rates at α = 0.05 / 0.01, the
KS distance, and the links the method calls at its DEFAULT decision
(``est.adjacency()`` with no arguments; every call on a null family is false); methods
without p-values report their nonzero weights and default calls. ``nullall-table``
prints the per method × family table (mean [range] over seeds, KS, default calls per
seed, and how many binomial sd an out-of-band mean lies outside [0.025, 0.075]).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import spikewire as sw
from spikewire.infer._null_families import FAMILIES, null_family


def run_null(methods, families, n_units, duration, seeds, qq):
    rows, pv = [], {}
    for fam in families:
        for seed in range(seeds):
            st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
            for m in methods:
                name, kw = parse_method(m)
                t0 = time.perf_counter()
                est = sw.infer(st, name, **kw)
                el = time.perf_counter() - t0
                tested = est.pair_status == 0
                p = est.pvalues[tested]
                pv.setdefault((m, fam), []).append(p)
                try:
                    lf = int(est.significant(0.05, "lfdr").sum())
                except ValueError:
                    lf = -1
                rows.append((m, fam, seed, p.size, np.mean(p < 0.05), np.mean(p < 0.01),
                             _ks(p), int(est.significant(0.05, "bh").sum()), lf, el))
                print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    if qq:
        _qq(pv, methods, families, qq)
    return rows


# ----------------------------------------------------------------------- networks
def build_network(family: str, n: int, seed: int):
    """LIF Brunel-type networks (as benchmarks/bench_accuracy.py's main network) and a
    long-delay and a co-modulated variant; returns (network, modulation or None)."""
    known = ("izh_random", "izh_scale_free", "brunel", "brunel_long", "comodulated")
    if family not in known:
        # the study's other families (adex, brunel_states, scale_free_lif) are built by
        # study_recordings; here they would silently fall through to brunel
        raise SystemExit(f"networks mode builds {known}, not {family!r}; use the study "
                         "mode for the calibration study's other families")
    if family.startswith("izh_"):
        # issue 12's second family: Izhikevich (2006) networks, RS E / FS I, E delays 1–20 ms,
        # random or scale-free connectivity, simulated at dt = 1 ms
        conn = "random" if family == "izh_random" else "scale_free"
        return sw.networks.izhikevich(n, connectivity=conn, seed=seed + 1), None
    c_e = max(int(round(0.1 * 0.8 * n)), 1)
    net = sw.networks.brunel(n, epsilon=0.1, g=8.0, eta=0.7, J=0.1 * 1000 / c_e,
                             tau_ref=2e-3, delay=1.5e-3, seed=seed)
    rng = np.random.default_rng(seed + 100)
    pos = rng.uniform(0.0, 1.0, (n, 2))
    if family == "brunel_long":
        # heterogeneous long delays: uniform 1–20 ms per synapse (as in the Izhikevich
        # benchmark networks of issue 12)
        d = np.round(rng.uniform(1e-3, 20e-3, net.weights.nnz), 4)
    else:
        d = sw.networks.delays_from_positions(net.weights, pos, velocity=300.0,
                                              min_delay=5e-4)
    net = net.replace(delays=d, positions=pos)
    mod = None
    if family == "comodulated":
        from spikewire.infer._null_families import _ou
        from spikewire.simulate.inputs import ArrayGain

        u = _ou(rng, int(round(DURATION_MAX * 1000)), 1e-3, 1.0)
        mod = ArrayGain(np.exp(0.25 * u - 0.5 * 0.25 ** 2), rate=1000.0, n_neurons=n)
    return net, mod


DURATION_MAX = 4000.0


def network_digest(net) -> str:
    """Short hash of a network's connectivity, delays, parameters and drive."""
    import hashlib

    h = hashlib.sha1()
    w = net.weights
    for arr in (w.data, w.indices, w.indptr, np.asarray(net.cell_type)):
        h.update(np.ascontiguousarray(arr).tobytes())
    if net.delays is not None:
        h.update(np.ascontiguousarray(np.asarray(net.delays, dtype=float)).tobytes())
    h.update(repr((net.params, net.drive)).encode())
    return h.hexdigest()[:12]


def simulate_cached(family, n, duration, seed):
    import os
    from pathlib import Path

    cache = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE", "/tmp/spikewire_bench_calibration"))
    cache.mkdir(parents=True, exist_ok=True)
    net, mod = build_network(family, n, seed)
    # the key includes a digest of the network itself, so spikes simulated by an older
    # builder (different connectivity for the same arguments) are never reused
    path = cache / f"{family}_n{n}_T{duration:g}_s{seed}_{network_digest(net)}.npz"
    if path.exists():
        return net, sw.SpikeTrains.load(path)
    st = sw.simulate(net, duration, seed=seed, modulation=mod)
    st.save(path)
    return net, st


def parse_method(m: str):
    """``"name:key=value;key=value"`` → ``(name, settings)``; values are evaluated as
    Python expressions (benchmark-only convenience: literal settings)."""
    name, _, opts = m.partition(":")
    kw = {}
    for o in filter(None, opts.split(";")):
        k, v = o.split("=")
        kw[k] = eval(v)
    return name, kw


def fit_scored(rec, spec: str, truth):
    """Fit the method ``spec`` (:func:`parse_method`) on ``rec`` and score it against
    ``truth`` (a network or a signed matrix), warnings silenced: ``(estimate, score dict,
    wall s, CPU s)``, both times of fit and score together."""
    from spikewire.score import score

    name, kw = parse_method(spec)
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = sw.infer(rec, name, **kw)
        sc = score(truth, est)
    return est, sc, time.perf_counter() - t0, time.process_time() - c0


def ranking_evidence(est):
    """Each pair's evidence for a link as the method ranks it (scores, else |weight|);
    untested pairs at −inf."""
    ev = (est.scores if est.scores is not None else np.abs(est.weights)).copy()
    return np.where(est.pair_status == 0, np.nan_to_num(ev), -np.inf)


def best_mcc(truth_link, evidence):
    """Best Matthews correlation over all thresholds of the ranking ``evidence``."""
    order = np.argsort(-evidence, kind="stable")
    y = truth_link[order].astype(float)
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    P, N = y.sum(), (1 - y).sum()
    fn, tn = P - tp, N - fp
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        mcc = np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
    return float(mcc.max())


def run_networks(methods, families, n, n_rec, duration, seed, save=""):
    from spikewire.score import score

    rows = []
    for fam in families:
        t0 = time.perf_counter()
        net, st = simulate_cached(fam, n, duration, seed)
        rng = np.random.default_rng(seed + 7)
        rec_idx = np.sort(rng.choice(n, n_rec, replace=False))
        rec = sw.Recording.from_spikes(st.select(rec_idx), true_index=rec_idx)
        t_sim = time.perf_counter() - t0
        W = net.dense_weights()[np.ix_(rec_idx, rec_idx)]
        truth_link = (W != 0)[~np.eye(n_rec, dtype=bool)]
        for m in methods:
            est, sc, el, _ = fit_scored(rec, m, net)
            if save:
                _save_estimate(save, fam, m, n, duration, seed, est, el)
            ev = ranking_evidence(est)
            bm = best_mcc(truth_link, ev[~np.eye(n_rec, dtype=bool)])
            by_corr = []
            # at the method's own α (check_null raises it when it switches to the lfdr)
            a0 = est.diagnostics.get("null_check", {}).get("alpha_from", est.alpha)
            for corr in ("none", "bonferroni", "bh", "lfdr"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s2 = score(net, est, alpha=a0, correction=corr)
                by_corr.append(f"{s2['mcc']:.2f} ({s2['n_detected']})")
            rows.append((fam, m, sc["auc"], sc["auc_exc"], sc["auc_inh"], sc["mcc"], bm,
                         bm - sc["mcc"], f"{sc['n_detected']} / {sc['n_true']}",
                         sc["sign_accuracy"], *by_corr, el, t_sim))
            print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    return rows


def _save_estimate(folder, fam, m, n, duration, seed, est, elapsed):
    """Pickle a fitted estimate (with its fit time) for ``rescore``."""
    import pickle
    import re
    from pathlib import Path

    Path(folder).mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^A-Za-z0-9_.=-]+", "_", m)
    with open(Path(folder) / f"{fam}_n{n}_T{duration:g}_s{seed}_{tag}.pkl", "wb") as fh:
        pickle.dump({"family": fam, "method": m, "estimate": est, "infer_s": elapsed}, fh)


def rescore(folder, n, n_rec, duration, seed):
    """Score pickled estimates (``networks --save``) again with today's corrections.

    Each estimate gets back the default correction it had before ``check_null``
    (``diagnostics["null_check"]["switched_from"]``) and passes through today's
    ``check_null``, so changes to the empirical-null local FDR or to the switch rule are
    measured on the same p-values without refitting."""
    import pickle
    from pathlib import Path

    from spikewire.infer.base import check_null
    from spikewire.score import score

    rows = []
    nets = {}
    for path in sorted(Path(folder).glob(f"*_n{n}_T{duration:g}_s{seed}_*.pkl")):
        with open(path, "rb") as fh:
            d = pickle.load(fh)
        fam, m, est = d["family"], d["method"], d["estimate"]
        if fam not in nets:
            net, _ = build_network(fam, n, seed)
            rng = np.random.default_rng(seed + 7)
            nets[fam] = (net, np.sort(rng.choice(n, n_rec, replace=False)))
        net, rec_idx = nets[fam]
        W = net.dense_weights()[np.ix_(rec_idx, rec_idx)]
        truth_link = (W != 0)[~np.eye(n_rec, dtype=bool)]
        nc = est.diagnostics.get("null_check", {})
        est.correction = nc.get("switched_from", est.correction)
        est.alpha = nc.get("alpha_from", est.alpha)
        est.diagnostics.pop("null_check", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = check_null(est)
            sc = score(net, est)
        ev = ranking_evidence(est)
        bm = best_mcc(truth_link, ev[~np.eye(n_rec, dtype=bool)])
        by_corr = []
        a0 = est.diagnostics.get("null_check", {}).get("alpha_from", est.alpha)
        for corr in ("none", "bonferroni", "bh", "lfdr"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s2 = score(net, est, alpha=a0, correction=corr)
            by_corr.append(f"{s2['mcc']:.2f} ({s2['n_detected']})")
        rows.append((fam, m, sc["auc"], sc["auc_exc"], sc["auc_inh"], sc["mcc"], bm,
                     bm - sc["mcc"], f"{sc['n_detected']} / {sc['n_true']}",
                     sc["sign_accuracy"], *by_corr, d["infer_s"], est.correction))
        print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    return rows



# ----------------------------------------------------------------- the built-in study
def study_recordings(families, duration):
    """Yield ``(family, network, recording, seconds)`` once per family in ``families``:
    the built-in study ``calibration``'s first job of that family at ``duration`` (s),
    through the study's own builders, inputs, observation and seeding. Simulations are
    cached under ``$SPIKEWIRE_BENCH_CACHE/study`` by the study's simulation key;
    ``seconds`` is the wall time of loading (or simulating) and observing."""
    import os
    from pathlib import Path

    from spikewire.experiments import load_spec
    from spikewire.experiments.grid import build_network as build_study_network
    from spikewire.experiments.grid import expand
    from spikewire.experiments.job import build_inputs, ensure_simulation, observe_spikes
    from spikewire.experiments.runner import with_overrides

    cache = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE",
                                "/tmp/spikewire_bench_calibration")) / "study"
    cache.mkdir(parents=True, exist_ok=True)
    spec = with_overrides(load_spec("calibration"), duration=duration)
    seen = set()
    for job in expand(spec, check=False):
        fam = job.network["name"]
        if fam not in families or fam in seen:
            continue
        seen.add(fam)
        t0 = time.perf_counter()
        sim = ensure_simulation(job.sim_spec(), job.sim_key, cache, job.plugins)
        if sim.get("error"):
            raise RuntimeError(sim["error_message"])
        net = build_study_network(job.network, job.seed, allow_code=True)
        inputs = build_inputs(net, job.sim_spec(), job.seed)["inputs"]
        rec = observe_spikes(sw.SpikeTrains.load(sim["path"]), job.observation["steps"],
                             job.seed, net, inputs)
        yield fam, net, rec, time.perf_counter() - t0


def run_study(methods, families, duration, save=""):
    """The built-in study ``calibration``'s networks (Brunel, Brunel with hidden up/down
    states, Izhikevich random / scale-free, AdEx, scale-free LIF; 100 of 1,000 recorded,
    spike times at 1 kHz) through the study's own builders, inputs, observation and
    seeding (``spikewire.experiments``), each method at ``methods``' settings.

    Simulations are cached under ``$SPIKEWIRE_BENCH_CACHE/study`` by the study's
    simulation key. Printed per family × method as ``networks``; ``--save DIR`` pickles
    each estimate with the recorded units' true weights (``rescore_study``)."""
    from pathlib import Path

    from spikewire.score import score

    rows = []
    done = {fam: (net, rec, t) for fam, net, rec, t in study_recordings(families, duration)}
    for fam in families:
        net, rec, t_sim = done[fam]
        idx = np.asarray(rec.true_index)
        n_rec = idx.size
        W = net.dense_weights()[np.ix_(idx, idx)]
        off = ~np.eye(n_rec, dtype=bool)
        truth_link = (W != 0)[off]
        for m in methods:
            name, kw = parse_method(m)
            t1 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(rec, name, **kw)
                if est.true_index is None:
                    est.true_index = idx
                sc = score(net, est)
            el = time.perf_counter() - t1
            if save:
                import pickle

                Path(save).mkdir(parents=True, exist_ok=True)
                tag = "".join(c if c.isalnum() or c in "_.=-" else "_" for c in m)
                with open(Path(save) / f"study_{fam}_T{duration:g}_{tag}.pkl", "wb") as fh:
                    pickle.dump({"family": fam, "method": m, "estimate": est,
                                 "weights": W, "infer_s": el}, fh)
            ev = ranking_evidence(est)
            bm = best_mcc(truth_link, ev[off])
            rows.append((fam, m, sc["auc"], sc["auc_exc"], sc["auc_inh"], sc["mcc"], bm,
                         bm - sc["mcc"], f"{sc['n_detected']} / {sc['n_true']}",
                         sc["sign_accuracy"], est.correction, el, t_sim))
            print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    return rows


def rescore_study(folder, duration):
    """Score pickled study estimates (``study --save``) again with today's null check.

    Each estimate gets back the default correction and level it had before
    ``check_null`` and passes through today's ``check_null`` (no refit); scored against
    the recorded units' true weights stored with it."""
    import copy
    import pickle
    from pathlib import Path

    from spikewire.infer.base import check_null
    from spikewire.score import score

    rows = []
    for path in sorted(Path(folder).glob(f"study_*_T{duration:g}_*.pkl")):
        with open(path, "rb") as fh:
            d = pickle.load(fh)
        fam, m, est, W = d["family"], d["method"], copy.deepcopy(d["estimate"]), d["weights"]
        nc = est.diagnostics.get("null_check", {})
        est.correction = nc.get("switched_from", est.correction)
        est.alpha = nc.get("alpha_from", est.alpha)
        est.diagnostics.pop("null_check", None)
        est.true_index = np.arange(W.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = check_null(est)
            sc = score((W, ["E"] * W.shape[0]), est)
        null = est.diagnostics.get("null_check", {}).get("empirical_null", {})
        rows.append((fam, m, sc["auc"], sc["mcc"], sc["mcc_best"], sc["calibration_gap"],
                     f"{sc['n_detected']} / {sc['n_true']}", est.correction, est.alpha,
                     null.get("side", ""), null.get("delta0", np.nan),
                     null.get("sigma0", np.nan), null.get("sigma0_both", np.nan)))
        print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    return rows


STUDY_FAMILIES = "brunel,brunel_states,izh_random,izh_scale_free,adex,scale_free_lif"


def reciprocal_data(n, duration, seed, inhibitory_fraction=0.0, n_reciprocal=20,
                    p_link=0.04):
    """Point-process spike trains with known one-way and reciprocal links (see the module
    docstring); returns (SpikeTrains, signed truth post × pre)."""
    rng = np.random.default_rng(seed)
    base = [np.sort(rng.uniform(0, duration, rng.poisson(5.0 * duration))) for _ in range(n)]
    kind = np.where(rng.random(n) < inhibitory_fraction, -1, 1)
    truth = np.zeros((n, n), dtype=int)
    link = (rng.random((n, n)) < p_link) & ~np.eye(n, dtype=bool)
    link &= ~link.T                              # one-way links only, then add reciprocal
    free = np.argwhere(np.triu(~(link | link.T), 1))
    for i, j in free[rng.choice(len(free), n_reciprocal, replace=False)]:
        link[i, j] = link[j, i] = True
    truth[link] = np.broadcast_to(kind[None, :], (n, n))[link]
    trains = [t.copy() for t in base]
    posts, pres = np.nonzero(link)
    strength = np.where(truth[posts, pres] > 0, rng.uniform(0.05, 0.2, posts.size),
                        rng.uniform(0.5, 0.9, posts.size))
    delay = rng.uniform(1e-3, 3e-3, posts.size)
    for i, j, s, d in zip(posts, pres, strength, delay, strict=True):
        if truth[i, j] > 0:
            src = base[j][rng.random(base[j].size) < s]
            add = src + d + rng.uniform(0, 1e-3, src.size)
            trains[i] = np.r_[trains[i], add[add < duration]]
    trains = [np.sort(t) for t in trains]
    for i, j, q, d in zip(posts, pres, strength, delay, strict=True):
        if truth[i, j] < 0:
            x = trains[i]
            k = np.searchsorted(base[j], x - d, side="right") - 1
            lag = x - base[j][np.maximum(k, 0)]
            hit = (k >= 0) & (lag >= d) & (lag <= d + 2e-3)
            trains[i] = x[~(hit & (rng.random(x.size) < q))]
    return sw.SpikeTrains.from_lists(trains, t_stop=duration), truth


def run_reciprocal(methods, n, duration, seed):

    rows = []
    for variant, frac in (("excitatory", 0.0), ("mixed", 0.2)):
        st, truth = reciprocal_data(n, duration, seed, inhibitory_fraction=frac)
        recip = (truth != 0) & (truth.T != 0)
        one = (truth != 0) & ~recip
        for m in methods:
            name, kw = parse_method(m)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(st, name, **kw)
            el = time.perf_counter() - t0
            adj = est.adjacency()
            ok = adj == truth
            rows.append((variant, m, f"{int((ok & one).sum())} / {int(one.sum())}",
                         f"{int((ok & recip).sum())} / {int(recip.sum())}",
                         f"{int((recip & (adj == -truth)).sum())}",
                         f"{int(((adj != 0) & (truth != 0) & (adj != truth)).sum())}",
                         f"{int(((adj != 0) & (truth == 0)).sum())} / "
                         f"{int((truth == 0).sum() - n)}",
                         el))
            print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    return rows


# ------------------------------------------------------------- nullall (one table)
def run_nullall(methods, families, n_units, duration, seeds, jsonl, pvals="", weights=""):
    """Issue 12's first target at today's defaults: per method × family × seed, the
    false-positive rate at per-pair α = 0.05 / 0.01 (``correction="none"``), the KS
    distance of the tested pairs' p-values from uniform, and the calls the method makes
    at its DEFAULT decision (``est.adjacency()`` with no arguments, after
    ``check_null``). Methods without p-values: the nonzero weights and what
    ``adjacency()`` calls. One JSON line per fit is appended to ``jsonl``; with
    ``pvals`` (a folder), each fit's tested p-values are also saved there as
    ``{family}_s{seed}_{method}.npy`` for ``nullall-qq``; with ``weights`` (a folder),
    each fit's weight matrix as ``{family}_s{seed}_{method}_w.npy`` (to evaluate a
    decision rule on the learned methods' weights without refitting)."""
    import json

    rows = []
    for fam in families:
        for seed in seeds:
            st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
            for m in methods:
                name, kw = parse_method(m)
                t0 = time.perf_counter()
                c0 = time.process_time()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    est = sw.infer(st, name, **kw)
                    adj = est.adjacency()
                el = time.perf_counter() - t0
                cpu = time.process_time() - c0
                off = ~np.eye(est.n_units, dtype=bool)
                tested = (est.pair_status == 0) & off
                nc = est.diagnostics.get("null_check", {})
                rec = {"method": m, "family": fam, "seed": int(seed), "units": n_units,
                       "duration": duration, "pairs": int(off.sum()),
                       "tested": int(tested.sum()),
                       "has_p": est.pvalues is not None,
                       "correction": str(est.correction), "alpha": float(est.alpha),
                       "switched_from": nc.get("switched_from"),
                       "calls_default": int((adj[off] != 0).sum()),
                       "calls_default_pos": int((adj[off] > 0).sum()),
                       "calls_default_neg": int((adj[off] < 0).sum()),
                       "warnings": sorted({str(w.message)[:160] for w in caught}),
                       "time_s": el, "cpu_s": cpu}
                if "acausal" in est.diagnostics:   # dale_glm: what "auto" fitted, and why
                    rec["acausal"] = str(est.diagnostics["acausal"])
                    rec["synchrony_shift"] = float(est.diagnostics["synchrony_shift"])
                gate = est.diagnostics.get("surrogate_gate")
                if isinstance(gate, dict):
                    # the low-rank methods' gate (learnednull): its p and effect sizes
                    rec.update({f"gate_{k}": float(gate[k]) for k in
                                ("p", "shift_p", "reversal_p", "gain", "reversal_gain")
                                if np.isscalar(gate.get(k))})
                if est.pvalues is not None:
                    p = est.pvalues[tested]
                    rec.update(fpr05=float(np.mean(p < 0.05)), fpr01=float(np.mean(p < 0.01)),
                               ks=_ks(p), p_eq1=float(np.mean(p >= 1.0)),
                               sig_default=int(est.significant()[off].sum()))
                    if pvals:
                        from pathlib import Path

                        Path(pvals).mkdir(parents=True, exist_ok=True)
                        np.save(Path(pvals) / f"{fam}_s{seed}_{_tag(m)}.npy", p)
                else:
                    w = est.weights[off]
                    rec.update(nonzero_w=int((w != 0).sum()),
                               w_abs_median=float(np.median(np.abs(w))),
                               has_scores=est.scores is not None)
                    wp = est.weight_null_pvalues()
                    if wp is not None:
                        # learnednull: the weight-null p-values adjacency() uses; with
                        # symmetric weights (w_ij = w_ji) each unordered pair once
                        sym = bool(np.allclose(est.weights, est.weights.T))
                        once = tested & (np.triu(off) if sym else off)
                        p = wp[once]
                        rec.update(symmetric_w=sym, wnull_pairs=int(once.sum()),
                                   fpr05=float(np.mean(p < 0.05)),
                                   fpr01=float(np.mean(p < 0.01)), ks=_ks(p))
                        if pvals:
                            from pathlib import Path

                            Path(pvals).mkdir(parents=True, exist_ok=True)
                            np.save(Path(pvals) / f"{fam}_s{seed}_{_tag(m)}.npy", p)
                if weights:
                    from pathlib import Path

                    Path(weights).mkdir(parents=True, exist_ok=True)
                    np.save(Path(weights) / f"{fam}_s{seed}_{_tag(m)}_w.npy", est.weights)
                rows.append(rec)
                if jsonl:
                    with open(jsonl, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
                print(json.dumps({k: v for k, v in rec.items() if k != "warnings"}),
                      flush=True)
    return rows


def nullall_table(jsonl):
    """Markdown table from ``run_nullall``'s JSON lines: per method × family, FPR at
    α = 0.05 mean [min–max] over seeds, KS mean, default calls per seed, and a flag for
    cells outside [0.025, 0.075] beyond the binomial noise of the mean."""
    import json

    recs = [json.loads(x) for x in open(jsonl) if x.strip()]
    by = {}
    for r in recs:
        by.setdefault((r["method"], r["family"]), []).append(r)
    fams = list(dict.fromkeys(r["family"] for r in recs))
    meths = list(dict.fromkeys(r["method"] for r in recs))
    print("| method | " + " | ".join(fams) + " |")
    print("|---|" + "---|" * len(fams))
    for m in meths:
        cells = []
        for f in fams:
            rs = sorted(by.get((m, f), []), key=lambda r: r["seed"])
            if not rs:
                cells.append("—")
                continue
            calls = "/".join(str(r["calls_default"]) for r in rs)
            if "fpr05" not in rs[0]:
                cells.append(f"no p; nonzero w {'/'.join(str(r['nonzero_w']) for r in rs)};"
                             f" calls {calls}")
                continue
            f5 = np.array([r["fpr05"] for r in rs])
            n = np.array([r.get("wnull_pairs", r["tested"]) for r in rs])
            # binomial sd of the seed-mean rate at α = 0.05 over all tested pairs
            sd = np.sqrt(0.05 * 0.95 / n.sum())
            mean = float(np.sum(f5 * n) / n.sum())
            flag = ""
            if mean < 0.025 or mean > 0.075:
                dist = (0.025 - mean if mean < 0.025 else mean - 0.075) / sd
                flag = f" **out ({dist:.1f} sd)**"
            ks = np.mean([r["ks"] for r in rs])
            cells.append(f"{mean:.3f} [{f5.min():.3f}–{f5.max():.3f}]{flag}; KS {ks:.3f};"
                         f" calls {calls}")
        print(f"| {m} | " + " | ".join(cells) + " |")


def nullall_ci(jsonl):
    """Per method × family from ``run_nullall``'s JSON lines: the false-positive rate at
    α = 0.05 pooled over seeds with its 95 % Clopper–Pearson interval (pairs counted as
    independent Bernoulli trials, which they are not quite: pairs share units, so the
    interval is a nominal lower bound on the uncertainty), the per-seed rates, whether
    the pooled rate lies in [0.025, 0.075], and the default calls per seed."""
    import json

    from scipy import stats

    recs = [json.loads(x) for x in open(jsonl) if x.strip()]
    by = {}
    for r in recs:
        by.setdefault((r["method"], r["family"]), []).append(r)
    print("| method | family | seeds | pooled FPR@0.05 [95 % CI] | per seed | in "
          "[0.025, 0.075] | KS (mean) | default calls per seed |")
    print("|---|---|---|---|---|---|---|---|")
    for (m, f), rs in by.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        calls = "/".join(str(r["calls_default"]) for r in rs)
        if "fpr05" not in rs[0]:
            print(f"| {m} | {f} | {len(rs)} | no p-values | — | — | — | {calls} |")
            continue
        # gnn: the weight-null p-values, over the pairs they were counted on
        n = np.array([r.get("wnull_pairs", r["tested"]) for r in rs])
        k = np.array([int(round(r["fpr05"] * ni)) for r, ni in zip(rs, n, strict=True)])
        K, N = int(k.sum()), int(n.sum())
        lo = stats.beta.ppf(0.025, K, N - K + 1) if K > 0 else 0.0
        hi = stats.beta.ppf(0.975, K + 1, N - K) if K < N else 1.0
        rate = K / N
        ok = "yes" if 0.025 <= rate <= 0.075 else "**no**"
        per = " / ".join(f"{r['fpr05']:.3f}" for r in rs)
        ks = np.mean([r["ks"] for r in rs])
        print(f"| {m} | {f} | {len(rs)} | {rate:.3f} [{lo:.3f}–{hi:.3f}] | {per} | {ok} | "
              f"{ks:.3f} | {calls} |")


def _tag(m: str) -> str:
    """A method string (with settings) as a file-name fragment."""
    return "".join(c if c.isalnum() or c in "_.=-" else "_" for c in m)


def nullall_qq(pvals, jsonl, path):
    """One QQ figure (``_qq``) from the p-values ``nullall --pvals`` saved: every method
    with p-values × family in ``jsonl``, seeds pooled."""
    import json
    from pathlib import Path

    recs = [json.loads(x) for x in open(jsonl) if x.strip()]
    fams = list(dict.fromkeys(r["family"] for r in recs))
    meths = list(dict.fromkeys(r["method"] for r in recs if "fpr05" in r))
    pv = {}
    for r in recs:
        f = Path(pvals) / f"{r['family']}_s{r['seed']}_{_tag(r['method'])}.npy"
        if "fpr05" in r and f.exists():
            pv.setdefault((r["method"], r["family"]), []).append(np.load(f))
    meths = [m for m in meths if all((m, f) in pv for f in fams)]
    _qq(pv, meths, fams, path)


def _ks(p):
    p = np.sort(p)
    n = p.size
    return float(np.max(np.maximum(np.arange(1, n + 1) / n - p, p - np.arange(n) / n)))


def _fmt(x):
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _qq(pv, methods, families, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(3.2 * len(families), 3.2),
                             sharey=True)
    for ax, fam in zip(np.atleast_1d(axes), families, strict=True):
        for m in methods:
            p = np.sort(np.concatenate(pv[(m, fam)]))
            e = (np.arange(1, p.size + 1) - 0.5) / p.size
            ax.plot(-np.log10(e), -np.log10(np.maximum(p, 1e-300)), ".", ms=2, label=m)
        lim = -np.log10(0.5 / p.size)
        ax.plot([0, lim], [0, lim], "k--", lw=0.8)
        ax.set_title(fam)
        ax.set_xlabel("expected −log10 p (uniform)")
        ax.set_ylim(0, 8)
    np.atleast_1d(axes)[0].set_ylabel("observed −log10 p")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["null", "networks", "reciprocal", "rescore",
                                     "study", "rescore-study", "nullall", "nullall-table",
                                     "nullall-qq", "nullall-ci"])
    ap.add_argument("--methods", nargs="+", default=["ccg", "tspe"],
                    help="method names, each optionally with settings: 'ccg:bin_width=1e-3;"
                         "window=(1e-3,0.025)'")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--qq", default="")
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--recorded", type=int, default=100)
    ap.add_argument("--save", default="",
                    help="networks: pickle every estimate into this folder; rescore: the "
                         "folder to read")
    ap.add_argument("--seed-list", default="0,1,2",
                    help="nullall: comma-separated seeds of the null families")
    ap.add_argument("--jsonl", default="",
                    help="nullall: append one JSON line per fit here; nullall-table: read")
    ap.add_argument("--pvals", default="",
                    help="nullall: save each fit's tested p-values in this folder; "
                         "nullall-qq: read them (with --jsonl and --qq)")
    ap.add_argument("--weights", default="",
                    help="nullall: save each fit's weight matrix in this folder")
    a = ap.parse_args()
    if a.mode == "nullall":
        run_nullall(a.methods, a.families.split(","), a.units, a.duration,
                    [int(x) for x in a.seed_list.split(",")], a.jsonl, a.pvals, a.weights)
        return
    if a.mode == "nullall-ci":
        nullall_ci(a.jsonl)
        return
    if a.mode == "nullall-qq":
        nullall_qq(a.pvals, a.jsonl, a.qq)
        return
    if a.mode == "nullall-table":
        nullall_table(a.jsonl)
        return
    if a.mode == "rescore":
        print("| family | method | AUC | AUC E | AUC I | MCC (default) | best MCC | gap | "
              "called / true | sign acc. | MCC (called) α-none | Bonferroni | BH | lfdr | "
              "infer (s) | default correction |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        rescore(a.save, a.neurons, a.recorded, a.duration, 0)
        return
    if a.mode == "rescore-study":
        print("| family | method | AUC | MCC (default) | best MCC | gap | called / true | "
              "correction | level | null fitted to | δ0 | σ0 | σ0 two-sided |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        rescore_study(a.save, a.duration if a.duration != 300.0 else 600.0)
        return
    if a.mode == "study":
        fams = a.families if a.families != ",".join(FAMILIES) else STUDY_FAMILIES
        print("| family | method | AUC | AUC E | AUC I | MCC (default) | best MCC | gap | "
              "called / true | sign acc. | correction | infer (s) | sim (s) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        run_study(a.methods, fams.split(","), a.duration if a.duration != 300.0 else 600.0,
                  a.save)
        return
    if a.mode == "reciprocal":
        print("| variant | method | one-way called (right sign) | reciprocal called (right "
              "sign) | reciprocal with the wrong sign | linked pairs with the wrong sign | "
              "false calls / unlinked | infer (s) |")
        print("|---|---|---|---|---|---|---|---|")
        run_reciprocal(a.methods, a.units if a.units != 40 else 200,
                       a.duration if a.duration != 300.0 else 1800.0, 0)
        return
    if a.mode == "networks":
        fams = a.families if a.families != ",".join(FAMILIES) else "brunel,brunel_long,comodulated"
        print("| family | method | AUC | AUC E | AUC I | MCC (default) | best MCC | gap | "
              "called / true | sign acc. | MCC (called) α-none | Bonferroni | BH | lfdr | "
              "infer (s) | sim (s) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        run_networks(a.methods, fams.split(","), a.neurons, a.recorded, a.duration,
                     0, a.save)
        return
    print("| method | family | seed | pairs | FPR@0.05 | FPR@0.01 | KS | BH calls | lfdr calls "
          "| time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    run_null(a.methods, a.families.split(","), a.units, a.duration, a.seeds, a.qq)


if __name__ == "__main__":
    main()
