"""A tiny sweep (seconds) shared by the experiments, report and CLI tests."""

from pathlib import Path

PLUGIN = Path(__file__).with_name("plugin_methods.py").resolve()


def tiny_spec(name: str = "tiny", *, seeds=(0, 1), sleep: float = 0.0, fail: bool = False,
              bin_widths=(1e-3, 2e-3), runner: str = "inprocess", extra: str = "") -> str:
    """TOML of 2 networks (one with a swept J) x 1 observation x 2 methods x seeds."""
    return f"""
[experiment]
name = "{name}"
duration = 2.0
dt = 1e-4
seeds = {list(seeds)}
plugins = ["{PLUGIN}"]

[base_network]
builder = "brunel"
params = {{ n_neurons = 60, epsilon = 0.2, J = 1.0, eta = 1.2 }}

[[networks]]
name = "toy"
params = {{ tau_ref = 0.0, delay = "none" }}

[[networks]]
name = "real"
params = {{ tau_ref = 2e-3, delay = 3e-3 }}
vary = {{ J = [0.5, 1.0] }}

[[observations]]
name = "all"
steps = []

[[methods]]
name = "lagcorr_test"
settings = {{ sleep = {sleep}, fail = {str(fail).lower()} }}
vary = {{ bin_width = {list(bin_widths)} }}

[runner]
kind = "{runner}"
{extra}
"""


def write_tiny(tmp_path: Path, **kw) -> Path:
    p = Path(tmp_path) / "tiny.toml"
    p.write_text(tiny_spec(**kw))
    return p
