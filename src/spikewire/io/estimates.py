"""Estimates written where users keep their data: tidy tables (CSV / Parquet) and an
analysis table inside an existing NWB file (its original contents untouched)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from spikewire.infer.estimate import PAIR_STATUS, Estimate

__all__ = ["estimate_table", "write_estimate", "add_estimate_to_nwb", "read_estimate_nwb",
           "ESTIMATE_COLUMNS"]

#: Columns of :func:`estimate_table`, in order.
ESTIMATE_COLUMNS = ("pre", "post", "weight", "p_value", "q_value", "sign", "delay", "score",
                    "status", "method", "weight_unit", "settings")


def _settings_json(settings: dict) -> str:
    from spikewire.core.spiketrains import jsonable

    return json.dumps(jsonable(settings), sort_keys=True)


def _changed_settings(estimate: Estimate) -> dict:
    """The estimate's settings that differ from its method's defaults."""
    import inspect

    from spikewire.infer import get_method_class

    try:
        params = inspect.signature(get_method_class(estimate.method).__init__).parameters
    except ValueError:          # a method that is not registered: keep everything
        return dict(estimate.settings)
    out = {}
    for k, v in estimate.settings.items():
        p = params.get(k)
        if p is None or p.default is inspect.Parameter.empty or not _same(p.default, v):
            out[k] = v
    return out


def _same(a, b) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b))) and np.shape(a) == np.shape(b)
    except (TypeError, ValueError):
        return False


def estimate_table(estimate: Estimate, *, alpha: float | None = None,
                   correction: str | None = None, only_tested: bool = True,
                   settings: str = "full") -> pd.DataFrame:
    """One row per (pre, post) pair of an :class:`~spikewire.infer.Estimate`.

    Columns: ``pre``, ``post`` (unit ids), ``weight`` (in ``weight_unit``), ``p_value``
    (raw), ``q_value`` (adjusted with ``correction`` over the tested pairs, as the
    ``sign`` column is decided: Benjamini–Hochberg q, Bonferroni or local FDR; see
    :meth:`~spikewire.infer.Estimate.adjusted_pvalues`), ``sign`` (+1/−1 significant at
    ``alpha`` after ``correction``, else 0), ``delay`` (s), ``score``, ``status`` (why a
    pair was not tested), ``method``, ``weight_unit``, ``settings`` (JSON of the method's
    settings).
    The text columns are categoricals (each distinct text stored once), so the table of
    3,000 units (9 M rows) stays well under 1 GB.

    Parameters
    ----------
    estimate : Estimate
    alpha, correction : optional
        Default: the estimate's own.
    only_tested : bool, default True
        Leave out the diagonal (self pairs).
    settings : {"full", "changed"}, default "full"
        The ``settings`` column holds all of the method's settings, or only those that
        differ from the method's defaults (a much smaller CSV for large estimates).
    """
    if settings not in ("full", "changed"):
        raise ValueError(f"settings must be 'full' or 'changed', got {settings!r}")
    if not isinstance(estimate, Estimate):
        raise TypeError(f"expected an Estimate, got {type(estimate).__name__}")
    correction = estimate.correction if correction is None else correction
    n = estimate.n_units
    post, pre = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    p = np.full((n, n), np.nan) if estimate.pvalues is None else estimate.pvalues
    # the adjusted values the sign column is decided on (a small-problem switched
    # estimate's local FDR included); NaN for an estimate without p-values, as before
    q = (estimate.adjusted_pvalues(correction) if estimate.pvalues is not None
         else np.full((n, n), np.nan))
    adj = estimate.adjacency(alpha, correction)
    frame = pd.DataFrame({
        "pre": estimate.units[pre.ravel()].astype(np.int64),
        "post": estimate.units[post.ravel()].astype(np.int64),
        "weight": estimate.weights.ravel(),
        "p_value": p.ravel(),
        "q_value": q.ravel(),
        "sign": adj.ravel().astype(np.int8),
        "delay": (np.full(n * n, np.nan) if estimate.delays is None
                  else estimate.delays.ravel()),
        "score": (np.full(n * n, np.nan) if estimate.scores is None
                  else estimate.scores.ravel()),
        # text columns as categoricals: one small code per row instead of a copy of the
        # text (the full settings' JSON repeated over the 9 M rows of 3,000 units took
        # 4 GB); Parquet stores them dictionary-encoded, the CSV as plain text
        "status": pd.Categorical.from_codes(_status_index(estimate.pair_status.ravel()),
                                            list(PAIR_STATUS.values())),
        "method": _constant(estimate.method, n * n),
        "weight_unit": _constant(estimate.weight_unit, n * n),
        "settings": _constant(_settings_json(estimate.settings if settings == "full"
                                             else _changed_settings(estimate)), n * n),
    })
    if only_tested:
        frame = frame[estimate.pair_status.ravel() != 1].reset_index(drop=True)
    return frame


def _constant(text: str, size: int) -> pd.Categorical:
    """A column of ``size`` rows holding ``text``, stored once (categorical)."""
    return pd.Categorical.from_codes(np.zeros(size, dtype=np.int8), [text])


def _status_index(codes: np.ndarray) -> np.ndarray:
    keys = np.asarray(list(PAIR_STATUS.keys()))
    return np.searchsorted(keys, codes)


def write_estimate(estimate: Estimate, path: str | Path, **kwargs) -> Path:
    """Write :func:`estimate_table` to ``.csv`` or ``.parquet`` (by suffix)."""
    path = Path(path)
    frame = estimate_table(estimate, **kwargs)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False, float_format="%.17g")
    else:
        raise ValueError(f"unknown estimate table format {suffix!r}; use .csv or .parquet")
    return path


def add_estimate_to_nwb(path: str | Path, estimate: Estimate, *, name: str | None = None,
                        module: str = "spikewire", alpha: float | None = None,
                        correction: str | None = None) -> str:
    """Append an estimate as an analysis table to an existing NWB file.

    The table (columns of :func:`estimate_table`) goes into the processing module
    ``module`` (created if needed) under ``name`` (default ``"<method>_estimate"``, then
    ``_2``, ``_3``, ... if taken). The file is opened in append mode and only the new
    objects are written; the original groups and datasets are not modified.

    Returns
    -------
    str
        The table's name.
    """
    import pynwb
    from hdmf.common import DynamicTable

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NWB file {path} does not exist")
    frame = estimate_table(estimate, alpha=alpha, correction=correction)
    with pynwb.NWBHDF5IO(str(path), "a") as io:
        nwb = io.read()
        if module in nwb.processing:
            mod = nwb.processing[module]
        else:
            mod = nwb.create_processing_module(module, "spikewire connectivity estimates")
        base = name or f"{estimate.method}_estimate"
        table_name, k = base, 1
        while table_name in mod.data_interfaces:
            k += 1
            table_name = f"{base}_{k}"
        table = DynamicTable(name=table_name, description=(
            f"post x pre connectivity estimate by {estimate.method}; one row per pair; "
            f"weight in {estimate.weight_unit}; delay in s; settings as JSON"),
            id=np.arange(len(frame)))
        for col in ESTIMATE_COLUMNS:
            vals = frame[col].to_numpy()
            if vals.dtype == object:
                vals = [str(v) for v in vals]
            table.add_column(name=col, description=col, data=vals)
        mod.add(table)
        io.write(nwb)
    return table_name


def read_estimate_nwb(path: str | Path, name: str, *, module: str = "spikewire",
                      ) -> pd.DataFrame:
    """Read an estimate table written by :func:`add_estimate_to_nwb`."""
    import pynwb

    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if module not in nwb.processing or name not in nwb.processing[module].data_interfaces:
            raise KeyError(f"{path} has no table {module}/{name}")
        frame = nwb.processing[module][name].to_dataframe().reset_index(drop=True)
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return frame
