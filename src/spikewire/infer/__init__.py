"""Connectivity inference: every method maps a Recording to an Estimate."""

from spikewire.infer._params import InvalidSettingError
from spikewire.infer.base import (
    FitContext,
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
from spikewire.infer.labels import label_cell_types, withdraw_against_dale
from spikewire.infer.trained import NotTrainedError, TrainedMethod

__all__ = ["PAIR_STATUS", "Estimate", "FitContext", "InferenceMethod", "InvalidSettingError",
           "MissingDependencyError", "NotApplicableError", "NotTrainedError", "TrainedMethod",
           "adjust_pvalues", "get_method", "get_method_class", "infer", "label_cell_types",
           "list_methods", "register", "withdraw_against_dale"]
