"""TextSequencer: texts to sequences of integer token ids for an embedding LSTM."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils.validation import check_is_fitted

from sklstm._sklearn_private import Interval, RealNotInt, StrOptions, _fit_context
from sklstm.io._registry import register_plain

PAD_ID = 0
OOV_ID = 1


@register_plain
class TextSequencer(TransformerMixin, BaseEstimator):
    """Turn texts into sequences of integer token ids, in reading order.

    Tokens come from scikit-learn's own text analysis
    (``CountVectorizer(...).build_analyzer()``: the same lowercasing, accent
    stripping, token pattern and stop words). ``fit`` learns a vocabulary
    from the training texts; ``transform`` maps each text to a 1D int64
    array of ids, ready for an LSTM with ``embedding_dim`` set:

    - ``0`` is padding: never emitted, reserved for the estimator's padding;
    - ``1`` is out-of-vocabulary: a token not in ``vocabulary_``;
    - ``2, 3, ...`` are the known tokens, the most frequent first.

    A text without any token becomes ``[1]`` (one out-of-vocabulary token),
    so no sequence is empty.

    Parameters
    ----------
    max_features : int or None, default=None
        Keep only the most frequent tokens (counted over the whole training
        corpus; ties in alphabetical order). ``None`` keeps all.
    min_df : int or float, default=1
        Drop tokens found in fewer training texts than this count (an int)
        or than this fraction of the texts (a float in (0, 1]).
    lowercase : bool, default=True
        Lowercase before tokenizing.
    max_length : int or None, default=None
        Keep only the first ``max_length`` tokens of each text. The
        vocabulary is counted over these kept tokens: the part a model sees.
    analyzer : {"word", "char"}, default="word"
        Tokens are words (matched by ``token_pattern``) or single characters.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a word token (``analyzer="word"`` only);
        the default, scikit-learn's, drops one-letter words.
    strip_accents : {"ascii", "unicode"} or None, default=None
        Remove accents before tokenizing, as in ``CountVectorizer``.
    stop_words : "english", list of str or None, default=None
        Words to drop (``analyzer="word"`` only), as in ``CountVectorizer``.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id, ids from 2 in order of decreasing frequency.

    vocab_size_ : int
        Largest id plus one (``len(vocabulary_) + 2``): the vocabulary size
        of an embedding over these ids.

    See Also
    --------
    sklearn.feature_extraction.text.CountVectorizer : The tokenizer used.

    Examples
    --------
    >>> from sklstm.preprocessing import TextSequencer
    >>> texts = ["the cat sat", "the dog sat down", ""]
    >>> seq = TextSequencer().fit(texts)
    >>> seq.vocabulary_
    {'sat': 2, 'the': 3, 'cat': 4, 'dog': 5, 'down': 6}
    >>> seq.transform(["the bird sat", "!!"])
    [array([3, 1, 2]), array([1])]

    In a pipeline with an embedding LSTM (the vocabulary size is inferred):

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMClassifier
    >>> model = make_pipeline(
    ...     TextSequencer(), LSTMClassifier(embedding_dim=8, max_epochs=2)
    ... )
    >>> texts = ["a good movie", "bad", "good fun", "very bad acting"]
    >>> model.fit(texts, [1, 0, 1, 0]).predict(["good", "so bad"]).shape
    (2,)
    """

    # regular expressions among the parameters: a file's value other than the
    # default is refused unless the caller trusts it (sklstm.io._restored)
    _pattern_params = ("token_pattern",)

    _parameter_constraints: dict = {
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "lowercase": ["boolean"],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "analyzer": [StrOptions({"word", "char"})],
        "token_pattern": [str],
        "strip_accents": [StrOptions({"ascii", "unicode"}), None],
        "stop_words": [StrOptions({"english"}), list, None],
    }

    def __init__(
        self,
        max_features: int | None = None,
        min_df: int | float = 1,
        lowercase: bool = True,
        max_length: int | None = None,
        analyzer: str = "word",
        token_pattern: str = r"(?u)\b\w\w+\b",
        strip_accents: str | None = None,
        stop_words: str | list[str] | None = None,
    ) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.lowercase = lowercase
        self.max_length = max_length
        self.analyzer = analyzer
        self.token_pattern = token_pattern
        self.strip_accents = strip_accents
        self.stop_words = stop_words

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary of the training texts.

        Parameters
        ----------
        X : iterable of str, e.g. list, 1D array or pandas Series
            Training texts.
        y : None
            Ignored.

        Returns
        -------
        self : TextSequencer
            The fitted sequencer.
        """
        self._learn(self._tokenize(X))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Learn the vocabulary and return the id sequences of ``X``.

        Same result as ``fit(X).transform(X)``, tokenizing only once.

        Parameters
        ----------
        X : iterable of str
            Training texts.
        y : None
            Ignored.

        Returns
        -------
        X_ids : list of ndarray of int64
            One 1D array of token ids per text.
        """
        docs = self._tokenize(X)
        self._learn(docs)
        return self._encode(docs)

    def transform(self, X):
        """Map texts to sequences of token ids.

        Parameters
        ----------
        X : iterable of str
            Texts.

        Returns
        -------
        X_ids : list of ndarray of int64
            One 1D array per text, of length between 1 and ``max_length``;
            unknown tokens are 1.
        """
        check_is_fitted(self)
        return self._encode(self._tokenize(X))

    def _check_loaded_state(self) -> None:
        """Refuse a restored vocabulary that ``fit`` could not have made.

        Called by :func:`sklstm.load` on every restored sequencer.

        Raises
        ------
        ValueError
            If ``vocabulary_`` is not a mapping of distinct strings to the
            ids ``OOV_ID + 1, ..., vocab_size_ - 1`` (each once), or
            ``vocab_size_`` does not match it.
        """
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            return  # an unfitted template (a meta-estimator's parameter)
        vocab = self.__dict__.get("vocabulary_")
        size = self.__dict__.get("vocab_size_")
        if not isinstance(vocab, dict) or not vocab:
            raise ValueError("vocabulary_ must be a non-empty dict of token to id.")
        if not all(isinstance(t, str) for t in vocab):
            raise ValueError("vocabulary_ keys must be strings (tokens).")
        ids = sorted(vocab.values(), key=lambda i: (not isinstance(i, int), i))
        expected = list(range(OOV_ID + 1, OOV_ID + 1 + len(vocab)))
        if (
            any(isinstance(i, bool) or not isinstance(i, int) for i in ids)
            or ids != expected
        ):
            raise ValueError(
                f"vocabulary_ ids must be the integers {OOV_ID + 1}.."
                f"{len(vocab) + OOV_ID}, each once (0 is padding, 1 "
                "out-of-vocabulary)."
            )
        if size != len(vocab) + OOV_ID + 1 or isinstance(size, bool):
            raise ValueError(
                f"vocab_size_ must be {len(vocab) + OOV_ID + 1} (the vocabulary "
                f"plus padding and out-of-vocabulary ids), got {size!r}."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _analyzer(self) -> Callable[[str], list[str]]:
        return CountVectorizer(
            analyzer=self.analyzer,
            lowercase=self.lowercase,
            token_pattern=self.token_pattern if self.analyzer == "word" else None,
            strip_accents=self.strip_accents,
            stop_words=self.stop_words if self.analyzer == "word" else None,
        ).build_analyzer()

    def _tokenize(self, X) -> list[list[str]]:
        if isinstance(X, (str, bytes)):
            raise ValueError(
                "TextSequencer expects an iterable of texts (a list, 1D array or "
                "Series of str), got a single string; wrap it in a list."
            )
        if np.ndim(X) != 1:
            raise ValueError(
                f"TextSequencer expects a 1D collection of texts, got an input of "
                f"shape {np.shape(X)}; pass one column of texts."
            )
        if len(X) == 0:
            raise ValueError("TextSequencer needs at least one text, got none.")
        analyze = self._analyzer()
        docs = []
        for i, doc in enumerate(X):
            if not isinstance(doc, (str, bytes)):
                raise TypeError(
                    f"Text {i} is {doc!r} of type {type(doc).__name__}; every item "
                    "must be a str (fill missing texts with '' first)."
                )
            tokens = analyze(doc)
            docs.append(
                tokens if self.max_length is None else tokens[: self.max_length]
            )
        return docs

    def _learn(self, docs: list[list[str]]) -> None:
        counts: Counter = Counter()
        doc_freq: Counter = Counter()
        for tokens in docs:
            counts.update(tokens)
            doc_freq.update(set(tokens))
        min_count = self.min_df
        if not isinstance(min_count, Integral):
            min_count = min_count * len(docs)
        kept = sorted(
            (t for t in counts if doc_freq[t] >= min_count),
            key=lambda t: (-counts[t], t),
        )[: self.max_features]
        if not kept:
            raise ValueError(
                "Empty vocabulary: no token is left after tokenizing and min_df="
                f"{self.min_df}; lower min_df or check token_pattern and stop_words."
            )
        self.vocabulary_ = {t: i for i, t in enumerate(kept, start=OOV_ID + 1)}
        self.vocab_size_ = len(kept) + OOV_ID + 1

    def _encode(self, docs: list[list[str]]) -> list[np.ndarray]:
        vocab = self.vocabulary_
        out = []
        for tokens in docs:
            ids = [vocab.get(t, OOV_ID) for t in tokens] or [OOV_ID]
            out.append(np.array(ids, dtype=np.int64))
        return out
