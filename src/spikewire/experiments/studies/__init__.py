"""Built-in studies: TOML specs shipped with the package, runnable by name."""

from __future__ import annotations

from pathlib import Path

__all__ = ["list_studies", "study_path"]

_HERE = Path(__file__).parent


def list_studies() -> dict[str, str]:
    """Built-in study names → their one-line description (the spec's ``description``)."""
    from spikewire.experiments.spec import _toml

    out = {}
    for p in sorted(_HERE.glob("*.toml")):
        try:
            desc = _toml().loads(p.read_text()).get("experiment", {}).get("description", "")
        except Exception:  # pragma: no cover - a broken shipped spec shows in the tests
            desc = "(unreadable)"
        out[p.stem] = desc.strip().splitlines()[0] if desc.strip() else ""
    return out


def study_path(name: str) -> Path:
    """Path of the built-in study ``name``; ``ValueError`` listing the studies otherwise."""
    p = _HERE / f"{name}.toml"
    if not p.exists():
        raise ValueError(f"no built-in study {name!r} and no file of that name; built-in "
                         f"studies: {sorted(list_studies())}")
    return p
