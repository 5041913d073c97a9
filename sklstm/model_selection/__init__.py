"""Search helpers for epoch-aware model selection, and a grouped search.

``stopped_epoch`` is a scorer that reports the epoch each cross-validation fit
kept (its early-stopping epoch): put it next to the real metric in a search's
``scoring`` dict and ``cv_results_`` holds it per candidate and per fold.
``refit_with_cv_epochs`` then trains the best candidate on all the data for
the number of epochs cross-validation chose, without holding data out.
Grouped training: inside ``with joblib.parallel_config(backend="sklstm")``
any scikit-learn or scikit-optimize search, ``cross_validate``,
``learning_curve`` or ``validation_curve`` trains the sklstm fits it
dispatches together, as grouped networks (``GroupingBackend``; the backend
is registered with joblib when sklstm is imported). ``GroupedSearchCV`` is a
grid or randomized search run that way.
"""

from sklstm.model_selection._epochs import refit_with_cv_epochs, stopped_epoch
from sklstm.model_selection._grouped import (
    GroupedSearchCV,
    GroupingBackend,
    GroupingReport,
)
from sklstm.model_selection._grouped._backend import register
from sklstm.model_selection._spaces import search_space

register()

__all__ = [
    "GroupedSearchCV",
    "GroupingBackend",
    "GroupingReport",
    "refit_with_cv_epochs",
    "search_space",
    "stopped_epoch",
]
