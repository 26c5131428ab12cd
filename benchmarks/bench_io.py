"""Scale of `spikewire infer`: an NWB file with 1,000 units x 1 h at ~5 Hz (18 M spikes) to
the written estimate with `ccg`, wall time and peak memory, against the tools a user would
otherwise pick for the same steps (pynwb's ``Units.to_dataframe`` to read, SpikeInterface's
``compute_correlograms`` (numba) for the all-pairs correlograms), timed in the same run.

Usage::

    nice python benchmarks/bench_io.py                      # 1,000 units x 3,600 s x 5 Hz
    nice python benchmarks/bench_io.py --units 200 --duration 600    # quick check

Each measured step runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own.
The data: independent Poisson trains with a 2 ms dead time, rates log-normal around
``--rate``, plus ``--links`` planted excitatory links (the post unit fires 1.5 ± 0.2 ms
after 10 % of the pre unit's spikes), so the estimate can be checked (recall, false
positives) and not only timed.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_data(n_units, duration, rate, n_links, seed):
    rng = np.random.default_rng(seed)
    rates = rate * rng.lognormal(0.0, 0.5, n_units) / np.exp(0.125)
    trains = []
    for r in rates:
        n = rng.poisson(r * duration)
        isi = 2e-3 + rng.exponential(max(1.0 / r - 2e-3, 1e-3), int(n * 1.1) + 10)
        t = np.cumsum(isi)
        trains.append(t[t < duration])
    pre = rng.integers(0, n_units, n_links)
    post = (pre + rng.integers(1, n_units, n_links)) % n_units
    for i, j in zip(post, pre, strict=True):
        src = trains[j][rng.random(trains[j].size) < 0.1]
        trains[i] = np.sort(np.concatenate([trains[i], src + 1.5e-3 +
                                            0.2e-3 * rng.standard_normal(src.size)]))
        trains[i] = trains[i][(trains[i] >= 0) & (trains[i] < duration)]
    # 30 kHz sampling grid, as from an acquisition system
    trains = [np.unique(np.floor(t * 30_000.0)) / 30_000.0 for t in trains]
    return trains, np.column_stack([post, pre])


# Run inside the infer child (inserted into its code as plain text): a thread samples the
# process's RSS, CPU time and the load average every 0.25 s; afterwards the samples are
# split by the stages' wall times (``run_infer``'s stages run back to back).
_SAMPLER_START = """\
samples = []  # (wall s since start, RSS GiB, process CPU s, 1-min load average)
stop = threading.Event()
def _sample():
    while True:
        with open("/proc/self/status") as fh:
            rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 2**20
        c = os.times()
        samples.append((time.perf_counter() - t0, rss, c.user + c.system,
                        os.getloadavg()[0]))
        if stop.wait(0.25):
            return
threading.Thread(target=_sample, daemon=True).start()
"""
_SAMPLER_STOP = """\
stop.set()
# per stage: the stages run back to back from t_run, in the order of res.timings (the
# gaps between them are bookkeeping of a few ms)
per_stage = {"imports": {"wall_s": t_run, "peak_rss_gib": max(s[1] for s in samples
                                                             if s[0] <= t_run)}}
start = t_run
for name, wall in res.timings.items():
    end = start + wall
    inside = [s for s in samples if start <= s[0] <= end]
    before = [s for s in samples if s[0] <= start][-1:]
    after = [s for s in samples if s[0] >= end][:1]
    span = before + inside + after
    # peak: samples inside the stage only (the neighbours belong to other stages), or the
    # nearer neighbour of a stage shorter than the sampling interval
    per_stage[name] = {"wall_s": wall, "peak_rss_gib": max(s[1] for s in inside or after),
                       "cpu_s": span[-1][2] - span[0][2],
                       "load_min_max": [min(s[3] for s in span), max(s[3] for s in span)]}
    start = end
with open(os.path.join(out_dir, "rss_samples.json"), "w") as fh:
    json.dump({"t_run": t_run, "timings": res.timings, "samples": samples}, fh)
"""


def _child(code: str, timeout: float | None = None) -> dict:
    """Run ``code`` in a fresh Python; it prints one JSON line. Adds wall time, CPU time
    (user + system, all threads) and peak RSS; on timeout returns what is known."""
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out_after_s": timeout}
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    out["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    # ru_maxrss of children is the max over all finished children: report it only if it grew
    out["peak_rss_gib"] = r1.ru_maxrss / 2**20 if r1.ru_maxrss > r0.ru_maxrss else None
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--links", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--steps", default="infer,read,ccg,si",
                    help="comma list of: infer (spikewire infer), read (pynwb vs spikewire "
                         "read), ccg (spikewire cross_correlograms, 1 thread), si "
                         "(SpikeInterface correlograms)")
    ap.add_argument("--reference-timeout", type=float, default=1800.0,
                    help="give up on the SpikeInterface correlograms after this many s")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=-1, help="ccg n_jobs of the infer step")
    ap.add_argument("--ccg-settings", default="{}",
                    help="further ccg settings of the infer step, as JSON")
    ap.add_argument("--ref-src", type=Path, default=None,
                    help="also run the infer step with this source tree (e.g. the code before "
                         "a change, from `git archive REV src | tar -x -C DIR`: DIR/src), "
                         "first, on the same file")
    args = ap.parse_args(argv)

    import numba
    import pynwb

    import spikewire
    from spikewire import SpikeTrains
    from spikewire.io import write_nwb

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_io_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    trains, links = make_data(args.units, args.duration, args.rate, args.links, args.seed)
    st = SpikeTrains.from_lists(trains, t_stop=args.duration)
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = write_nwb(st, work / "big.nwb", sampling_rate=30_000.0)
    t_write = time.perf_counter() - t0
    np.save(work / "links.npy", links)
    print(f"data: {st}; generated in {t_make:.1f} s, NWB written in {t_write:.1f} s "
          f"({path.stat().st_size / 2**20:.0f} MiB)", flush=True)

    src = str(HERE.parent / "src")
    settings = {"n_jobs": args.jobs, **json.loads(args.ccg_settings)}

    def infer_code(src, settings):
        return f"""
import sys, json, time, os, resource; sys.path.insert(0, {src!r})
import numpy as np
import threading
load0 = os.getloadavg()[0]
t0 = time.perf_counter()
{_SAMPLER_START}from spikewire.io.cli_infer import run_infer
out_dir = {str(work / 'out')!r}
t_run = time.perf_counter() - t0
res = run_infer({str(path)!r}, method="ccg", out={str(work / 'out')!r}, progress=False,
                settings={settings!r}, min_spikes=20)
total = time.perf_counter() - t0
{_SAMPLER_STOP}diag = {{k: v for k, v in res.estimate.diagnostics.items()
         if k in ("n_threads", "block_size", "n_blocks", "time_counting_s",
                  "time_summaries_s", "cpu_counting_s", "cpu_summaries_s", "time_total_s")}}
est = res.estimate
links = np.load({str(work / 'links.npy')!r})
pos = {{int(u): k for k, u in enumerate(est.units)}}
adj = est.adjacency()
truth = np.zeros_like(adj, dtype=bool)
for i, j in links:
    truth[pos[int(i)], pos[int(j)]] = True
found = int(np.sum((adj > 0) & truth)); fp = int(np.sum((adj != 0) & ~truth))
print(json.dumps({{"total_s": total, "stages_s": res.timings, "ccg": diag,
                   "per_stage": per_stage,
                   "n_units": est.n_units, "n_spikes": int(res.recording.spikes.n_spikes),
                   "recall": found / max(int(truth.sum()), 1), "false_positives": fp,
                   "loadavg": [load0, os.getloadavg()[0]],
                   "peak_rss_self_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                   / 2**20}}))
"""
    steps = set(args.steps.split(","))
    ours = {}
    ref = {}
    if "infer" in steps:
        if args.ref_src is not None:
            print(f"spikewire infer with {args.ref_src} (ccg, n_jobs={args.jobs}) ...",
                  flush=True)
            ref["infer_ref_src"] = _child(infer_code(str(args.ref_src), {"n_jobs": args.jobs}))
            print(json.dumps(ref["infer_ref_src"], indent=1), flush=True)
        print(f"spikewire infer (ccg, {settings}) ...", flush=True)
        ours = _child(infer_code(src, settings))
        print(json.dumps(ours, indent=1), flush=True)

    if not args.no_reference and "ccg" in steps:
        print("spikewire cross_correlograms (all pairs, +-34 ms, 1 thread) ...", flush=True)
        ref["spikewire_correlograms"] = _child(f"""
import sys, json, time; sys.path.insert(0, {src!r})
from spikewire.io import read_nwb
from spikewire.infer.ccg import cross_correlograms
rec = read_nwb({str(path)!r}, min_spikes=20)
cross_correlograms(rec.spikes.select([0, 1, 2]), bin_width=5e-4, max_lag=0.034)
t0 = time.perf_counter()
ccg, lags = cross_correlograms(rec.spikes, bin_width=5e-4, max_lag=0.034, n_jobs=1)
print(json.dumps({{"ccg_s": time.perf_counter() - t0, "shape": list(ccg.shape)}}))
""")
        print(json.dumps(ref["spikewire_correlograms"]), flush=True)
    if not args.no_reference and "read" in steps:
        read_code = f"""
import json, time
import pynwb
t0 = time.perf_counter()
with pynwb.NWBHDF5IO({str(path)!r}, "r") as io:
    df = io.read().units.to_dataframe()
print(json.dumps({{"read_s": time.perf_counter() - t0, "rows": len(df)}}))
"""
        print("reference read: pynwb Units.to_dataframe ...", flush=True)
        ref["pynwb_read"] = _child(read_code)
        ours_read = _child(f"""
import sys, json, time; sys.path.insert(0, {src!r})
from spikewire.io import read_nwb
t0 = time.perf_counter()
rec = read_nwb({str(path)!r}, min_spikes=20)
print(json.dumps({{"read_s": time.perf_counter() - t0, "units": rec.n_units}}))
""")
        ref["spikewire_read"] = ours_read
    if not args.no_reference and "si" in steps:
        si_code = f"""
import sys, json, time; sys.path.insert(0, {src!r})
import numpy as np
from spikewire.io import read_nwb, to_spikeinterface
rec = read_nwb({str(path)!r}, min_spikes=20)
sorting = to_spikeinterface(rec)
import spikeinterface.postprocessing as pp
pp.compute_correlograms(to_spikeinterface(read_nwb({str(path)!r}, units=[0, 1, 2],
                        duplicate_window=0)), window_ms=68.0, bin_ms=0.5, method="numba")
t0 = time.perf_counter()
ccg, bins = pp.compute_correlograms(sorting, window_ms=68.0, bin_ms=0.5, method="numba")
print(json.dumps({{"ccg_s": time.perf_counter() - t0, "shape": list(ccg.shape)}}))
"""
        print("reference correlograms: spikeinterface compute_correlograms (numba) ...",
              flush=True)
        ref["si_correlograms"] = _child(si_code, timeout=args.reference_timeout)
        print(json.dumps(ref, indent=1), flush=True)

    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.node()} {platform.machine()}, "
                         f"{numba.config.NUMBA_NUM_THREADS} numba threads",
              "versions": {"spikewire": spikewire.__version__ if hasattr(spikewire,
                                                                         "__version__")
                           else "dev", "numpy": np.__version__, "numba": numba.__version__,
                           "pynwb": pynwb.__version__},
              "args": vars(args) | {"workdir": str(work)},
              "data": {"n_spikes": st.n_spikes, "generate_s": t_make, "write_nwb_s": t_write,
                       "nwb_mib": path.stat().st_size / 2**20},
              "spikewire_infer": ours, "reference": ref}
    out = work / "bench_io.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
