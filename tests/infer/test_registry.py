"""The method registry: lazy built-ins, discovery through package entry points, optional
dependencies resolved only when a method is used, settings checked when it is built."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import (
    InvalidSettingError,
    MissingDependencyError,
    get_method,
    get_method_class,
    list_methods,
)
from spikewire.infer import base as infer_base


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, check=True, env=None)
    return out.stdout.strip()


def test_listing_imports_no_optional_package():
    out = _run("""
        import sys
        import spikewire
        from spikewire.infer.base import _BUILTIN_METHODS
        names = spikewire.list_methods()
        classic = {'ccg', 'glm', 'glmcc', 'partial_corr', 'te', 'tspe', 'gnn', 'lowrank',
                   'lowrank_flow', 'dale_glm'}
        print((set(names) == set(_BUILTIN_METHODS) and classic <= set(names)) or sorted(names),
              'torch' in sys.modules)
    """)
    assert out == "True False"


def test_a_method_is_imported_only_when_used():
    out = _run("""
        import sys
        from spikewire.infer import get_method_class
        get_method_class('te')
        print(sorted(m for m in ('spikewire.infer.te', 'spikewire.infer.glm',
                                 'spikewire.infer.glmcc', 'spikewire.infer.ccg')
                     if m in sys.modules))
    """)
    assert out == "['spikewire.infer.te']"


def test_unknown_method_and_setting():
    with pytest.raises(ValueError, match=r"unknown inference method 'nope'; available: \["):
        get_method_class("nope")
    with pytest.raises(InvalidSettingError, match=r"has no setting\(s\) \['bin_wdth'\]"):
        get_method("ccg", bin_wdth=1e-3)
    with pytest.raises(ValueError, match=r"alpha=1.5 is not valid; alpha must be a finite "
                                         r"number in \(0, 1\)"):
        get_method_class("glm").check_settings({"alpha": 1.5})


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """A real installed distribution (a ``*.dist-info`` on ``sys.path``) whose entry points
    add two methods: one that works and one whose dependency is missing."""
    (tmp_path / "swplugin_demo.py").write_text(textwrap.dedent('''
        import numpy as np
        from spikewire.infer import InferenceMethod
        from spikewire.infer._params import Interval

        class CountRatio(InferenceMethod):
            """Ratio of spike counts (entry-point test method)."""
            name = "count_ratio"
            settings_constraints = {"scale": [Interval("real", 0, None, closed="neither")]}

            def __init__(self, scale: float = 1.0):
                self.scale = scale

            def _fit(self, ctx):
                c = ctx.counts.astype(float)
                w = self.scale * c[:, None] / np.maximum(c[None, :], 1.0)
                return ctx.estimate(self, weights=np.where(ctx.want, w, 0.0))
    '''))
    (tmp_path / "swplugin_heavy.py").write_text(
        "import swplugin_not_installed_dependency\n")
    info = tmp_path / "swplugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: swplugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[spikewire.methods]\ncount_ratio = swplugin_demo:CountRatio\n"
        "heavy_method = swplugin_heavy:Heavy\n"
        "broken_method = swplugin_demo:NoSuchClass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(infer_base, "_REGISTRY", dict(infer_base._REGISTRY))
    monkeypatch.setattr(infer_base, "_EP_CACHE", {})
    yield tmp_path
    for mod in ("swplugin_demo", "swplugin_heavy"):
        sys.modules.pop(mod, None)


def test_entry_point_methods_are_discovered(plugin_dist):
    methods = list_methods()
    assert methods["count_ratio"] == "Ratio of spike counts (entry-point test method)."
    assert methods["heavy_method"].startswith("(unavailable:")
    assert "swplugin_not_installed_dependency" in methods["heavy_method"]
    assert methods["broken_method"].startswith("(broken entry point: AttributeError")
    st = sw.SpikeTrains.from_lists([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6]], t_stop=1.0)
    est = sw.infer(st, "count_ratio", scale=2.0, pairs=[(0, 1)])
    assert est.weights[0, 1] == 2.0 * 4 / 2 and est.pair_status[1, 0] == 2
    with pytest.raises(InvalidSettingError, match="scale=-1"):
        get_method("count_ratio", scale=-1)
    with pytest.raises(MissingDependencyError,
                       match="swplugin_not_installed_dependency.*pip install"):
        get_method("heavy_method")


def test_default_settings_are_valid_for_every_method():
    # the built-in methods; a plugin registered by another test module (e.g. the sweep
    # tests' lagcorr_test, an old-style method) may declare nothing
    from spikewire.infer.base import _BUILTIN_METHODS

    for name in _BUILTIN_METHODS:
        cls = get_method_class(name)
        m = cls()
        assert m.get_params() == cls().clone().get_params()
        assert set(cls.settings_constraints) == set(cls.setting_names()), name


def test_set_params_validates_and_keeps_the_old_value():
    m = get_method("te", n_lags=2)
    with pytest.raises(InvalidSettingError, match="n_lags=0"):
        m.set_params(n_lags=0)
    assert m.n_lags == 2
    assert m.set_params(n_lags=4).n_lags == 4


def test_seed_accepts_a_seed_sequence():
    ss = np.random.SeedSequence(123).spawn(2)[1]
    m = get_method("ccg", seed=ss, significance="jitter", n_surrogates=3)
    assert m.seed is ss
    with pytest.raises(InvalidSettingError, match="seed=-1"):
        get_method("ccg", seed=-1)
