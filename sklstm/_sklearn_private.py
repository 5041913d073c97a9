"""Every private scikit-learn API sklstm uses, imported in this one place.

These are not covered by scikit-learn's deprecation policy; a version bump
that moves one is fixed here. Each is present in scikit-learn 1.6 (the
floor in pyproject.toml, tested by the minimum-versions leg of .ci/run) and
in the newest release tested, except the callback API (scikit-learn 1.9),
which has a do-nothing stand-in on older releases.
"""

import contextlib

# joblib's backend interface (private too): the "sklstm" grouping backend
from joblib._parallel_backends import ParallelBackendBase
from sklearn.base import _fit_context
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import _fit_and_score
from sklearn.preprocessing._data import _handle_zeros_in_scale, _is_constant_feature
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, _num_samples

try:  # scikit-learn >= 1.9: the callback API
    from sklearn.callback import CallbackSupportMixin
    from sklearn.callback._callback_support import callback_management_context
except ImportError:  # pragma: no cover - scikit-learn < 1.9

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Nothing before scikit-learn 1.9: estimators have no ``set_callbacks``."""

    def callback_management_context(estimator):  # type: ignore[no-redef]
        """No callback lifecycle to manage before scikit-learn 1.9."""
        return contextlib.nullcontext()


__all__ = [
    "BaseSearchCV",
    "CallbackSupportMixin",
    "HasMethods",
    "ParallelBackendBase",
    "Interval",
    "RealNotInt",
    "StrOptions",
    "_check_sample_weight",
    "_fit_and_score",
    "_fit_context",
    "_handle_zeros_in_scale",
    "_is_constant_feature",
    "_num_samples",
    "_safe_indexing",
    "callback_management_context",
    "validate_params",
]
