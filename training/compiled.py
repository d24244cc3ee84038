"""The trained model compiled for serving: the same features and weights,
evaluated with dictionaries and arrays instead of scikit-learn calls.

Why: scoring one comment through the fitted Pipeline cost 1.3 ms, a third of
it scikit-learn validating its input, most of the rest building sparse
matrices of one row. The model is linear, so none of that is needed. For a
TF-IDF block (sublinear tf, L2 norm) a term seen ``c`` times has
``x = t * idf / ||t * idf||`` with ``t = 1 + ln c``, so the block adds

    sum_j t_j * (idf_j * w_j)  /  sqrt(sum_j t_j^2 * idf_j^2)

to the log-odds, with ``idf_j * w_j`` and ``idf_j^2`` computed once per
model; a metadata feature adds ``value * scale_j * w_j``. The calibrated
P(spam) is Platt's ``1 / (1 + exp(a * decision + b))``.

Two execution paths over one featurizer: :meth:`CompiledModel.explain` (one
comment: plain Python over dicts and ``array('d')``, microseconds) and
:meth:`CompiledModel.scores` (a batch: index arrays and one ``bincount`` per
block). Both read records through :func:`training.features.text_and_meta`;
the n-gram analyzers below re-implement scikit-learn's ``word`` and
``char_wb`` analyzers, and tests/test_compiled.py proves both paths equal to
the Pipeline on thousands of comments (to 1e-9).
"""

from __future__ import annotations

import math
import re
from array import array
from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from itertools import chain, compress, repeat
from operator import attrgetter, lt, mul
from typing import Any, NamedTuple, cast

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer

from training.features import Featurizer, Record, text_and_meta
from training.reasons import CHAR_GRAMS_QUOTED, TOP_REASONS, top_reasons

# Words whose character n-gram columns are remembered per worker: comment
# text is Zipfian, so most words of a new comment were seen before. About
# 250 bytes each (8 MB at most).
WORD_CACHE_SIZE = 1 << 15


def _check(vectorizer: TfidfVectorizer, analyzer: str) -> None:
    """Refuse a featurizer this module would compute differently."""
    expected = {"analyzer": analyzer, "lowercase": False, "norm": "l2", "use_idf": True,
                "sublinear_tf": True, "stop_words": None, "strip_accents": None,
                "preprocessor": None, "tokenizer": None, "binary": False}  # fmt: skip
    params = vectorizer.get_params()
    wrong = {k: params[k] for k, v in expected.items() if params[k] != v}
    if wrong:
        raise ValueError(f"cannot compile a {analyzer} block with {wrong}")


def _sigmoid(z: float) -> float:
    """1 / (1 + exp(-z)) without overflow at either end."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# Whether a term occurs more than once (lt(1, c) is 1 < c), for compress().
_REPEATED = partial(lt, 1)


class _Word:
    """What one whitespace-separated word contributes (cached per worker): its
    tokens for the word n-grams; its character n-gram columns and the sums of
    their weights and squares as if each occurred once. What only explanations
    need is worked out on first use: a word first seen costs the scoring path
    less."""

    __slots__ = ("_block", "_hammiest", "_offsets", "_spammiest", "columns", "packed",
                 "squares", "tokens", "weights")  # fmt: skip

    def __init__(self, tokens: tuple[str, ...], columns: tuple[int, ...], block: _Block) -> None:
        self.tokens, self.columns, self._block = tokens, columns, block
        # The columns as int64s, for the batch path (a plain attribute: the
        # batch reads it for every word, a property cost 4% of its time).
        self.packed = array("q", columns).tobytes()
        self.weights: float = sum(map(block.weights.__getitem__, columns))
        self.squares: float = sum(map(block.squares.__getitem__, columns))
        self._offsets: float | None = None
        self._spammiest: tuple[int, ...] = ()
        self._hammiest: tuple[int, ...] = ()

    @property
    def offsets(self) -> float:
        """Sum of ``w * mean`` over the columns (as if each occurred once)."""
        if self._offsets is None:
            self._offsets = sum(map(self._block.offsets.__getitem__, self.columns))
        return self._offsets

    def strongest(self, spammy: bool) -> tuple[int, ...]:
        """The columns weighing most toward spam (or toward ham)."""
        if self.columns and not self._spammiest:
            ranked = sorted(self.columns, key=self._block.weights.__getitem__)
            self._spammiest = tuple(ranked[-CHAR_GRAMS_QUOTED:])
            self._hammiest = tuple(ranked[:CHAR_GRAMS_QUOTED])
        return self._spammiest if spammy else self._hammiest


_tokens_of, _columns_of, _packed = attrgetter("tokens"), attrgetter("columns"), attrgetter("packed")
_weights_of, _squares_of, _offsets_of = (
    attrgetter("weights"),
    attrgetter("squares"),
    attrgetter("offsets"),
)


class _CharEvidence(NamedTuple):
    counts: dict[int, int]
    share: float  # of the decision: sum of w * x
    words: list[_Word]


def _tfidf_sum(
    counts: dict[int, int], weights: list[float], squares: list[float]
) -> tuple[float, float]:
    """One TF-IDF block's share of the decision (formula in the docstring), and
    the row's norm. The sums run in C (``map`` over lists of floats: indexing
    a list hands out its floats, an ``array('d')`` makes new ones - 2.5x), as
    if every term occurred once (t = 1); the few that repeat are corrected."""
    if not counts:
        return 0.0, 0.0
    dot = sum(map(weights.__getitem__, counts))
    norm2 = sum(map(squares.__getitem__, counts))
    if len(counts) != sum(counts.values()):
        for j in compress(counts, map(_REPEATED, counts.values())):
            t = 1.0 + math.log(counts[j])
            dot += (t - 1.0) * weights[j]
            norm2 += (t * t - 1.0) * squares[j]
    norm = math.sqrt(norm2)
    return dot / norm, norm


def _ngram_index(vocabulary: dict[str, int]) -> dict[str | tuple[str, ...], int]:
    """The word block's columns keyed by unigram or by tuple of tokens: a
    vocabulary n-gram is its tokens joined by single spaces, and tokens hold
    no whitespace, so splitting recovers them exactly. The tokens are shared
    between tuples (one string per distinct token)."""
    shared: dict[str, str] = {}
    index: dict[str | tuple[str, ...], int] = {}
    for term, j in vocabulary.items():
        if " " in term:
            index[tuple(shared.setdefault(t, t) for t in term.split(" "))] = j
        else:
            index[shared.setdefault(term, term)] = j
    return index


def _count(columns: Iterable[int | None]) -> dict[int, int]:
    """Occurrences per column, unknown terms (None) left out. Counted by the C
    helper behind ``Counter``: Counter's own constructor costs a microsecond
    of Python (an ABC isinstance check) per call, twice per comment."""
    counts: dict[int | None, int] = {}
    _count_elements(counts, columns)
    counts.pop(None, None)
    return cast("dict[int, int]", counts)


class _Block:
    """One TF-IDF block: vocabulary, idf and the model's weights over it."""

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray, means: np.ndarray) -> None:
        self.index: dict[str, int] = vectorizer.vocabulary_
        idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.idf_np, self.coef_np = idf, coef
        # The hot path's two lists (32 bytes per column each, against 8 for an
        # array: the price of the speed above).
        self.weights: list[float] = (idf * coef).tolist()
        self.squares: list[float] = (idf * idf).tolist()
        # Only explanations read these, a few columns per comment.
        self.idf, self.coef, self.means = array("d", idf), array("d", coef), array("d", means)
        self.offsets: list[float] = (coef * means).tolist()
        # Column -> term, for explanations: references to the vocabulary's own
        # strings (a numpy array of names would copy them at their longest width).
        self.names = [""] * len(self.index)
        for term, j in self.index.items():
            self.names[j] = term


class CompiledModel:
    """A fitted featurizer + calibrated logistic regression, compiled."""

    def __init__(
        self,
        featurizer: Featurizer,
        coef: np.ndarray,
        intercept: float,
        platt: tuple[float, float],
        means: np.ndarray,
    ) -> None:
        words, chars = featurizer.words_, featurizer.chars_
        _check(words, "word")
        _check(chars, "char_wb")
        coef = np.asarray(coef, dtype=np.float64).ravel()
        means = np.asarray(means, dtype=np.float64).ravel()
        nw, nc = len(words.vocabulary_), len(chars.vocabulary_)
        self.words = _Block(words, coef[:nw], means[:nw])
        self.chars = _Block(chars, coef[nw : nw + nc], means[nw : nw + nc])
        self._word_range: tuple[int, int] = words.ngram_range
        self._char_range: tuple[int, int] = chars.ngram_range
        self._tokens: Callable[[str], list[str]] = re.compile(words.token_pattern).findall
        self._ngram_index = _ngram_index(words.vocabulary_)
        self._meta_index: dict[str, int] = featurizer.meta_.vocabulary_
        self._meta_names: list[str] = list(featurizer.meta_.feature_names_)
        scale = np.asarray(featurizer.meta_scale_, dtype=np.float64)
        self._meta_coef = array("d", coef[nw + nc :])
        self._meta_means = array("d", means[nw + nc :])
        self._meta_scale = array("d", scale)
        self._meta_weights_np = scale * coef[nw + nc :]
        self._meta_weights: list[float] = self._meta_weights_np.tolist()
        self._intercept = float(intercept)
        self._a, self._b = float(platt[0]), float(platt[1])
        self._read_word = lru_cache(maxsize=WORD_CACHE_SIZE)(self._word)

    # -- features ----------------------------------------------------------

    def forget_words(self) -> None:
        """Empty the per-word cache (a benchmark measures from a known state)."""
        self._read_word.cache_clear()

    def _read(self, text: str) -> list[_Word]:
        return list(map(self._read_word, text.split()))

    def _word_grams(self, words: list[_Word]) -> Iterator[str | tuple[str, ...]]:
        """scikit-learn's ``word`` analyzer: tokens (token_pattern - whose
        matches never span whitespace, so each word's own are cached), then
        n-grams - as tuples of tokens, the keys of ``_ngram_index``: joining
        them into strings was a third of the time."""
        tokens = list(chain.from_iterable(map(_tokens_of, words)))
        low, high = self._word_range
        ngrams = [
            zip(*[tokens[i:] for i in range(n)], strict=False) for n in range(max(low, 2), high + 1)
        ]
        return chain(tokens if low == 1 else (), *ngrams)

    def _word_counts(self, words: list[_Word]) -> dict[int, int]:
        return _count(map(self._ngram_index.get, self._word_grams(words)))

    def _word(self, word: str) -> _Word:
        """One word, read: its tokens, and its character n-grams as
        scikit-learn's ``char_wb`` makes them (the word padded with one space
        each side; a word shorter than n once, padded)."""
        padded = f" {word} "
        size = len(padded)
        low, high = self._char_range
        grams: list[str] = []
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams += [padded[i : i + n] for i in range(size - n + 1)]
        columns = tuple(j for j in map(self.chars.index.get, grams) if j is not None)
        return _Word(tuple(self._tokens(word)), columns, self.chars)

    def _char_evidence(self, words: list[_Word]) -> _CharEvidence:
        """The character block of one comment. Each word's sums come from the
        per-worker cache; only n-grams that occur more than once in the comment
        are looked up again (the weight lists are large: touching them is
        cache misses)."""
        counts = _count(chain.from_iterable(map(_columns_of, words)))
        if not counts:
            return _CharEvidence(counts, 0.0, words)
        dot, norm2 = sum(map(_weights_of, words)), sum(map(_squares_of, words))
        if len(counts) != sum(map(len, map(_columns_of, words))):
            weights, squares = self.chars.weights, self.chars.squares
            for j in compress(counts, map(_REPEATED, counts.values())):
                c = counts[j]  # counted c times above; t = 1 + ln c is due
                t = 1.0 + math.log(c)
                dot += (t - c) * weights[j]
                norm2 += (t * t - c) * squares[j]
        return _CharEvidence(counts, dot / math.sqrt(norm2), words)

    def _meta_values(self, meta: dict[str, float]) -> dict[int, float]:
        index = self._meta_index
        return {index[name]: value for name, value in meta.items() if name in index}

    # -- one comment -------------------------------------------------------

    def _evaluate(
        self, record: Record
    ) -> tuple[float, tuple[dict[int, int], float], _CharEvidence, dict[int, float]]:
        """P(spam), and what explanations need: the words and their norm, the
        character n-grams, the metadata."""
        text, meta = text_and_meta(record)
        read = self._read(text)
        words, values = self._word_counts(read), self._meta_values(meta)
        chars = self._char_evidence(read)
        word_sum, word_norm = _tfidf_sum(words, self.words.weights, self.words.squares)
        weights = self._meta_weights
        decision = (
            self._intercept
            + word_sum
            + chars.share
            + sum(map(mul, values.values(), map(weights.__getitem__, values.keys())))
        )
        score = _sigmoid(-(self._a * decision + self._b))
        return score, (words, word_norm), chars, values

    def score(self, record: Record) -> float:
        """Calibrated P(spam) of one comment."""
        return self._evaluate(record)[0]

    def explain(self, record: Record, top: int = TOP_REASONS) -> tuple[float, list[dict[str, Any]]]:
        """P(spam) of one comment and the features that pushed it hardest
        toward the side it leans to (``w * (x - mean)``, log-odds).

        Words and metadata features are each a reason; the character n-grams
        (which overlap: "che", "chea", "cheap") are one, their net
        contribution, quoting the present n-grams weighing most that way."""
        score, (words, word_norm), chars, values = self._evaluate(record)
        spammy = score >= 0.5
        w = self.words
        idf, coef, means, names = w.idf, w.coef, w.means, w.names
        features = [
            (
                "w:" + names[j],
                coef[j] * ((1.0 + math.log(c)) * idf[j] / word_norm - means[j]),
                0.0,
            )
            for j, c in words.items()
        ]
        coef, means, scale, names = (
            self._meta_coef,
            self._meta_means,
            self._meta_scale,
            self._meta_names,
        )
        features += [
            ("m:" + names[j], coef[j] * (v * scale[j] - means[j]), v) for j, v in values.items()
        ]
        grams: list[str] = []
        net = 0.0
        if chars.counts:
            # Sum of w * mean once per column present: the words' sums count
            # a repeated column each time it occurs.
            counts, offsets = chars.counts, self.chars.offsets
            repeated = compress(counts, map(_REPEATED, counts.values()))
            surplus = sum((counts[j] - 1) * offsets[j] for j in repeated)
            net = chars.share - (sum(map(_offsets_of, chars.words)) - surplus)
            candidates = set(chain.from_iterable(w.strongest(spammy) for w in chars.words))
            ranked = sorted(candidates, key=self.chars.weights.__getitem__, reverse=spammy)
            grams = [self.chars.names[j] for j in ranked[:CHAR_GRAMS_QUOTED]]
        return score, top_reasons(features, net, grams, spammy, top)

    # -- a batch -----------------------------------------------------------

    def scores(self, records: Sequence[Record]) -> np.ndarray:
        """Calibrated P(spam) of each record, vectorised: the Python work per
        comment is reading its features into flat column arrays (``array``,
        handed to numpy without a copy - a list of ints costs 25 ns per element
        to convert); counting, TF-IDF and the products run in numpy over the
        whole batch."""
        n = len(records)
        word_cols, meta_cols = array("q"), array("q")
        char_chunks: list[bytes] = []  # each word's columns, packed (joined once, in C)
        meta_values = array("d")
        word_lengths: list[int] = []
        char_lengths: list[int] = []
        meta_lengths: list[int] = []
        word_get = self._ngram_index.get
        for record in records:
            text, meta = text_and_meta(record)
            read = self._read(text)
            before = len(word_cols)
            # -1: not in the vocabulary
            word_cols.extend(map(word_get, self._word_grams(read), repeat(-1)))
            word_lengths.append(len(word_cols) - before)
            packed = list(map(_packed, read))
            char_chunks += packed
            char_lengths.append(sum(map(len, packed)) // 8)
            values = self._meta_values(meta)
            meta_cols.extend(values)
            meta_values.extend(values.values())
            meta_lengths.append(len(values))
        decision = np.full(n, self._intercept)
        decision += _tfidf_batch(self.words, word_lengths, word_cols, n)
        decision += _tfidf_batch(self.chars, char_lengths, b"".join(char_chunks), n)
        rows = np.repeat(np.arange(n), meta_lengths)
        columns = np.frombuffer(meta_cols, dtype=np.int64).astype(np.intp)
        products = np.frombuffer(meta_values, dtype=np.float64) * self._meta_weights_np[columns]
        decision += np.bincount(rows, products, minlength=n)
        return np.asarray(expit(-(self._a * decision + self._b)))


def _tfidf_batch(
    block: _Block, lengths: list[int], columns: array[int] | bytes, n: int
) -> np.ndarray:
    """Each row's share of the decision from one TF-IDF block, from the column
    of every occurrence (-1: not in the vocabulary) and each row's count.
    Occurrences are counted by scipy's CSR duplicate summing (a sort within
    each row: twice as fast as ``np.unique``'s sort of the whole batch)."""
    col = np.frombuffer(columns, dtype=np.int64)
    row = np.repeat(np.arange(n, dtype=np.int64), lengths)
    known = col >= 0
    if not known.all():
        col, row = col[known], row[known]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    matrix = sp.csr_matrix((np.ones(len(col)), col, indptr), shape=(n, max(len(block.index), 1)))
    matrix.sum_duplicates()
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
    col = matrix.indices
    x = (1.0 + np.log(matrix.data)) * block.idf_np[col]
    norm = np.sqrt(np.bincount(row, x * x, minlength=n))
    dot = np.bincount(row, x * block.coef_np[col], minlength=n)
    return np.divide(dot, norm, out=np.zeros(n), where=norm > 0)
