"""The featurizer: the one definition of features, for training and for serving.

A comment is a mapping of the API's fields (``content`` required, every other
field optional: most datasets have only text). It becomes three blocks of one
sparse row, each feature named with a prefix so that explanations can say
what kind of evidence it is:

``w:``  word 1-2 grams of the normalised text (TF-IDF, sublinear tf);
``c:``  character 3-5 grams within word boundaries - robust to the spelling
        games that break word filters;
``m:``  metadata: link count and hosts, author URL and its host, e-mail
        domain, comment type, markup, the obfuscation tricks normalisation
        undid (invisible characters, look-alike letters, spaced letters,
        repeated characters), length and character-class ratios. Absent
        fields add nothing.

Bump FEATURIZER_VERSION whenever a change would make an old artifact's
weights mean something else; the artifact loader refuses a mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer

from training.normalize import Normalized, host_of, normalize

FEATURIZER_VERSION = 2

Record = Mapping[str, Any]


def meta_features(record: Record, norm: Normalized) -> dict[str, float]:
    """Metadata features of one comment (pure; keys are feature names)."""
    feats: dict[str, float] = {}
    if norm.urls:
        feats["links"] = math.log1p(len(norm.urls))
        for host in set(norm.hosts):
            feats[f"host={host}"] = 1.0
    author_url = (record.get("author_url") or "").strip()
    if author_url:
        feats["author_url"] = 1.0
        feats[f"author_host={host_of(author_url)}"] = 1.0
    author = record.get("author") or ""
    if "http" in author.lower() or "www." in author.lower():
        feats["link_in_author"] = 1.0
    email = record.get("author_email") or ""
    if "@" in email:
        feats[f"email_domain={email.rsplit('@', 1)[1].strip().lower()}"] = 1.0
    comment_type = (record.get("comment_type") or "").strip().lower()
    if comment_type:
        feats[f"type={comment_type}"] = 1.0
    if norm.had_html:
        feats["markup"] = 1.0
    if norm.invisible_chars:
        feats["invisible"] = min(norm.invisible_chars, 5) / 5
    if norm.confusables:
        feats["confusables"] = 1.0
    if norm.spaced_letters:
        feats["spaced_letters"] = 1.0
    if norm.repeats:
        feats["repeats"] = min(norm.repeats, 3) / 3
    text = norm.text
    feats["length"] = math.log1p(len(text)) / 8
    letters = sum(ch.isalpha() for ch in text)
    if letters:
        feats["caps_ratio"] = sum(ch.isupper() for ch in text) / letters
    if text:
        feats["digit_ratio"] = sum(ch.isdigit() for ch in text) / len(text)
        symbols = sum(not (ch.isalnum() or ch.isspace()) for ch in text)
        feats["symbol_ratio"] = symbols / len(text)
    return feats


class Featurizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Records (mappings with ``content``) to a sparse matrix with named columns."""

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df

    def _prepare(self, records: Sequence[Record]) -> tuple[list[str], list[dict[str, float]]]:
        texts, metas = [], []
        for record in records:
            norm = normalize(str(record.get("content") or ""))
            texts.append(norm.text.lower())
            metas.append(meta_features(record, norm))
        return texts, metas

    def fit(self, records: Sequence[Record], y: Any = None) -> Featurizer:
        self.fit_transform(records)
        return self

    def fit_transform(self, records: Sequence[Record], y: Any = None, **_: Any) -> sp.csr_matrix:
        texts, metas = self._prepare(records)
        self.words_ = TfidfVectorizer(
            lowercase=False, ngram_range=(1, 2), min_df=self.min_df, sublinear_tf=True
        )
        self.chars_ = TfidfVectorizer(
            lowercase=False,
            analyzer="char_wb",
            ngram_range=(3, 5),
            min_df=self.min_df,
            sublinear_tf=True,
            dtype=np.float64,
        )
        self.meta_ = DictVectorizer()
        blocks = [
            self.words_.fit_transform(texts),
            self.chars_.fit_transform(texts),
            self.meta_.fit_transform(metas),
        ]
        self.feature_names_ = np.concatenate(
            [
                ["w:" + n for n in self.words_.get_feature_names_out()],
                ["c:" + n for n in self.chars_.get_feature_names_out()],
                ["m:" + n for n in self.meta_.get_feature_names_out()],
            ]
        )
        return sp.hstack(blocks, format="csr")

    def transform(self, records: Sequence[Record]) -> sp.csr_matrix:
        texts, metas = self._prepare(records)
        blocks = [
            self.words_.transform(texts),
            self.chars_.transform(texts),
            self.meta_.transform(metas),
        ]
        return sp.hstack(blocks, format="csr")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_
