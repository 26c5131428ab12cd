"""Where numba keeps spikewire's compiled kernels between processes.

Every kernel is compiled with ``cache=True``: the first process compiles it (seconds) and
writes the machine code to disk, later processes load it (tens of milliseconds). numba
looks for a writable cache directory in this order: ``NUMBA_CACHE_DIR`` if set; the
``__pycache__`` folder next to the source (a normal or editable install); the user-wide
cache ``$XDG_CACHE_HOME/numba`` (``~/.cache/numba``) when the package directory is read-only.
When none of these is writable (a read-only install run by a user without a writable
home, as in some containers and batch systems), numba refuses to decorate the function and
``import spikewire`` would fail with ``RuntimeError: cannot cache function ...: no locator
available``. :func:`ensure_cache_dir` handles that last case only: it points numba at a
per-user folder under the system temporary directory. It never overrides a
``NUMBA_CACHE_DIR`` the user set, and changes nothing when numba's own choices work.

It runs on import of this module, which the kernel modules import before they define any
compiled function (``import spikewire.core.jit  # noqa: F401``). It is internal plumbing,
not part of the public API.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir_fallback", "ensure_cache_dir"]

#: the folder chosen by :func:`ensure_cache_dir`, or None when numba's own locators work
cache_dir_fallback: str | None = None


def _writable(path: Path) -> bool:
    """Whether ``path`` (created if missing) accepts a new file."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def _private_dir(folder: Path) -> bool:
    """Create ``folder`` (mode 0700) or accept it only if this user owns it and nobody else
    can write to it: numba's cache files are loaded as code, so a folder in a shared
    temporary directory that someone else created must not be used."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return False
    return folder.is_dir() and not folder.is_symlink() and _writable(folder)


def _user_wide_dir() -> Path:
    """numba's user-wide cache folder (``numba.misc.appdirs``, appname ``numba``)."""
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)


def ensure_cache_dir() -> str | None:
    """Give numba a writable cache folder if it would otherwise have none.

    Returns the folder it set (also stored in :data:`cache_dir_fallback`), or None when
    nothing needed to change: ``NUMBA_CACHE_DIR`` is set, the package's own ``__pycache__``
    folders are writable, or numba's user-wide cache folder is.
    """
    global cache_dir_fallback
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    pycache = Path(__file__).resolve().parent / "__pycache__"
    if _writable(pycache) or _writable(_user_wide_dir()):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    folder = Path(tempfile.gettempdir()) / f"spikewire-numba-{uid}"
    if not _private_dir(folder):
        return None  # nothing usable: numba will say so when it decorates
    import numba

    cache_dir_fallback = str(folder)
    os.environ["NUMBA_CACHE_DIR"] = cache_dir_fallback  # kept if numba reloads its config
    numba.config.CACHE_DIR = cache_dir_fallback
    return cache_dir_fallback


ensure_cache_dir()
