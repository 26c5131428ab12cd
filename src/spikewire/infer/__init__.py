"""Connectivity inference: every method maps a Recording to an Estimate."""

from spikewire.infer.base import (
    InferenceMethod,
    MissingDependencyError,
    NotApplicableError,
    get_method,
    get_method_class,
    infer,
    list_methods,
    register,
)
from spikewire.infer.estimate import PAIR_STATUS, Estimate, adjust_pvalues
from spikewire.infer.labels import label_cell_types

__all__ = ["PAIR_STATUS", "Estimate", "InferenceMethod", "MissingDependencyError",
           "NotApplicableError", "adjust_pvalues", "get_method", "get_method_class", "infer",
           "label_cell_types", "list_methods", "register"]
