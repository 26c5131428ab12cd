"""Connectivity inference: every method maps a Recording to an Estimate."""

from spikewire.infer.base import (
    InferenceMethod,
    MissingDependencyError,
    get_method,
    infer,
    list_methods,
    register,
)
from spikewire.infer.estimate import PAIR_STATUS, Estimate, adjust_pvalues
from spikewire.infer.labels import label_cell_types

__all__ = ["PAIR_STATUS", "Estimate", "InferenceMethod", "MissingDependencyError",
           "adjust_pvalues", "get_method", "infer", "label_cell_types", "list_methods",
           "register"]
