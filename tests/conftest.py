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
"""

from collections import Counter


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist is installed
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    def needs_nest(item) -> bool:
        path = str(item.path)
        return "tests/export/" in path.replace("\\", "/") and "after_numba_openmp" not in item.name

    size = Counter(str(item.path) for item in items)
    # stable: tests keep their order within a file, files of equal size their order
    items.sort(key=lambda item: (0 if needs_nest(item) else 1, -size[str(item.path)]))
