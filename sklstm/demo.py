"""Quick demo: Bayesian search of an LSTMClassifier on scikit-learn's digits.

Each 8x8 digit image is read row by row: 8 time steps of 8 features. Run with
``python -m sklstm.demo``; it finishes in about a minute on 2 CPU cores.
"""

from __future__ import annotations

import time

from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split
from skopt import BayesSearchCV
from skopt.space import Integer, Real

from sklstm import LSTMClassifier


def main(n_iter: int = 10, random_state: int = 0) -> BayesSearchCV:
    """Tune, report and return the fitted search."""
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8) / 16.0  # rows as time steps, pixels scaled to [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    search = BayesSearchCV(
        LSTMClassifier(max_epochs=15, random_state=random_state),
        {
            "hidden_size": Integer(16, 128, prior="log-uniform"),
            "lr": Real(1e-3, 3e-2, prior="log-uniform"),
            "dropout": Real(0.0, 0.3),
        },
        n_iter=n_iter,
        cv=StratifiedKFold(3, shuffle=True, random_state=random_state),
        n_jobs=2,
        random_state=random_state,
    )
    search.fit(X_train, y_train)
    print("digits as sequences:", X.shape, "(samples, time steps, features)")
    print("best parameters:", dict(search.best_params_))
    print(f"3-fold CV accuracy of the best: {search.best_score_:.4f}")
    print(f"held-out accuracy:             {search.score(X_test, y_test):.4f}")
    print(f"time: {time.perf_counter() - start:.1f} s for {n_iter} candidates")
    return search


if __name__ == "__main__":
    main()
