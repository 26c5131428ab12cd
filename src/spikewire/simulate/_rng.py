"""Kept for the engine modules' imports: the xoshiro256** helpers live in
:mod:`spikewire.core.rng` (shared by ``networks`` and ``simulate``)."""

from spikewire.core.rng import (
    integer_cdf,
    new_state,
    next_u64,
    normal,
    poisson,
    poisson_guided,
    poisson_table,
    randbelow,
    to_unit,
    uniform,
    xo_next,
)

__all__ = ["integer_cdf", "new_state", "next_u64", "normal", "poisson", "poisson_guided",
           "poisson_table", "randbelow", "to_unit", "uniform", "xo_next"]
