"""Compiled kernels are cached on disk, and a read-only install still gets a cache folder."""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path

import numba
import pytest
from numba.core.caching import NullCache

import spikewire.core.jit as jit

# every module whose top-level kernels a fresh process compiles for build + simulate
KERNEL_MODULES = ["spikewire.core.spiketrains", "spikewire.core.procedural",
                  "spikewire.networks._connect", "spikewire.simulate._lif_kernel",
                  "spikewire.simulate.izhikevich", "spikewire.simulate.adex",
                  "spikewire.simulate.binary"]


def _dispatchers(module):
    for name in dir(module):
        obj = getattr(module, name)
        if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.__module__ == module.__name__:
            yield name, obj


@pytest.mark.parametrize("modname", KERNEL_MODULES)
def test_kernels_cache_to_disk(modname):
    # inline="always" helpers are compiled into their callers and need no cache of their own;
    # every other kernel must have a disk cache, else each process recompiles it
    module = importlib.import_module(modname)
    found = 0
    for name, disp in _dispatchers(module):
        if disp.targetoptions.get("inline", "never") == "always":
            continue
        found += 1
        assert not isinstance(disp._cache, NullCache), f"{modname}.{name} lacks cache=True"
    assert found > 0


@pytest.fixture
def no_cache_locator(monkeypatch, tmp_path):
    """Pretend that neither the package folder nor the user-wide cache is writable."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(jit, "cache_dir_fallback", None)
    real = jit._writable
    monkeypatch.setattr(jit, "_writable", lambda p: str(p).startswith(str(tmp_path)) and real(p))
    monkeypatch.setattr(jit.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_fallback_folder_when_nothing_is_writable(no_cache_locator):
    folder = jit.ensure_cache_dir()
    uid = os.getuid()
    assert folder == str(no_cache_locator / f"spikewire-numba-{uid}")
    assert os.environ["NUMBA_CACHE_DIR"] == folder
    assert numba.config.CACHE_DIR == folder
    mode = stat.S_IMODE(Path(folder).stat().st_mode)
    assert mode & 0o077 == 0  # private to this user: numba loads cache files as code


def test_fallback_refuses_a_folder_others_can_write(no_cache_locator):
    folder = no_cache_locator / f"spikewire-numba-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    assert jit.ensure_cache_dir() is None
    assert numba.config.CACHE_DIR == ""
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_user_setting_is_kept(no_cache_locator, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(no_cache_locator / "mine"))
    assert jit.ensure_cache_dir() is None
    assert os.environ["NUMBA_CACHE_DIR"] == str(no_cache_locator / "mine")


def test_nothing_changes_when_the_package_folder_is_writable(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(jit, "_writable", lambda p: True)
    assert jit.ensure_cache_dir() is None
    assert "NUMBA_CACHE_DIR" not in os.environ
