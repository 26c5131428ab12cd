"""The result store: one Parquet dataset per experiment, one file per finished job.

Layout of an experiment folder::

    RESULTS_DIR/
      spec.toml          the spec that produced the results (as given)
      meta.json          spikewire version, experiment name, created/updated times
      run.lock           held by the run working in this folder (host, pid, start time)
      results/<job_id>.parquet    one row per job (status "ok", "error" or "not applicable")
      artifacts/<job_id>.npz      small arrays for the report (estimate vs truth sample)
      cache/sims/<sim_key>.npz    cached simulations (unless experiment.cache_dir is set)

Every file is written to a temporary name in the same folder (``.<name>.<host>.<pid>.
<random>.tmp``) and moved into place with ``os.replace`` (atomic on POSIX), so a killed
run leaves either a whole file or none; a resumed run skips the jobs whose row exists with
status "ok" or "not applicable" and overwrites the rest, so rows are never lost or
duplicated. Temporaries of dead processes on this host (or older than a day) are removed
when a run starts; a lock file keeps a second run off the folder.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ResultStore", "RunLock", "RunLockedError", "load_results", "query",
           "remove_stale_temporaries"]

log = logging.getLogger("spikewire.experiments")

#: statuses of rows that are final: never re-run, even with ``retry_failed``
FINAL_STATUSES = ("ok", "not applicable")
STALE_AGE_S = 24 * 3600.0


def _host() -> str:
    return socket.gethostname().replace(".", "_")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | Path, max_age: float = STALE_AGE_S) -> int:
    """Remove temporary files (``.*.tmp*``) in ``folder`` left by dead processes.

    A temporary named ``.<stem>.<host>.<pid>.<random>.tmp...`` is removed when ``host`` is
    this machine and process ``pid`` no longer runs; any temporary (including older names
    without host and pid) is removed once older than ``max_age`` s. Temporaries of live
    runs (on this or another host sharing the folder) are kept. Returns how many went.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    here, now, n = _host(), time.time(), 0
    for p in folder.glob(".*.tmp*"):
        parts = p.name.split(".")  # "", stem, host, pid, random, "tmp"[, ext]
        dead = (len(parts) >= 6 and parts[2] == here and parts[3].isdigit()
                and not _pid_alive(int(parts[3])))
        try:
            old = now - p.stat().st_mtime > max_age
        except OSError:
            continue
        if dead or old:
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
    return n


class RunLockedError(RuntimeError):
    """Another live run holds the result folder's lock."""


class RunLock:
    """An exclusive lock file ``run.lock`` in a result folder.

    The file holds the owner's host, pid and start time (JSON). :meth:`acquire` raises
    :class:`RunLockedError` naming them while that run lives; a lock left by a dead
    process on this host is taken over, with a message in :attr:`messages`.
    """

    def __init__(self, root: str | Path):
        self.path = Path(root) / "run.lock"
        self.messages: list[str] = []
        self._held = False

    def _owner(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                host, pid = owner.get("host"), owner.get("pid")
                if host == socket.gethostname() and isinstance(pid, int) and \
                        not _pid_alive(pid):
                    msg = (f"taking over the stale lock {self.path} of process {pid} on "
                           f"{host} (started {owner.get('started')}), which no longer runs")
                    log.warning(msg)
                    self.messages.append(msg)
                    self.path.unlink(missing_ok=True)
                    continue
                if not owner:  # being written right now, or unreadable: look again
                    time.sleep(0.2)
                    owner = self._owner()
                    if not owner:
                        continue
                raise RunLockedError(
                    f"result folder {str(self.path.parent)!r} is in use by another run "
                    f"(host {owner.get('host')}, pid {owner.get('pid')}, started "
                    f"{owner.get('started')}); wait for it to finish or choose another "
                    f"folder with --out. If that run is dead, delete {str(self.path)!r}") \
                    from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me))
            self._held = True
            return self
        raise RunLockedError(f"could not take the lock {str(self.path)!r}; delete it if no "
                             "run uses the folder")

    def release(self) -> None:
        if self._held:
            owner = self._owner()
            if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


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
        """Remove temporary files left by dead processes (see
        :func:`remove_stale_temporaries`); returns how many."""
        return sum(remove_stale_temporaries(f) for f in (self.root, self.results_dir,
                                                          self.artifacts_dir))

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name.replace('.', '_')}.{_host()}.{os.getpid()}."
                              f"{uuid.uuid4().hex}.tmp")

    @staticmethod
    def _atomic_write_text(path: Path, text: str) -> None:
        tmp = ResultStore._tmp(path)
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    # -- rows ----------------------------------------------------------------------------
    def row_path(self, job_id: str) -> Path:
        return self.results_dir / f"{job_id}.parquet"

    def write_row(self, row: dict) -> Path:
        """Write one result row atomically (temp file + ``os.replace``)."""
        path = self.row_path(row["job_id"])
        table = pa.Table.from_pylist([row])
        tmp = self._tmp(path)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
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
        """Ids of jobs that need not run again ("ok" and "not applicable" rows, and error
        rows unless ``retry_failed``)."""
        st = self.status()
        return {k for k, v in st.items() if v in FINAL_STATUSES or not retry_failed}

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
