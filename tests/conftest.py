"""Suite-wide test ordering.

NEST's OpenMP runtime and numba's OpenMP thread pool cannot both run in one process: once a
parallel numba kernel (e.g. ``theory.lif_rate`` on a large array) has started the pool, any
NEST call segfaults, and ``spikewire.export.nest`` refuses with an explanation instead. The
NEST tests therefore run first, whatever order pytest was given.

Under pytest-xdist (``make test`` runs ``pytest -n 2 --dist loadfile``) each worker runs the
files it is sent in the order it is sent them, and the scheduler sends them in collection
order unless it reorders files by size (its default). That reordering is switched off here
and done in the collection instead, the NEST file kept first: it is then the first file of
the first worker, before any numba kernel ran there, and the other files follow largest
first (fewest idle minutes at the end of a parallel run).

Each xdist worker runs its numerical libraries on one thread: two workers on two cores, each
with a two-thread OpenBLAS / OpenMP / torch pool, oversubscribe the machine, and the spinning
threads cost more than they give (the suite took 13 min 28 s with the libraries' default
pools and 10 min 2 s with one thread each, back to back on the 2-core development VM,
2026-12-03). numba's own pool (``n_jobs``) is left as it is; a single-process run
(``python -m pytest``) keeps the default pools.
"""

import os
from collections import Counter

_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in _ONE_THREAD:                 # read by libraries loaded later (torch, BLAS)
        os.environ.setdefault(_var, "1")


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)          # the pools of libraries already loaded
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist is installed
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    def needs_nest(item) -> bool:
        path = str(item.path)
        return "tests/export/" in path.replace("\\", "/") and "after_numba_openmp" not in item.name

    size = Counter(str(item.path) for item in items)
    # stable: tests keep their order within a file, files of equal size their order
    items.sort(key=lambda item: (0 if needs_nest(item) else 1, -size[str(item.path)]))
