"""Mean-field theory: predict a network's regime, check it against simulations, design inputs.

Units: time in s, voltages and inputs in mV, rates in Hz, couplings post × pre.

- Transfer function: :func:`lif_rate` (Siegert), :func:`lif_rate_derivatives`, :func:`lif_cv`,
  :func:`fit_power_law` (ν = a[μ - b]₊ⁿ; ``fit_power_law(tau_m, **EKELMANS_TABLE_D)`` is the
  convention of Ekelmans et al. 2023, Table D).
- SSN: :class:`SSN`, :func:`ssn_steady_states`, :func:`ssn_simulate`, :func:`ssn_jacobian`.
- Threshold-linear E/I model: :func:`classify_linear_ei`, :func:`plot_phase_plane`.
- LIF → SSN: :class:`EIPopulations`, :func:`lif_to_ssn`, :func:`predict_rates`,
  :func:`siegert_network_rates`, :func:`build_ei_network`.
- Regimes: :func:`detect_regimes`, :func:`regime_map`, :func:`balanced_rates`,
  :func:`persistent_activity`; Brunel: :func:`brunel_stationary_rates`,
  :func:`brunel_regime_sweep`, :func:`classify_activity`, :func:`isi_cv`,
  :func:`balance_factor`; linear stability and Hopf lines: :func:`lif_transfer_function`,
  :func:`brunel_eigenvalues`, :func:`brunel_stability`, :func:`brunel_hopf_lines`.
- Binary balanced network (van Vreeswijk & Sompolinsky): :func:`vvs_mean_field`,
  :func:`vvs_balanced_limit`, :func:`vvs_first_order`.
- Design: :func:`design_inputs`, :func:`track_target`, :func:`size_scaling`.
"""

from spikewire.theory.binary import vvs_balanced_limit, vvs_first_order, vvs_mean_field
from spikewire.theory.brunel import (
    BrunelRates,
    balance_factor,
    brunel_regime_sweep,
    brunel_stationary_rates,
    classify_activity,
    isi_cv,
    plot_brunel_diagram,
    synchrony,
)
from spikewire.theory.design import (
    PiecewiseInputs,
    TrackingResult,
    design_inputs,
    size_scaling,
    track_target,
)
from spikewire.theory.linear import (
    LinearEIResult,
    classify_linear_ei,
    linear_rhs,
    plot_phase_plane,
    simulate_linear_ei,
)
from spikewire.theory.mapping import (
    EIPopulations,
    build_ei_network,
    build_ei_procedural,
    lif_to_ssn,
    populations_from_network,
    predict_rates,
    scale_populations,
    siegert_network_rates,
)
from spikewire.theory.regimes import (
    RegimeMap,
    balanced_rates,
    detect_regimes,
    linear_response,
    persistent_activity,
    plot_regime_map,
    regime_map,
)
from spikewire.theory.ssn import (
    SSN,
    SSNTrajectory,
    SteadyStates,
    classify_fixed_point,
    ssn_jacobian,
    ssn_simulate,
    ssn_steady_states,
)
from spikewire.theory.stability import (
    BrunelMode,
    brunel_eigenvalues,
    brunel_hopf_lines,
    brunel_stability,
    lif_transfer_function,
)
from spikewire.theory.transfer import (
    EKELMANS_MU_GRID,
    EKELMANS_TABLE_D,
    colored_noise_shift,
    discretization_shift,
    fit_power_law,
    lif_cv,
    lif_rate,
    lif_rate_derivatives,
    power_law,
)

__all__ = [
    "SSN", "BrunelRates", "EIPopulations", "LinearEIResult", "PiecewiseInputs", "RegimeMap",
    "SSNTrajectory", "SteadyStates", "TrackingResult", "balance_factor", "balanced_rates",
    "brunel_regime_sweep", "brunel_stationary_rates", "build_ei_network",
    "build_ei_procedural", "classify_activity",
    "classify_fixed_point", "classify_linear_ei", "design_inputs", "detect_regimes",
    "discretization_shift", "fit_power_law", "isi_cv", "lif_cv", "lif_rate",
    "lif_rate_derivatives",
    "lif_to_ssn", "linear_response", "linear_rhs", "persistent_activity", "plot_brunel_diagram",
    "plot_phase_plane",
    "plot_regime_map", "populations_from_network", "power_law", "predict_rates",
    "regime_map", "scale_populations", "siegert_network_rates", "simulate_linear_ei",
    "size_scaling", "ssn_jacobian", "ssn_simulate", "ssn_steady_states", "synchrony",
    "track_target", "vvs_balanced_limit", "vvs_first_order", "vvs_mean_field",
    "colored_noise_shift", "BrunelMode", "brunel_eigenvalues", "brunel_hopf_lines",
    "brunel_stability", "lif_transfer_function", "EKELMANS_MU_GRID", "EKELMANS_TABLE_D",
]
