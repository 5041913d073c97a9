"""Ready hyperparameter search spaces (kept at this path; they live in
:mod:`sklstm.model_selection`)."""

from sklstm.model_selection._spaces import (
    DIMENSIONS,
    OPTIONAL_DIMENSIONS,
    search_space,
)

__all__ = ["DIMENSIONS", "OPTIONAL_DIMENSIONS", "search_space"]
