"""Search helpers for epoch-aware model selection, and a grouped search.

``stopped_epoch`` is a scorer that reports the epoch each cross-validation fit
kept (its early-stopping epoch): put it next to the real metric in a search's
``scoring`` dict and ``cv_results_`` holds it per candidate and per fold.
``refit_with_cv_epochs`` then trains the best candidate on all the data for
the number of epochs cross-validation chose, without holding data out.
``GroupedSearchCV`` is a grid or randomized search that trains its many
small LSTMs together on a GPU, as one grouped network.
"""

from sklstm.model_selection._epochs import refit_with_cv_epochs, stopped_epoch
from sklstm.model_selection._grouped._search_cv import GroupedSearchCV
from sklstm.model_selection._spaces import search_space

__all__ = ["GroupedSearchCV", "refit_with_cv_epochs", "search_space", "stopped_epoch"]
