"""Grouped training: the fits of a search trained together as one stacked network.

- ``_plan``: each fit prepared by the estimator's own fit plan, grouping
  rules, padding sizes and memory;
- ``_module``: the stacked network (every parameter gains a model axis;
  smaller members padded exactly);
- ``_optim``: Adam, AdamW and SGD over stacked parameters, per model;
- ``_train``: the grouped epoch loop writing each fit's skorch history;
- ``_backend``: the joblib backend ``"sklstm"`` that groups the fits any
  scikit-learn search dispatches;
- ``_search_cv``: ``GroupedSearchCV``, a grid or randomized search run
  under that backend.
"""

from sklstm.model_selection._grouped._backend import GroupingBackend, GroupingReport
from sklstm.model_selection._grouped._search_cv import GroupedSearchCV

__all__ = ["GroupedSearchCV", "GroupingBackend", "GroupingReport"]
