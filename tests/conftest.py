"""Suite-wide test ordering.

NEST's OpenMP runtime and numba's OpenMP thread pool cannot both run in one process: once a
parallel numba kernel (e.g. ``theory.lif_rate`` on a large array) has started the pool, any
NEST call segfaults, and ``spikewire.export.nest`` refuses with an explanation instead. The
NEST tests therefore run first, whatever order pytest was given.
"""


def pytest_collection_modifyitems(session, config, items):
    def needs_nest(item) -> bool:
        path = str(item.path)
        return "tests/export/" in path.replace("\\", "/") and "after_numba_openmp" not in item.name

    items.sort(key=lambda item: 0 if needs_nest(item) else 1)  # stable: order kept otherwise
