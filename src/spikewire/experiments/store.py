"""The result store: one Parquet dataset per experiment, one file per finished job.

Layout of an experiment folder::

    RESULTS_DIR/
      spec.toml          the spec that produced the results (as given)
      meta.json          spikewire version, experiment name, created/updated times
      results/<job_id>.parquet    one row per job (status "ok" or "error")
      artifacts/<job_id>.npz      small arrays for the report (estimate vs truth sample)
      cache/sims/<sim_key>.npz    cached simulations (unless experiment.cache_dir is set)

Every file is written to a temporary name in the same folder and moved into place with
``os.replace`` (atomic on POSIX), so a killed run leaves either a whole row or none; a
resumed run skips the jobs whose row exists with status "ok" and overwrites the rest, so
rows are never lost or duplicated.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ResultStore", "load_results", "query"]


class ResultStore:
    """Reads and writes the results of one experiment under ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.results_dir = self.root / "results"
        self.artifacts_dir = self.root / "artifacts"

    # -- setup ---------------------------------------------------------------------------
    def prepare(self, spec_text: str | None, meta: dict) -> None:
        """Create the folders, check they are writable, save the spec and metadata."""
        try:
            self.results_dir.mkdir(parents=True, exist_ok=True)
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            probe = self.results_dir / f".write-test-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as err:
            raise PermissionError(
                f"result folder {str(self.root)!r} is not writable ({err.strerror or err}); "
                "choose another with --out or experiment.output") from None
        self.clean_temporaries()
        if spec_text is not None:
            self._atomic_write_text(self.root / "spec.toml", spec_text)
        old = self.meta()
        meta = {**old, **meta, "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        meta.setdefault("created", meta["updated"])
        self._atomic_write_text(self.root / "meta.json", json.dumps(meta, indent=2,
                                                                    default=str))

    def meta(self) -> dict:
        p = self.root / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def clean_temporaries(self) -> int:
        """Remove temporary files left by a killed run; returns how many."""
        n = 0
        for folder in (self.results_dir, self.artifacts_dir):
            if folder.exists():
                for p in folder.glob(".*.tmp*"):
                    try:
                        p.unlink()
                        n += 1
                    except OSError:
                        pass
        return n

    @staticmethod
    def _atomic_write_text(path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    # -- rows ----------------------------------------------------------------------------
    def row_path(self, job_id: str) -> Path:
        return self.results_dir / f"{job_id}.parquet"

    def write_row(self, row: dict) -> Path:
        """Write one result row atomically (temp file + ``os.replace``)."""
        path = self.row_path(row["job_id"])
        table = pa.Table.from_pylist([row])
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path

    def status(self) -> dict[str, str]:
        """job_id → status ("ok" / "error") of every stored row."""
        out = {}
        for p in self.results_dir.glob("*.parquet"):
            try:
                t = pq.read_table(p, columns=["status"])
                out[p.stem] = t.column("status")[0].as_py()
            except Exception:  # noqa: BLE001 - unreadable file: treat as not done
                continue
        return out

    def finished(self, retry_failed: bool = True) -> set[str]:
        """Ids of jobs that need not run again."""
        st = self.status()
        return {k for k, v in st.items() if v == "ok" or not retry_failed}

    def load(self) -> pd.DataFrame:
        return load_results(self.root)


def _files(path: Path) -> list[Path]:
    path = Path(path)
    folder = path / "results" if (path / "results").is_dir() else path
    if not folder.is_dir():
        raise FileNotFoundError(f"no results folder at {str(path)!r} (expected "
                                f"{str(path / 'results')!r})")
    return sorted(folder.glob("*.parquet"))


def load_results(path: str | Path) -> pd.DataFrame:
    """All rows of an experiment folder as a DataFrame (one row per job).

    Rows of different jobs may have different columns (error rows carry no scores);
    missing values are NaN / None.
    """
    files = _files(Path(path))
    if not files:
        return pd.DataFrame()
    tables = [pq.read_table(f) for f in files]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas()


def query(path: str | Path, sql: str) -> pd.DataFrame:
    """Run DuckDB SQL on an experiment's results; the table is called ``results``.

    Example: ``query("out/realism", "select method, avg(auc) from results group by 1")``.
    """
    import duckdb

    files = _files(Path(path))
    con = duckdb.connect()
    try:
        if files:
            pattern = str(files[0].parent / "*.parquet").replace("'", "''")
            con.execute(f"create view results as select * from read_parquet('{pattern}', "
                        "union_by_name=true)")
        else:
            con.execute("create view results as select null as job_id where false")
        return con.execute(sql).fetchdf()
    finally:
        con.close()
