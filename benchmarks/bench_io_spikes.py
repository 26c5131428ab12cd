"""Building and storing large spike trains: ``SpikeTrains.from_times``, the time-ordered view
and NPZ / Parquet round trips at 1,000 units × 1 h (32 M spikes).

The former implementation of ``from_times`` (``np.unique`` + ``searchsorted`` + a stable
argsort, or ``np.lexsort`` with ``sort=True``) is copied here as the reference (the ``times``
view is unchanged, ``np.lexsort``; its row only shows its cost at this size); old and new
run alternately in the same process on the same arrays, and the outputs are checked to be
identical. Wall and CPU (process) times.

Usage::

    PYTHONPATH=src python benchmarks/bench_io_spikes.py [--n-spikes 32e6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from spikewire import SpikeTrains


def old_from_times(times, ids, t_stop, sort):
    """The former ``from_times`` core (validation of finiteness/range omitted in both)."""
    unit_arr = np.unique(ids)
    order_units = np.argsort(unit_arr, kind="stable")
    pos = order_units[np.searchsorted(unit_arr[order_units], ids)]
    if sort:
        order = np.lexsort((times, pos))
    else:
        order = np.argsort(pos, kind="stable")
        grouped, gpos = times[order], pos[order]
        bad = np.flatnonzero((np.diff(grouped) < 0) & (gpos[1:] == gpos[:-1]))
        if bad.size:
            raise ValueError("unsorted")
    counts = np.bincount(pos, minlength=unit_arr.size)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return SpikeTrains(times[order], indptr, unit_arr, 0.0, t_stop)


def old_times_view(st):
    pos = np.repeat(np.arange(st.n_units), np.diff(st.indptr))
    order = np.lexsort((pos, st.grouped_times))
    return st.grouped_times[order], st.units[pos[order]]


def _timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-spikes", type=float, default=32e6)
    ap.add_argument("--n-units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-build", action="store_true", help="round trips only")
    args = ap.parse_args()
    n = int(args.n_spikes)
    rng = np.random.default_rng(0)
    times = np.sort(rng.random(n) * args.duration)  # time-ordered, as recorders write them
    ids = rng.integers(0, args.n_units, n)
    shuffled = rng.permutation(n)
    sh = {"t": times[shuffled], "id": ids[shuffled]}
    del shuffled
    T = args.duration
    SpikeTrains.from_times(times[:1000], ids[:1000], t_stop=T)  # compile / load the kernels
    print(f"{n:,} spikes, {args.n_units} units, {T:g} s\n")
    print("| operation | old wall s | old CPU s | new wall s | new CPU s | CPU ratio old/new |")
    print("|---|---|---|---|---|---|")
    cases = {
        "from_times, time-ordered input": (
            lambda: old_from_times(times, ids, T, False),
            lambda: SpikeTrains.from_times(times, ids, t_stop=T)),
        "from_times, shuffled input, sort=True": (
            lambda: old_from_times(sh["t"], sh["id"], T, True),
            lambda: SpikeTrains.from_times(sh["t"], sh["id"], t_stop=T,
                                           sort=True)),
    }
    st_new = SpikeTrains.from_times(times, ids, t_stop=T)
    for label, (old, new) in ({} if args.skip_build else cases).items():
        for r in range(args.rounds):
            a, wo, co = _timed(old)
            b, wn, cn = _timed(new)
            assert a == b and a.grouped_times.tobytes() == b.grouped_times.tobytes()
            print(f"| {label} (round {r + 1}) | {wo:.2f} | {co:.2f} | {wn:.2f} | {cn:.2f} "
                  f"| {co / cn:.1f} |", flush=True)
            st_new = b
    sh.clear()
    for r in range(0 if args.skip_build else args.rounds):
        st_new._flat_cache = None
        (t_old, u_old), wo, co = _timed(lambda: old_times_view(st_new))
        (t_new, u_new), wn, cn = _timed(lambda: (st_new.times, st_new.unit_ids))
        assert t_old.tobytes() == t_new.tobytes() and np.array_equal(u_old, u_new)
        print(f"| .times/.unit_ids view, code unchanged (round {r + 1}) | {wo:.2f} "
              f"| {co:.2f} | {wn:.2f} | {cn:.2f} | {co / cn:.1f} |", flush=True)
    print("\n| round trip (new code) | write wall / CPU s | read wall / CPU s | file MB |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for compress in (False, True):
            path, w_wall, w_cpu = _timed(lambda c=compress: st_new.save(Path(tmp) / "st.npz",
                                                                       compress=c))
            back, r_wall, r_cpu = _timed(lambda p=path: SpikeTrains.load(p))
            assert back == st_new
            print(f"| SpikeTrains.save/.load (.npz, compress={compress}) | {w_wall:.2f} / "
                  f"{w_cpu:.2f} | {r_wall:.2f} / {r_cpu:.2f} | {path.stat().st_size / 1e6:.0f} |",
                  flush=True)
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            return
        pq = Path(tmp) / "spikes.parquet"

        def write_pq():
            pd.DataFrame({"time": st_new.times, "unit": st_new.unit_ids}).to_parquet(
                pq, index=False)

        def read_pq():
            df = pd.read_parquet(pq)
            return SpikeTrains.from_times(df["time"].to_numpy(), df["unit"].to_numpy(),
                                          t_stop=T)

        import pyarrow  # noqa: F401  (imported before timing: its import is not I/O)

        _, w_wall, w_cpu = _timed(write_pq)
        back, r_wall, r_cpu = _timed(read_pq)
        assert back == st_new
        print(f"| (time, unit) table via pandas .parquet + from_times | {w_wall:.2f} / "
              f"{w_cpu:.2f} | {r_wall:.2f} / {r_cpu:.2f} | {pq.stat().st_size / 1e6:.0f} |")


if __name__ == "__main__":
    main()
