"""Grouped training: the fits of a search trained together as one stacked network.

- ``_plan``: each fit prepared by the estimator's own fit plan, and grouping rules;
- ``_module``: the stacked network (every parameter gains a model axis);
- ``_optim``: Adam, AdamW and SGD over stacked parameters, per model;
- ``_train``: the grouped epoch loop writing each fit's skorch history;
- ``_search``: training a search's fits ahead, then replaying them to scikit-learn;
- ``_search_cv``: ``GroupedSearchCV``, the public search.
"""

from sklstm.model_selection._grouped._search_cv import GroupedSearchCV

__all__ = ["GroupedSearchCV"]
