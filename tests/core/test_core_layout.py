"""The package layout follows the data flow: no package imports another package's private
module, and the import graph between packages has no cycle."""

import ast
from pathlib import Path

import spikewire

SRC = Path(spikewire.__file__).parent


def _imports():
    """(importing package, imported dotted module) for every import in the source."""
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        pkg = rel[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield pkg, node.module, path
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield pkg, alias.name, path


def test_no_private_module_of_another_package_is_imported():
    bad = []
    for pkg, mod, path in _imports():
        parts = mod.split(".")
        if parts[0] != "spikewire" or len(parts) < 3:
            continue
        if parts[1] != pkg and any(p.startswith("_") for p in parts[2:]):
            bad.append(f"{path.relative_to(SRC)} imports {mod}")
    assert not bad, bad


def test_package_import_graph_has_no_cycle():
    edges: dict[str, set[str]] = {}
    for pkg, mod, _ in _imports():
        parts = mod.split(".")
        if parts[0] == "spikewire" and len(parts) >= 2 and parts[1] != pkg \
                and not parts[1].startswith("_") and pkg not in ("__init__", "cli", "__main__"):
            edges.setdefault(pkg, set()).add(parts[1])
    # the layers the redesign keeps (issue 11): the core depends on no other package, and
    # the simulation engines only on the core
    assert edges.get("core", set()) == set()
    assert edges.get("simulate", set()) <= {"core"}
    state: dict[str, int] = {}

    def visit(node, trail):
        if state.get(node) == 1:
            raise AssertionError(f"import cycle: {' -> '.join([*trail, node])}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(edges):
        visit(node, [])
