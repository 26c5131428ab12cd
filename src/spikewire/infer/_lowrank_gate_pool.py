"""The significance gate's refits of the low-rank methods, in worker processes.

The gate of :class:`spikewire.infer.lowrank.LowRankRNN` and ``LowRankFlow`` refits the
front end several times (the data's fit with the drive input, one fit per shift
surrogate, the held-out reversal test's folds). The fits are independent, each with its
own seeds, and none needs the estimate's weights. So they run in worker processes of one
torch thread each, started once the estimate's front-end fit is done (that fit keeps
every thread: at N = 1,000 one step of it takes 0.38 s with two threads and 0.80 s with
one), beside the rest of the estimate (``lowrank_flow``'s flows); this process then takes
the gate's tasks that nobody has started and collects the rest. On two cores a gate fit
(gate units, fewer than the estimate's) gains little from a second torch thread (400 ×
100 steps × 100 units with inputs: 23.3 s with two threads, 27.6 s with one), while two
fits side by side in two processes take 35.4 s for both; Python threads do not help,
since each step is a dozen small torch calls and the threads contend for the interpreter
(``benchmarks/results/lrtime41.md``).

A *task* is a list of calls run in order in one process; a call is the keyword arguments
of ``method._front_end`` with its random generators given as ``numpy.random.SeedSequence``
(made into generators where the call runs, so the draws do not depend on where it runs).
The data's drive fit and the held-out test share one task: they bin the same counts, so
the bias test of ``_front_end`` runs once (a per-process cache).

Workers are forked (POSIX) with one torch thread each, as PyTorch's data loader does (one
thread: no OpenMP region runs in the child, whose thread pool a fork does not copy). A
fork copies no data and, unlike spawn and forkserver, does not re-import the user's
``__main__`` (a script without the ``if __name__ == "__main__":`` guard would run again
in every worker). Where fork is not available, spawn is used and the guard is needed.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from spikewire.infer._progress import progress_bar

#: Fewest elements (chunks × steps × units) of the gate's recording for which
#: ``n_jobs=None`` uses worker processes: a forked worker costs well under a second, but
#: below about 10⁶ elements a gate fit takes seconds and a process pool is not worth
#: the bother (and the test suite's small fits stay in process).
MIN_POOL_ELEMENTS = 1_000_000

_RNG_KEYS = ("surrogate_rng", "reversal_rng", "heldout_rng")


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # macOS, Windows
        return os.cpu_count() or 1


def n_workers(n_jobs: int | None, n_tasks: int, elements: int, device: str,
              threads: int) -> int:
    """Worker processes for ``n_tasks`` gate tasks: ``n_jobs`` (``-1``: every available
    CPU), or for None one per torch thread of this process (``threads``: the cores, or
    what ``torch.set_num_threads`` or ``OMP_NUM_THREADS`` set; one in a sweep's workers),
    at most the available CPUs, when the gate's recording has at least
    :data:`MIN_POOL_ELEMENTS` elements, fork is available and the fits run on the CPU
    (else 1: in this process). Never more than ``n_tasks``; 1 in a daemonic process (a
    pool's worker), with a warning if ``n_jobs`` asked for more."""
    import multiprocessing as mp

    if mp.current_process().daemon:
        # a process pool's or a Dask cluster's worker: it may not start processes (and
        # its siblings already use the other CPUs)
        if n_jobs not in (None, 1):
            warnings.warn(f"n_jobs={n_jobs}: this process is a daemonic worker (of a process "
                          f"pool or a Dask cluster) and may not start processes; the gate's "
                          f"fits run in this process", stacklevel=5)
        return 1
    if n_jobs is None:
        if (device != "cpu" or elements < MIN_POOL_ELEMENTS
                or "fork" not in mp.get_all_start_methods()):
            return 1
        jobs = min(available_cpus(), max(1, int(threads)))
    else:
        jobs = available_cpus() if n_jobs == -1 else int(n_jobs)
    return max(1, min(jobs, n_tasks))


def call(method, ctx, kwargs: dict):
    """One gate call ``method._front_end(ctx, **kwargs)``; returns the held-out test's
    result (a dict) or ``{"loss": fit.loss, "b": fit.b, "biases": ...}`` of a fit (the
    last: the diagnostics entry ``biases`` of the fit's front end)."""
    kw = dict(kwargs)
    for key in _RNG_KEYS:
        if kw.get(key) is not None:
            kw[key] = np.random.default_rng(kw[key])
    res = method._front_end(ctx, **kw)
    if isinstance(res, dict):
        return res
    fit, _ok, info = res
    return {"loss": float(fit.loss), "b": fit.b, "biases": info["biases"]}


def _take(counter, n: int) -> int | None:
    """The next task's index from the shared counter (None: none left)."""
    with counter.get_lock():
        i = int(counter.value)
        if i >= n:
            return None
        counter.value = i + 1
    return i


def _worker(method, ctx, tasks, counter, out, threads: int) -> None:
    """A worker process: takes tasks until none are left; sends (index, results,
    warnings, error) for each."""
    from spikewire.infer.lowrank import import_torch

    import_torch().set_num_threads(int(threads))
    while (i := _take(counter, len(tasks))) is not None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = [call(method, ctx, kw) for kw in tasks[i]]
        except Exception as exc:                       # re-raised in the parent
            import traceback

            out.put((i, None, [], (exc, traceback.format_exc())))
            return
        out.put((i, res, [(str(w.message), w.category) for w in caught], None))


class GateRun:
    """The gate's tasks under way.

    ``workers`` processes start on the tasks at once and compute while this process
    finishes the estimate (with the CPUs the workers leave it, :meth:`threads`);
    :meth:`results` then runs the tasks nobody has taken in this
    process and collects the others. With ``workers`` 0 every task runs in
    :meth:`results`, in this process. Tasks are taken in the order given (put the
    longest first). :meth:`close` stops the workers (on an error in this process).
    """

    def __init__(self, method, ctx, tasks: list[list[dict]], workers: int):
        self.method, self.ctx, self.tasks = method, ctx, tasks
        self.workers = int(workers) if tasks else 0
        self.procs: list = []
        if self.workers <= 0:
            return
        import multiprocessing as mp

        mpc = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.counter = mpc.Value("i", 0)
        self.out = mpc.Queue()
        self.procs = [mpc.Process(target=_worker, daemon=True,
                                  args=(method, ctx, tasks, self.counter, self.out, 1))
                      for _ in range(self.workers)]
        for p in self.procs:
            p.start()

    def threads(self, current: int) -> int:
        """torch threads for this process while the workers run (``current``: its
        setting): the CPUs the workers leave, at least one, at most ``current``."""
        if not self.procs:
            return current
        return max(1, min(current, available_cpus() - self.workers))

    def results(self, progress: str | None = None) -> list[list]:
        """Results of every call of every task, in order; warnings raised in the
        workers are raised again here. ``progress``: label of a progress bar over the
        tasks done (None: none)."""
        what = "significance gate, fits done"
        if self.procs:
            what += f" ({self.workers} worker process{'es' * (self.workers != 1)} and this one)"
        with progress_bar(progress, len(self.tasks), what) as bar:
            got, caught = self._collect(bar)
        for i in sorted(caught):
            for message, category in caught[i]:
                warnings.warn(message, category, stacklevel=4)
        return [got[i] for i in range(len(self.tasks))]

    def _collect(self, bar) -> tuple[dict, dict]:
        """Every task's results and the workers' warnings, by task index."""
        n = len(self.tasks)
        got, caught = {}, {}
        if not self.procs:
            for i, task in enumerate(self.tasks):
                got[i] = [call(self.method, self.ctx, kw) for kw in task]
                bar.update()
            return got, caught
        import queue

        while (i := _take(self.counter, n)) is not None:
            got[i] = [call(self.method, self.ctx, kw) for kw in self.tasks[i]]
            bar.update()
        while len(got) < n:
            try:
                i, res, warns, err = self.out.get(timeout=2.0)
            except queue.Empty:
                if any(p.is_alive() for p in self.procs):
                    continue
                try:                                    # the last results of dead workers
                    i, res, warns, err = self.out.get(timeout=2.0)
                except queue.Empty:
                    codes = [p.exitcode for p in self.procs]
                    self.close()
                    raise RuntimeError(
                        f"a worker process of the low-rank gate ended without its result "
                        f"(exit codes {codes}; killed, e.g. out of memory?); use n_jobs=1 "
                        f"to fit the gate in this process") from None
            if err is not None:
                self.close()
                exc, tb = err
                exc.add_note(f"raised in a worker process of the low-rank gate:\n{tb}")
                raise exc
            got[i], caught[i] = res, warns
            bar.update()
        self.close()
        return got, caught

    def close(self) -> None:
        """Stop the workers (if any are left) and release them."""
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join()
        self.procs = []
