"""Cold-start cost of the compiled kernels: first ``simulate`` in a fresh process.

Each measurement runs a fresh Python subprocess that imports spikewire, builds a Brunel
network and simulates it twice; the first call pays numba's compilation (empty cache) or
its cache load (warm cache), the second call is the warm in-process time. ``NUMBA_CACHE_DIR``
points every run at a private temporary cache, so the "cold" rows really start empty and the
"cached" rows reuse what the cold run of the same round wrote. Rounds alternate cold/cached
so that background load hits both alike. Wall and CPU (process) times are reported; CPU time
is the better figure on a loaded machine.

A second check copies the package into a read-only directory and runs it without
``NUMBA_CACHE_DIR`` and with ``XDG_CACHE_HOME`` set to an empty temporary folder: numba cannot
write next to the sources, falls back to its user-wide cache (``$XDG_CACHE_HOME/numba``) and
the second process must then load instead of compile.

Usage::

    PYTHONPATH=src python benchmarks/bench_coldstart.py [--rounds 3] [--n 2000] [--t 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, time
c0 = time.process_time(); w0 = time.perf_counter()
import spikewire
from spikewire.networks import brunel
w1 = time.perf_counter(); c1 = time.process_time()
net = brunel(n_neurons=N, seed=1)
w2 = time.perf_counter(); c2 = time.process_time()
st = spikewire.simulate(net, T, seed=2)
w3 = time.perf_counter(); c3 = time.process_time()
net2 = brunel(n_neurons=N, seed=1)
w4 = time.perf_counter(); c4 = time.process_time()
st2 = spikewire.simulate(net2, T, seed=2)
w5 = time.perf_counter(); c5 = time.process_time()
assert (st.times == st2.times).all() and (st.unit_ids == st2.unit_ids).all()
print(json.dumps(dict(
    import_wall=w1 - w0, import_cpu=c1 - c0,
    first_wall=(w3 - w1), first_cpu=(c3 - c1), total_wall=w3 - w0, total_cpu=c3 - c0,
    second_wall=(w5 - w3), second_cpu=(c5 - c3),
    build_first=w2 - w1, build_second=w4 - w3, sim_first=w3 - w2, sim_second=w5 - w4,
    n_spikes=int(st.times.size), spikewire=spikewire.__file__)))
"""


def _child(env: dict, n: int, t: float, pythonpath: str, prefix=()) -> dict:
    env = dict(env)
    env["PYTHONPATH"] = pythonpath
    code = f"N = {n}; T = {t}\n" + CHILD
    out = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(tag: str, r: dict) -> str:
    return (f"| {tag} | {r['import_wall']:.2f} / {r['import_cpu']:.2f} "
            f"| {r['first_wall']:.2f} | {r['first_cpu']:.2f} "
            f"| {r['second_wall']:.2f} | {r['second_cpu']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000, help="Brunel network size")
    ap.add_argument("--t", type=float, default=0.2, help="simulated time, s")
    ap.add_argument("--skip-readonly", action="store_true")
    args = ap.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    base = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    print("| run | import wall / CPU s | first build+simulate wall s | CPU s | second wall s "
          "| CPU s |")
    print("|---|---|---|---|---|---|")
    rows = []
    for k in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(base, NUMBA_CACHE_DIR=cache)
            cold = _child(env, args.n, args.t, src)
            warm = _child(env, args.n, args.t, src)
        rows.append((cold, warm))
        print(_row(f"round {k + 1} cold (empty cache)", cold))
        print(_row(f"round {k + 1} cached", warm), flush=True)
    med = sorted(rows, key=lambda cw: cw[0]["first_cpu"])[len(rows) // 2]
    ratio = med[0]["first_cpu"] / med[1]["first_cpu"]
    print(f"\nmedian round: first-call CPU {med[0]['first_cpu']:.2f} s cold vs "
          f"{med[1]['first_cpu']:.2f} s cached ({ratio:.1f}x)")
    if args.skip_readonly:
        return
    _readonly(base, args, src)


def _readonly(base: dict, args, src: str) -> None:
    """Read-only package (and, second case, read-only home): numba's user-wide cache, then
    spikewire's private fallback under ``TMPDIR``. As root, write permission is enforced by
    dropping CAP_DAC_OVERRIDE with ``setpriv``."""
    prefix = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "site" / "spikewire"
        shutil.copytree(Path(src) / "spikewire", pkg,
                        ignore=shutil.ignore_patterns("__pycache__"))
        ro_home = Path(tmp) / "home"
        ro_home.mkdir()
        paths = [pkg.parent, *pkg.rglob("*"), ro_home]
        for p in paths:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        xdg, tmpdir = Path(tmp) / "xdg", Path(tmp) / "tmpdir"
        xdg.mkdir()
        tmpdir.mkdir()
        cases = {"home writable (XDG_CACHE_HOME empty)": dict(base, XDG_CACHE_HOME=str(xdg)),
                 "home read-only too": {**{k: v for k, v in base.items()
                                           if k != "XDG_CACHE_HOME"},
                                        "HOME": str(ro_home), "TMPDIR": str(tmpdir)}}
        try:
            for label, env in cases.items():
                r1 = _child(env, args.n, args.t, str(pkg.parent), prefix)
                r2 = _child(env, args.n, args.t, str(pkg.parent), prefix)
                print(f"\nread-only package directory, {label}, no NUMBA_CACHE_DIR:")
                print(_row("process 1", r1))
                print(_row("process 2", r2))
            print(json.dumps(dict(
                index_files_in_tree=len(list(pkg.rglob("*.nbi"))),
                index_files_in_user_cache=len(list((xdg / "numba").rglob("*.nbi"))),
                index_files_in_tmpdir_fallback=len(list(tmpdir.rglob("*.nbi"))),
                imported_from=r2["spikewire"])))
        finally:
            for p in paths:
                p.chmod(p.stat().st_mode | stat.S_IWUSR)

if __name__ == "__main__":
    main()
