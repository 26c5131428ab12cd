"""The package import graph flows one way (issue 11): no upward arrow, no cycle, and no
package imports another package's private names.

The layers follow the data flow of DESIGN.md: core types at the bottom, then what builds,
simulates, observes, infers and scores, then theory, export and readers, then the
experiment runner, the report and the command line. A package may import only from
layers below it. The check reads the ``import`` statements of every module (function
bodies included, so lazy imports count too).
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "spikewire"

#: lowest first; a package may import only packages listed before it
LAYERS = ["_validation", "core", "networks", "simulate", "observe", "infer", "score",
          "theory", "export", "io", "experiments", "report", "cli", "__init__", "__main__"]


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports():
    """(importing package, file, imported module, imported names) for every import."""
    for f in sorted(SRC.rglob("*.py")):
        pkg = _package(f)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield pkg, f, alias.name, []
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield pkg, f, node.module, [a.name for a in node.names]


def _target(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "spikewire" and len(parts) > 1 else None


def test_every_package_has_a_layer():
    packages = {_package(f) for f in SRC.rglob("*.py")}
    assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS"


def test_no_upward_imports():
    rank = {name: k for k, name in enumerate(LAYERS)}
    upward = sorted({(pkg, tgt, str(f.relative_to(SRC)))
                     for pkg, f, mod, _ in _imports()
                     if (tgt := _target(mod)) and tgt != pkg and rank[tgt] > rank[pkg]})
    assert not upward, f"imports against the data flow (package, imported, file): {upward}"


def test_no_private_names_of_other_packages():
    bad = []
    for pkg, f, mod, names in _imports():
        tgt = _target(mod)
        if tgt is None or tgt == pkg or tgt == "_validation":
            continue
        private_module = any(p.startswith("_") for p in mod.split(".")[2:])
        private_names = [n for n in names if n.startswith("_")]
        if private_module or private_names:
            bad.append((str(f.relative_to(SRC)), mod, private_names))
    assert not bad, f"private names imported across packages: {bad}"


def test_core_and_engines_stand_alone():
    """The core depends on no other package and the simulation engines only on the core
    (issue 11: the engines no longer reach into networks/ or observe/)."""
    deps: dict[str, set[str]] = {}
    for pkg, _, mod, _ in _imports():
        tgt = _target(mod)
        if tgt and tgt != pkg and tgt != "_validation":
            deps.setdefault(pkg, set()).add(tgt)
    assert deps.get("core", set()) == set()
    assert deps.get("simulate", set()) <= {"core"}
