"""Engine speed and memory: spikewire vs Brian2 (cython) vs NEST, single-threaded.

Brunel (2000) model A, g = 5, ν_ext/ν_thr = 2, J = 0.1 mV, D = 1.5 ms, delta synapses,
τ_rp = 2 ms (see ``engine_worker.py`` for the exact model in each simulator). Cases:

``base``  N = 12,500, C_E = 1,000, C_I = 250, dt = 0.1 ms, 1 s   (the headline run)
``n50k``  N = 50,000, C_E = 1,000, C_I = 250 (ε = 0.025), dt = 0.1 ms, 1 s
``dt30``  N = 12,500 as ``base`` but dt = 1/30 ms (30 kHz)
``mem``   N = 100,000 with 1,000 inputs each (C_E = 800, C_I = 200: 10^8 synapses),
          0.1 s, spikewire only; goal: peak RSS ≤ 2 GiB

Every (simulator, case) runs in its own subprocess; its peak resident memory is the
child's ``ru_maxrss`` from ``os.wait4`` (interpreter and imported libraries included, so
the figures are what a user's process needs). Before the timed runs each simulator does
one short warm-up run of the same network size so that compiled-code caches (numba's
``cache=True``, Brian2's cython cache) are filled: timings are warm-cache. The first
(cold) run's times are recorded too.

Wall time counted for the ratios = construction + simulation. Imports and one-time library
start-up (``import brian2``; ``import nest``, which starts NEST's kernel; ``import
spikewire`` plus numba's registry loading on the first jitted call) are excluded for all
three and reported separately, as is the whole child process's wall time ("process s":
interpreter start, imports, construction, simulation, teardown). CPU times
(``time.process_time``) are recorded as well: on a shared machine they are less disturbed
by other load than wall times.
Synaptic events = spikes × mean out-degree of their population; events/s = events /
simulation wall time.

``--ab OLD_SRC`` times spikewire only, alternating runs of the sources in ``OLD_SRC`` (a
``src`` folder of another checkout, e.g. ``git archive <commit> src | tar -x -C /tmp/old``)
and of this checkout's ``src`` (``--repeats`` pairs, ``base`` case unless ``--cases``),
and prints the new/old ratios of the medians: a before/after comparison measured in one
run on the same (possibly loaded) machine.

Usage (from the repository root, with the benchmark's own environment)::

    python3 -m venv benchmarks/.venv-engine
    benchmarks/.venv-engine/bin/pip install -r benchmarks/requirements-engine.txt -e .
    benchmarks/.venv-engine/bin/python benchmarks/bench_engine.py            # all cases
    benchmarks/.venv-engine/bin/python benchmarks/bench_engine.py --cases base --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "engine_worker.py"

CASES = {
    "base": dict(n=12_500, c_e=1000, c_i=250, dt=1e-4, duration=1.0,
                 sims=("spikewire", "brian2", "nest")),
    "n50k": dict(n=50_000, c_e=1000, c_i=250, dt=1e-4, duration=1.0,
                 sims=("spikewire", "brian2", "nest")),
    "dt30": dict(n=12_500, c_e=1000, c_i=250, dt=1.0 / 30_000, duration=1.0,
                 sims=("spikewire", "brian2", "nest")),
    "mem": dict(n=100_000, c_e=800, c_i=200, dt=1e-4, duration=0.1, sims=("spikewire",)),
}
GOALS = {"brian2": 8.0, "nest": 15.0}
MEM_LIMIT = 2 * 2**30


def run_worker(sim: str, case: dict, duration: float | None = None, seed: int = 1,
               pythonpath: str | None = None) -> dict:
    """Run one simulation in a child process; return its JSON result plus peak RSS.

    ``pythonpath`` puts another spikewire source tree first on the child's path.
    """
    cmd = [sys.executable, str(WORKER), "--sim", sim, "--n", str(case["n"]),
           "--c-e", str(case["c_e"]), "--c-i", str(case["c_i"]), "--dt", repr(case["dt"]),
           "--duration", repr(duration if duration is not None else case["duration"]),
           "--seed", str(seed)]
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, text=True)
        # wait4 (not Popen.wait) so that we get this child's own rusage
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    code = os.waitstatus_to_exitcode(status)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if code != 0 or not line:
        raise RuntimeError(f"{sim} failed (exit {code}):\n{err[-3000:]}")
    res = json.loads(line[-1][7:])
    res["load"] = os.getloadavg()[0]  # 1-min load average when the run ended
    res["peak_rss"] = ru.ru_maxrss * 1024  # Linux: KiB
    res["process_wall"] = wall
    res["t_total"] = res["t_build"] + res["t_sim"]
    res["c_total"] = res["c_build"] + res["c_sim"]
    res["events_per_s"] = res["n_events"] / res["t_sim"]
    res["rate"] = res["n_spikes"] / res["n"] / res["duration"]
    return res


def machine() -> dict:
    model, cores = platform.processor(), os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":")[1].strip()
    except OSError:
        pass
    return dict(cpu=model, cores=cores, mem=mem, python=platform.python_version(),
                date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def _mib(b):
    return b / 2**20


def markdown(results: dict, info: dict, cmd: str) -> str:
    """Results as a Markdown section for benchmarks/RESULTS.md."""
    lines = [f"Machine: {info['cpu']}, {info['cores']} cores, {info['mem']} RAM; "
             f"Python {info['python']}; {info['date']}.",
             f"Versions: {info.get('versions', '')}.", f"Command: `{cmd}`", ""]
    hdr = ("| case | simulator | import s | construction s | simulation s | total s | "
           "total CPU s | process s | "
           "peak RSS MiB | events/s | rate E / I Hz | cold total s | load avg | "
           "spikewire faster (wall) | (CPU) | RSS / spikewire's |")
    lines += [hdr, "|---" * (hdr.count("|") - 1) + "|"]
    for cname, rows in results.items():
        sw = rows.get("spikewire")
        for sim, r in rows.items():
            if "error" in r:
                lines.append(f"| {cname} | {sim} | failed: {r['error'][:80]} |" + " |" * 13)
                continue
            ratio = cratio = rss = ""
            if sw and "error" not in sw and sim != "spikewire":
                ratio = f"{r['t_total'] / sw['t_total']:.1f}×"
                cratio = f"{r['c_total'] / sw['c_total']:.1f}×"
                rss = f"{r['peak_rss'] / sw['peak_rss']:.2f}×"
            cold = r.get("cold_total")
            lines.append(
                f"| {cname} | {sim} | {r['t_import']:.2f} | {r['t_build']:.2f} | "
                f"{r['t_sim']:.2f} | {r['t_total']:.2f} | {r['c_total']:.2f} | "
                f"{r['process_wall']:.2f} | {_mib(r['peak_rss']):.0f} | "
                f"{r['events_per_s']:.3g} | {r['rate_e']:.2f} / {r['rate_i']:.2f} | "
                f"{'–' if cold is None else f'{cold:.2f}'} | {r['load']:.1f} | {ratio} | "
                f"{cratio} | {rss} |")
    return "\n".join(lines)


def ab_compare(old_src: Path, cases: list[str], pairs: int) -> dict:
    """Alternate spikewire runs of ``old_src`` and of this checkout's ``src``; print ratios."""
    import statistics

    new_src = HERE.parent / "src"
    out = {}
    for cname in cases:
        case = CASES[cname]
        for src in (old_src, new_src):  # warm the numba caches of both trees
            run_worker("spikewire", case, duration=min(0.05, case["duration"]),
                       pythonpath=str(src))
        runs = {"old": [], "new": []}
        for k in range(pairs):
            order = (("old", old_src), ("new", new_src))
            for label, src in order if k % 2 == 0 else order[::-1]:
                r = run_worker("spikewire", case, pythonpath=str(src))
                runs[label].append(r)
                print(f"[{cname}] {label}: sim {r['t_sim']:.3f} s (cpu {r['c_sim']:.3f} s), "
                      f"total {r['t_total']:.3f} s, {r['n_spikes']} spikes, "
                      f"load {r['load']:.1f}", flush=True)
        res = {}
        for key in ("t_sim", "c_sim", "t_total", "c_total"):
            med = {lab: statistics.median(r[key] for r in rs) for lab, rs in runs.items()}
            res[key] = {**med, "ratio_new_old": med["new"] / med["old"]}
            print(f"[{cname}] {key}: old {med['old']:.3f} s, new {med['new']:.3f} s, "
                  f"new/old = {med['new'] / med['old']:.3f}", flush=True)
        res["same_spike_counts"] = ({r["n_spikes"] for r in runs["old"]}
                                    == {r["n_spikes"] for r in runs["new"]})
        res["runs"] = runs
        out[cname] = res
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="base,n50k,dt30,mem",
                    help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--sims", default="spikewire,brian2,nest")
    ap.add_argument("--repeats", type=int, default=1,
                    help="timed runs per (simulator, case); the fastest total is reported")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up runs")
    ap.add_argument("--json", type=Path, default=HERE / "engine_results.json")
    ap.add_argument("--ab", type=Path, default=None, metavar="OLD_SRC",
                    help="before/after: alternate spikewire runs of OLD_SRC and of ./src")
    a = ap.parse_args(argv)
    if a.ab is not None:
        cases = a.cases.split(",") if a.cases != "base,n50k,dt30,mem" else ["base"]
        res = ab_compare(a.ab, cases, max(1, a.repeats))
        a.json.write_text(json.dumps({"machine": machine(), "ab": res}, indent=1))
        return 0
    sims = a.sims.split(",")
    info = machine()
    versions = {}
    results: dict[str, dict] = {}
    for cname in a.cases.split(","):
        case = CASES[cname]
        results[cname] = {}
        for sim in case["sims"]:
            if sim not in sims:
                continue
            print(f"[{cname}] {sim} ...", flush=True)
            try:
                cold = None
                if not a.no_warmup and sim != "nest":  # NEST compiles nothing at run time
                    w = run_worker(sim, case, duration=min(0.05, case["duration"]))
                    cold = w["t_total"]
                runs = [run_worker(sim, case) for _ in range(max(1, a.repeats))]
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                print(f"   failed: {e}", flush=True)
                results[cname][sim] = {"error": str(e)}
                continue
            best = min(runs, key=lambda r: r["t_total"])
            best["all_totals"] = [r["t_total"] for r in runs]
            best["cold_total"] = cold
            best["max_peak_rss"] = max(r["peak_rss"] for r in runs)
            versions[sim] = best["version"]
            results[cname][sim] = best
            print(f"   build {best['t_build']:.2f} s, sim {best['t_sim']:.2f} s, "
                  f"peak {_mib(best['peak_rss']):.0f} MiB, rate {best['rate']:.2f} Hz, "
                  f"{best['events_per_s']:.3g} events/s", flush=True)
    import numpy

    info["versions"] = ", ".join([f"{k} {v}" for k, v in versions.items()]
                                 + [f"numpy {numpy.__version__}"])
    try:
        import numba

        info["versions"] += f", numba {numba.__version__}"
    except ImportError:
        pass
    cmd = "benchmarks/.venv-engine/bin/python benchmarks/bench_engine.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    a.json.write_text(json.dumps({"machine": info, "results": results, "command": cmd},
                                 indent=1))
    md = markdown(results, info, cmd.strip())
    print()
    print(md)
    ok = True
    print()
    for cname, rows in results.items():
        sw = rows.get("spikewire")
        if not sw or "error" in sw:
            continue
        for sim, goal in GOALS.items():
            r = rows.get(sim)
            if not r or "error" in r:
                continue
            x = r["t_total"] / sw["t_total"]
            m = sw["peak_rss"] < r["peak_rss"]
            ok &= x >= goal and m
            print(f"{cname}: spikewire is {x:.1f}× faster than {sim} (goal ≥ {goal:g}×: "
                  f"{'met' if x >= goal else 'MISSED'}); peak memory "
                  f"{'lower' if m else 'NOT lower'}")
        if cname == "mem":
            m = sw["peak_rss"] <= MEM_LIMIT
            ok &= m
            print(f"mem: 10^8 synapses built + 0.1 s simulated in "
                  f"{sw['peak_rss'] / 2**30:.2f} GiB (goal ≤ 2 GiB: {'met' if m else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
