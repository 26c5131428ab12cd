"""Messy spike data handled in the open: every problem detected, counted and handled by a
documented rule, nothing dropped silently.

All readers of :mod:`spikewire.io` pass their flat ``(times, unit ids)`` arrays, in file
order, through :func:`clean_spikes`. The rules, in the order they are applied:

1. **Non-finite times** (NaN, ±inf) are dropped and counted per unit (``non_finite``).
2. **Non-monotonic clocks**: a unit's train that is in time order (in file order) except
   for a few backward jumps larger than ``clock_jump`` (default 1 s; at most one per 1,000
   spikes) has a clock reset (segments concatenated with their own zero, a wrapped
   counter). With ``on_clock_reset="error"`` (default) this raises a
   :class:`DataError` naming the source, unit and position: sorting would overlay the
   segments and fake correlations. ``"sort"`` treats them as unsorted times instead.
3. **Unsorted times** (any other backward steps) are sorted; the backward steps are counted
   per unit (``unsorted``).
4. **Spikes outside the declared interval** ``[t_start, t_stop)`` are dropped and counted
   per unit (``outside_interval``).
5. **Duplicate spikes**: spikes of one unit within ``duplicate_window`` (default 0.2 ms,
   double counts from overlapping templates) of the previous kept spike are dropped and
   counted per unit (``duplicates``).
6. **Refractory-period violations**: inter-spike intervals shorter than
   ``refractory_period`` (default 1.5 ms) are counted (``refractory_violations``) and
   give the contamination estimate of Hill et al. (2011), :func:`hill_contamination`.
   Spikes are kept; units whose contamination exceeds ``max_contamination`` (default:
   no limit) are dropped with the reason ``contaminated``.
7. **Too few spikes**: units with fewer than ``min_spikes`` spikes (default 0: keep all)
   are dropped with the reason ``too_few_spikes``.
8. **Units active only in part of the recording**: a unit whose longest silence (edges
   included) exceeds ``partial_fraction`` (default 20 %) of the window *and* is improbable
   for a Poisson process at the unit's mean rate (expected number of such silences below
   10⁻³) is flagged ``partially_active`` (its active fraction is reported); it is kept
   unless ``drop_partially_active=True``.
9. **Gaps between segments**: stretches longer than ``gap_threshold`` (default: the larger
   of 1 s and 50 mean population inter-spike intervals) without a spike of any unit are
   listed in :attr:`QualityReport.gaps` (kept; declared gaps, e.g. NWB ``obs_intervals``,
   are handled by the reader).

Reference: Hill DN, Mehta SB, Kleinfeld D (2011) Quality metrics to accompany spike
sorting of extracellular signals. J Neurosci 31:8699–8705.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spikewire._validation import check_finite, check_int, check_positive
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["DataError", "QualityReport", "clean_spikes", "hill_contamination"]


class DataError(ValueError):
    """A file or data set that cannot be read as spikes; the message names the source and
    the problem."""


def hill_contamination(n_violations, n_spikes, duration: float, refractory_period: float,
                       censored_period: float = 0.0) -> np.ndarray:
    """Fraction of a unit's spikes from other neurons (Hill et al. 2011, eq. 2).

    Solves ``r = 2 (τ_r − τ_c) N² F (1 − F) / T`` for the contamination ``F`` (the smaller
    root), where ``r`` is the number of refractory violations, ``N`` the number of spikes,
    ``T`` the duration and ``τ_r``/``τ_c`` the refractory and censored periods.

    Parameters
    ----------
    n_violations, n_spikes : array_like of int
        Refractory violations and spikes per unit.
    duration : float
        Recording length in s.
    refractory_period : float
        Refractory period τ_r in s.
    censored_period : float, default 0
        Period τ_c in s in which no spike can be detected (e.g. the duplicate window).

    Returns
    -------
    ndarray of float
        Contamination in [0, 0.5]; 1.0 where the violations exceed what even F = 0.5 can
        explain (the unit is noise); NaN for units without spikes.
    """
    r = np.asarray(n_violations, dtype=float)
    n = np.asarray(n_spikes, dtype=float)
    width = float(refractory_period) - float(censored_period)
    if width <= 0:
        raise ValueError(f"refractory_period ({refractory_period} s) must exceed the censored "
                         f"period ({censored_period} s)")
    with np.errstate(divide="ignore", invalid="ignore"):
        k = r * float(duration) / (2.0 * width * n * n)
        disc = 1.0 - 4.0 * k
        f = np.where(disc >= 0, 0.5 * (1.0 - np.sqrt(np.maximum(disc, 0.0))), 1.0)
    return np.where(n > 0, f, np.nan)


@dataclass
class QualityReport:
    """What :func:`clean_spikes` found and did.

    Attributes
    ----------
    source : str
        File or object the spikes came from.
    rules : dict
        The settings of every rule (see the module docstring).
    per_unit : pandas.DataFrame
        One row per unit id seen in the source: ``n_spikes_raw``, ``non_finite``,
        ``unsorted``, ``clock_resets``, ``outside_interval``, ``duplicates``,
        ``refractory_violations``, ``contamination``, ``active_fraction``,
        ``partially_active``, ``n_spikes`` (kept), ``status`` ("ok" or why it was dropped).
    gaps : list of (float, float)
        Stretches (s) without a spike of any kept unit longer than the gap threshold.
    notes : list of str
        Other findings (declared gaps, dropped units of the reader's own selection, ...).
    """

    source: str
    rules: dict
    per_unit: pd.DataFrame
    gaps: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def dropped(self) -> pd.DataFrame:
        """Units that were dropped, with the reason in ``status``."""
        return self.per_unit[self.per_unit["status"] != "ok"]

    def totals(self) -> dict:
        """Counts summed over units (spikes dropped or flagged by each rule)."""
        pu = self.per_unit
        out = {k: int(pu[k].sum()) for k in ("n_spikes_raw", "non_finite", "unsorted",
                                             "clock_resets", "outside_interval", "duplicates",
                                             "refractory_violations", "n_spikes")
               if k in pu}
        out["units_seen"] = int(len(pu))
        out["units_kept"] = int((pu["status"] == "ok").sum())
        out["partially_active"] = int(pu["partially_active"].sum())
        out["gaps"] = len(self.gaps)
        return out

    def to_dict(self) -> dict:
        """JSON-friendly form (kept in ``SpikeTrains.annotations["quality"]``)."""
        return {"source": self.source, "rules": dict(self.rules), "totals": self.totals(),
                "gaps": [list(map(float, g)) for g in self.gaps], "notes": list(self.notes),
                "dropped": {int(u): str(s) for u, s in
                            zip(self.dropped["unit"], self.dropped["status"], strict=True)}}

    def summary(self) -> str:
        """Human-readable lines: every rule's count and every dropped unit with its reason."""
        t = self.totals()
        lines = [f"source: {self.source}",
                 f"units: {t['units_kept']} kept of {t['units_seen']}; spikes: "
                 f"{t['n_spikes']} kept of {t['n_spikes_raw']}"]
        for key, what in (("non_finite", "non-finite spike times dropped"),
                          ("clock_resets", "clock resets (backward jumps) sorted"),
                          ("unsorted", "unsorted spike times sorted"),
                          ("outside_interval", "spikes outside the interval dropped"),
                          ("duplicates", "duplicate spikes dropped"),
                          ("refractory_violations", "refractory-period violations (kept)")):
            lines.append(f"  {what}: {t.get(key, 0)}")
        lines.append(f"  units active only in part of the recording: {t['partially_active']}")
        lines.append(f"  gaps without any spike: {t['gaps']}"
                     + (" (" + ", ".join(f"{a:g}-{b:g} s" for a, b in self.gaps[:5])
                        + (", ..." if len(self.gaps) > 5 else "") + ")" if self.gaps else ""))
        for u, s in zip(self.dropped["unit"], self.dropped["status"], strict=True):
            lines.append(f"  dropped unit {u}: {s}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _segment_ids(ids: np.ndarray):
    """Positions grouping ``ids`` (stable) and the unique ids."""
    uniq, inv = np.unique(ids, return_inverse=True)
    return uniq, inv.astype(np.int64, copy=False)


def clean_spikes(times, unit_ids, *, t_start: float | None = None, t_stop: float | None = None,
                 units=None, source: str = "<array>", min_spikes: int = 0,
                 duplicate_window: float = 2e-4, refractory_period: float = 1.5e-3,
                 max_contamination: float | None = None, clock_jump: float = 1.0,
                 on_clock_reset: str = "error", partial_fraction: float = 0.2,
                 drop_partially_active: bool = False, gap_threshold: float | None = None,
                 excluded: dict | None = None, annotations: dict | None = None,
                 ) -> tuple[SpikeTrains, QualityReport]:
    """Apply the messy-data rules (module docstring) and build validated spike trains.

    Parameters
    ----------
    times : array_like of float
        Spike times in s, in file order.
    unit_ids : array_like of int
        Unit of each spike (same length).
    t_start, t_stop : float, optional
        Declared interval in s; spikes outside are dropped and counted. Defaults:
        ``min(0, first spike)`` and just after the last spike.
    units : array_like of int, optional
        All units of the source, including silent ones (default: those with spikes).
    source : str
        Name of the file / object, used in messages and the report.
    min_spikes : int, default 0
        Units with fewer kept spikes are dropped (reason ``too_few_spikes``).
    duplicate_window : float, default 0.2 ms
        Spikes of one unit closer than or equal to this (s) to the previous kept spike are
        duplicates and dropped; 0 drops only exact repeats.
    refractory_period : float, default 1.5 ms
        Inter-spike intervals shorter than this (s) count as violations.
    max_contamination : float, optional
        Drop units whose Hill contamination exceeds this fraction (default: keep all).
    clock_jump : float, default 1 s
        A backward step larger than this within one unit's train is a clock reset.
    on_clock_reset : {"error", "sort"}, default "error"
        Raise :class:`DataError`, or sort the times like any unsorted ones.
    partial_fraction : float, default 0.2
        Longest silence (fraction of the window) from which a unit is partially active.
    drop_partially_active : bool, default False
        Drop partially active units (reason ``partially_active``) instead of flagging them.
    gap_threshold : float, optional
        Population silences longer than this (s) are listed as gaps (default: max(1 s, 50
        mean population inter-spike intervals)).
    excluded : dict, optional
        Units left out by the reader's own selection (unit id → reason, e.g.
        ``"not selected: quality='noise'"``); they are counted and listed, not kept.
    annotations : dict, optional
        Kept in the spike trains' annotations (the report is added under ``"quality"``).

    Returns
    -------
    spikes : SpikeTrains
        Kept units and spikes, sorted.
    report : QualityReport
    """
    times = np.asarray(times)
    ids = np.asarray(unit_ids)
    if times.ndim != 1 or ids.ndim != 1:
        raise DataError(f"{source}: spike times and unit ids must be 1-D, got shapes "
                        f"{times.shape} and {ids.shape}")
    if times.shape != ids.shape:
        raise DataError(f"{source}: {times.size} spike times but {ids.size} unit ids; the "
                        "arrays must have one entry per spike")
    if times.size and not (np.issubdtype(times.dtype, np.number) and
                           not np.issubdtype(times.dtype, np.complexfloating)):
        raise DataError(f"{source}: spike times must be numbers, got dtype {times.dtype}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        if np.issubdtype(ids.dtype, np.floating) and np.all(np.isfinite(ids)) and \
                np.all(np.mod(ids, 1) == 0):
            ids = ids.astype(np.int64)
        else:
            raise DataError(f"{source}: unit ids must be integers, got dtype {ids.dtype}")
    times = times.astype(np.float64, copy=False)
    ids = ids.astype(np.int64, copy=False)
    check_int("min_spikes", min_spikes, minimum=0)
    duplicate_window = check_positive("duplicate_window", duplicate_window, allow_zero=True,
                                      unit="s")
    refractory_period = check_positive("refractory_period", refractory_period, unit="s")
    clock_jump = check_positive("clock_jump", clock_jump, unit="s")
    if on_clock_reset not in ("error", "sort"):
        raise ValueError(f"on_clock_reset must be 'error' or 'sort', got {on_clock_reset!r}")
    if max_contamination is not None:
        max_contamination = check_positive("max_contamination", max_contamination)

    all_units = np.unique(ids) if units is None else np.asarray(units, dtype=np.int64).ravel()
    if units is not None:
        extra = np.setdiff1d(np.unique(ids), all_units)
        if extra.size:
            raise DataError(f"{source}: spikes of unit(s) {extra[:10].tolist()} that are not "
                            "in the unit list")
    n_u = all_units.size
    order_u = np.argsort(all_units, kind="stable")
    # each spike's unit position; int32 (half the memory of int64 at tens of millions of
    # spikes; a source with 2**31 units is not a recording)
    pos = (order_u[np.searchsorted(all_units[order_u], ids)] if ids.size else ids).astype(
        np.int32 if n_u < 2**31 else np.int64)
    del ids
    raw = np.bincount(pos, minlength=n_u)

    # 1. non-finite
    fin = np.isfinite(times)
    non_finite = np.bincount(pos[~fin], minlength=n_u)
    if not fin.all():
        times, pos = times[fin], pos[fin]
    del fin

    # 2./3. order within each unit, in file order
    if pos.size < 2 or np.all(pos[1:] >= pos[:-1]):     # already grouped (NWB, npz)
        gt, gp = times, pos
    else:
        grp = np.argsort(pos, kind="stable")
        gt, gp = times[grp], pos[grp]
        del grp
    # the grouped arrays are the ones used from here; dropping these names lets the
    # rules' filtered copies replace them instead of adding to them (memory at scale)
    del times, pos
    same = gp[1:] == gp[:-1]
    step = np.diff(gt)
    back = same & (step < 0)
    big = back & (step < -clock_jump)
    n_back = np.bincount(gp[1:][back], minlength=n_u)
    n_big = np.bincount(gp[1:][big], minlength=n_u)
    n_per = np.bincount(gp, minlength=n_u)
    # a clock reset: a train in time order except for a few large backward jumps; a train
    # with many backward steps is merely unsorted (e.g. spikes listed out of order)
    reset_unit = (n_big > 0) & (n_back == n_big) & (n_back <= np.maximum(1, n_per // 1000))
    resets = big & reset_unit[gp[1:]]
    clock_resets = np.bincount(gp[1:][resets], minlength=n_u)
    if resets.any() and on_clock_reset == "error":
        k = int(np.flatnonzero(resets)[0])
        raise DataError(
            f"{source}: the clock of unit {int(all_units[gp[k]])} jumps back from "
            f"{float(gt[k])!r} s to {float(gt[k + 1])!r} s ({int(resets.sum())} such reset(s) "
            f"in {int((clock_resets > 0).sum())} unit(s)); the file probably concatenates "
            "segments that each start at their own zero. Read one segment at a time, or pass "
            "on_clock_reset='sort' to sort the times anyway")
    unsorted = np.bincount(gp[1:][back & ~resets], minlength=n_u)
    any_back = bool(back.any())
    del same, step, back, big, resets
    if any_back:
        o = np.lexsort((gt, gp))
        gt, gp = gt[o], gp[o]
        del o

    # 4. declared interval
    if t_start is None:
        t_start = min(0.0, float(gt.min())) if gt.size else 0.0
    t_start = check_finite("t_start", t_start, unit="s")
    if t_stop is None:
        with np.errstate(over="ignore"):
            t_stop = float(np.nextafter(gt.max(), np.inf)) if gt.size else t_start
        if not np.isfinite(t_stop):
            raise DataError(f"{source}: spike time {float(gt.max())!r} s is too large to "
                            "end a recording window; pass t_stop or drop those spikes")
    t_stop = check_finite("t_stop", t_stop, unit="s")
    if t_stop < t_start:
        raise ValueError(f"t_stop ({t_stop} s) must be >= t_start ({t_start} s)")
    inside = (gt >= t_start) & (gt < t_stop)
    outside = np.bincount(gp[~inside], minlength=n_u)
    if not inside.all():
        gt, gp = gt[inside], gp[inside]
    del inside

    # 5. duplicates (within duplicate_window of the previous *kept* spike of the unit)
    dup_mask = _duplicates(gt, gp, duplicate_window)
    duplicates = np.bincount(gp[dup_mask], minlength=n_u)
    if dup_mask.any():
        gt, gp = gt[~dup_mask], gp[~dup_mask]
    del dup_mask

    # 6. refractory violations and contamination
    isi_same = gp[1:] == gp[:-1]
    viol = isi_same & (np.diff(gt) < refractory_period)
    violations = np.bincount(gp[1:][viol], minlength=n_u)
    del viol
    counts = np.bincount(gp, minlength=n_u)
    duration = t_stop - t_start
    contamination = hill_contamination(violations, counts, max(duration, 1e-12),
                                       refractory_period,
                                       min(duplicate_window, 0.5 * refractory_period))

    # 8. partial activity: the longest silence of each unit, edges included
    indptr = np.concatenate([[0], np.cumsum(counts)])
    longest = np.full(n_u, duration)
    if gt.size:
        first = gt[indptr[:-1].clip(max=gt.size - 1)]
        last = gt[(indptr[1:] - 1).clip(min=0)]
        has = counts > 0
        edge = np.maximum(first - t_start, t_stop - last)
        inner = np.zeros(n_u)
        if isi_same.any():
            d = np.diff(gt)[isi_same]
            np.maximum.at(inner, gp[1:][isi_same], d)
        longest = np.where(has, np.maximum(edge, inner), duration)
    rate = counts / max(duration, 1e-12)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = (counts + 1) * np.exp(-rate * longest)
    partial = (counts > 0) & (longest > partial_fraction * duration) & (expected < 1e-3)
    active_fraction = np.where(counts > 0, 1.0 - longest / max(duration, 1e-12), 0.0)

    status = np.array(["ok"] * n_u, dtype=object)
    for u, why in (excluded or {}).items():
        hit = np.flatnonzero(all_units == int(u))
        if hit.size:
            status[hit[0]] = str(why)
    if max_contamination is not None:
        status[np.nan_to_num(contamination, nan=0.0) > max_contamination] = "contaminated"
    status[(counts < min_spikes) & (status == "ok")] = "too_few_spikes"
    if drop_partially_active:
        status[partial & (status == "ok")] = "partially_active"

    per_unit = pd.DataFrame({
        "unit": all_units, "n_spikes_raw": raw, "non_finite": non_finite,
        "clock_resets": clock_resets, "unsorted": unsorted, "outside_interval": outside,
        "duplicates": duplicates, "refractory_violations": violations,
        "contamination": contamination, "active_fraction": active_fraction,
        "partially_active": partial, "n_spikes": counts, "status": status})

    keep = status == "ok"
    keep_pos = np.flatnonzero(keep)
    del isi_same
    spike_keep = keep[gp]
    del gp
    kt = gt[spike_keep]          # a copy: the trains never share the caller's array
    del gt, spike_keep
    new_counts = counts[keep_pos]
    st = SpikeTrains(kt, np.concatenate([[0], np.cumsum(new_counts)]), all_units[keep_pos],
                     t_start, t_stop, dict(annotations or {}))

    # 9. population gaps
    gaps = _population_gaps(kt, t_start, t_stop, gap_threshold)
    rules = {"duplicate_window": duplicate_window, "refractory_period": refractory_period,
             "min_spikes": int(min_spikes), "max_contamination": max_contamination,
             "clock_jump": clock_jump, "on_clock_reset": on_clock_reset,
             "partial_fraction": float(partial_fraction),
             "drop_partially_active": bool(drop_partially_active),
             "gap_threshold": gap_threshold, "t_start": t_start, "t_stop": t_stop}
    report = QualityReport(source=source, rules=rules, per_unit=per_unit, gaps=gaps)
    st.annotations["quality"] = report.to_dict()
    return st, report


def _duplicates(gt: np.ndarray, gp: np.ndarray, window: float) -> np.ndarray:
    """Mask of duplicates: spikes within ``window`` of the previous kept spike of the unit."""
    mask = np.zeros(gt.size, dtype=bool)
    if gt.size < 2:
        return mask
    close = (gp[1:] == gp[:-1]) & (np.diff(gt) <= window)
    if not close.any():
        return mask
    # chains of close spikes need the sequential rule (keep a spike only if it is farther
    # than window from the last kept one); only those few chains are walked in Python
    idx = np.flatnonzero(close) + 1
    last_kept_t, last_unit = -math.inf, -1
    prev = -2
    for i in idx:
        if i - 1 != prev or gp[i] != last_unit:      # a new chain starts at spike i - 1
            last_kept_t, last_unit = gt[i - 1], gp[i - 1]
        if gt[i] - last_kept_t <= window:
            mask[i] = True
        else:
            last_kept_t = gt[i]
        prev = i
    return mask


def _population_gaps(times_grouped: np.ndarray, t_start: float, t_stop: float,
                     threshold: float | None) -> list[tuple[float, float]]:
    """Stretches longer than ``threshold`` without a spike of any unit (exact edges).

    Every such gap contains a whole empty bin of width ``threshold / 2``, so occupancy bins
    find the candidates in one pass without sorting all spikes; the exact edges are the
    last spike before and the first spike after each run of empty bins.
    """
    t = times_grouped
    if t.size == 0:
        return [(t_start, t_stop)] if threshold and t_stop - t_start > threshold else []
    if threshold is None:
        mean_isi = (t_stop - t_start) / t.size
        threshold = max(1.0, 50.0 * mean_isi)
    width = threshold / 2.0
    span = (t_stop - t_start) / width
    # absurd windows (too many bins, or times near the float limit, where the automatic
    # threshold overflows to inf and no bin is left): fall back to sorting
    n_bins = int(math.ceil(span)) if math.isfinite(span) else 0
    if n_bins < 1 or n_bins > 50_000_000:
        edges = np.concatenate([[t_start], np.sort(t), [t_stop]])
        big = np.flatnonzero(np.diff(edges) > threshold)
        return [(float(edges[k]), float(edges[k + 1])) for k in big]
    idx = np.minimum(((t - t_start) / width).astype(np.int64), n_bins - 1)
    occupied = np.zeros(n_bins, dtype=bool)
    occupied[idx] = True
    empty = ~occupied
    if not empty.any():
        return []
    d = np.diff(np.concatenate([[0], empty.view(np.int8), [0]]))
    run_starts, run_ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    # exact edges: the latest spike of the occupied bin before each run, the earliest of
    # the occupied bin after it
    need = np.unique(np.concatenate([run_starts - 1, run_ends]))
    need = need[(need >= 0) & (need < n_bins)]
    sel = np.isin(idx, need)
    b_max = np.full(n_bins if need.size else 0, -np.inf)
    b_min = np.full(n_bins if need.size else 0, np.inf)
    if need.size:
        np.maximum.at(b_max, idx[sel], t[sel])
        np.minimum.at(b_min, idx[sel], t[sel])
    gaps = []
    for a, b in zip(run_starts, run_ends, strict=True):
        before = float(b_max[a - 1]) if a > 0 else t_start
        after = float(b_min[b]) if b < n_bins else t_stop
        if after - before > threshold:
            gaps.append((before, after))
    return gaps
