"""The featurizer: the one definition of features, for training and for serving.

A comment is a mapping of the API's fields (``content`` required, every other
field optional: most datasets have only text). It becomes three blocks of one
sparse row, each feature named with a prefix so that explanations can say
what kind of evidence it is:

``w:``  word 1-3 grams of the normalised text (TF-IDF, sublinear tf;
        trigrams over bigrams: MCC .930 -> .934 on the benchmark);
``c:``  character 3-5 grams within word boundaries - robust to the spelling
        games that break word filters;
``m:``  metadata: link count, the links' registrable domains (and hosts
        when a subdomain), shorteners, links to IP addresses, links written
        without ``http``; author URL and its domain, e-mail domain,
        keyword-stuffed author names; comment type, markup, the obfuscation
        tricks normalisation undid (invisible characters, look-alike letters,
        spaced letters, repeated characters); length, character-class
        ratios, the dominant script, script mix, and text in a script the
        site's ``lang`` does not use. Absent fields add nothing.

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

from training.domains import is_ip, is_shortener, registrable_domain
from training.normalize import Normalized, host_of, normalize
from training.scripts import char_classes, lang_mismatch

FEATURIZER_VERSION = 3

Record = Mapping[str, Any]

# The evidence features of the metadata block (links, domains, author,
# obfuscation) are scaled up against the text blocks: with one L2 penalty over
# all weights, a few dozen general features would otherwise be shrunk like any
# one of 100,000 sparse n-grams. Chosen by the leave-one-video-out benchmark
# (x1: MCC 0.915, x2: 0.924, x3: 0.926, x4: 0.923). The style ratios stay at
# x1: let loose, they learn the starter corpus's style (prices and phone
# numbers in its spam) and call "1,000,000,000 views!!!" spam - the default
# model's ROC AUC on YouTube fell from 0.910 to 0.873.
META_WEIGHT = 3.0
STYLE_FEATURES = frozenset({"length", "caps_ratio", "digit_ratio", "symbol_ratio", "script_mix"})


def _link_features(feats: dict[str, float], norm: Normalized) -> None:
    feats["links"] = math.log1p(len(norm.urls))
    for host in set(norm.hosts):
        domain = registrable_domain(host)
        feats[f"domain={domain}"] = 1.0
        if host != domain:
            feats[f"host={host}"] = 1.0
        if is_shortener(domain):
            feats["shortener"] = 1.0
        if is_ip(host):
            feats["ip_link"] = 1.0
    if norm.bare_links:
        feats["bare_link"] = 1.0


def _author_features(feats: dict[str, float], record: Record) -> None:
    author = str(record.get("author") or "")
    if "http" in author.lower() or "www." in author.lower():
        feats["link_in_author"] = 1.0
    words = len(author.split())
    if words >= 3:
        # "Best Cheap Replica Watches Online": names stuffed with keywords.
        feats["author_words"] = min(words, 8) / 8
    author_url = str(record.get("author_url") or "").strip()
    if author_url:
        feats["author_url"] = 1.0
        host = host_of(author_url)
        if host:
            feats[f"author_domain={registrable_domain(host)}"] = 1.0
    email = str(record.get("author_email") or "")
    if "@" in email:
        domain = email.rsplit("@", 1)[1].strip().lower()
        if domain:
            feats[f"email_domain={registrable_domain(domain)}"] = 1.0


def _text_features(feats: dict[str, float], record: Record, norm: Normalized) -> None:
    text = norm.text
    feats["length"] = math.log1p(len(text)) / 8
    classes = char_classes(text)
    scripts = classes.scripts
    letters = sum(scripts.values())
    if letters:
        feats["caps_ratio"] = classes.upper / letters
        dominant = max(scripts, key=scripts.__getitem__)  # most_common(1), without heapq
        count = scripts[dominant]
        if dominant != "latin":
            # Not for Latin: present in nearly every training comment, it would
            # act as a second intercept that text without letters (":)") lacks.
            feats[f"script={dominant}"] = 1.0
        if count < letters:
            feats["script_mix"] = 1 - count / letters
        if lang_mismatch(scripts, str(record.get("lang") or "")):
            feats["lang_mismatch"] = 1.0
    if text:
        feats["digit_ratio"] = classes.digits / len(text)
        feats["symbol_ratio"] = classes.symbols / len(text)


def meta_features(record: Record, norm: Normalized) -> dict[str, float]:
    """Metadata features of one comment (pure; keys are feature names)."""
    feats: dict[str, float] = {}
    if norm.urls:
        _link_features(feats, norm)
    _author_features(feats, record)
    comment_type = str(record.get("comment_type") or "").strip().lower()
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
    _text_features(feats, record, norm)
    return feats


def text_and_meta(record: Record) -> tuple[str, dict[str, float]]:
    """What the n-gram blocks read (the normalised, lower-cased text) and the
    metadata features: every path from a record to features starts here."""
    norm = normalize(str(record.get("content") or ""))
    return norm.text.lower(), meta_features(record, norm)


class Featurizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Records (mappings with ``content``) to a sparse matrix with named columns."""

    def __init__(self, min_df: int = 2, meta_weight: float = META_WEIGHT) -> None:
        self.min_df = min_df
        self.meta_weight = meta_weight

    def _prepare(self, records: Sequence[Record]) -> tuple[list[str], list[dict[str, float]]]:
        texts, metas = [], []
        for record in records:
            text, meta = text_and_meta(record)
            texts.append(text)
            metas.append(meta)
        return texts, metas

    def fit(self, records: Sequence[Record], y: Any = None) -> Featurizer:
        self.fit_transform(records)
        return self

    def fit_transform(self, records: Sequence[Record], y: Any = None, **_: Any) -> sp.csr_matrix:
        texts, metas = self._prepare(records)
        self.words_ = TfidfVectorizer(
            lowercase=False, ngram_range=(1, 3), min_df=self.min_df, sublinear_tf=True
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
        meta_names = self.meta_.get_feature_names_out()
        self.meta_scale_ = np.array(
            [1.0 if n.split("=", 1)[0] in STYLE_FEATURES else self.meta_weight for n in meta_names]
        )
        blocks[2] = blocks[2].multiply(self.meta_scale_).tocsr()
        self.feature_names_ = np.concatenate(
            [
                ["w:" + n for n in self.words_.get_feature_names_out()],
                ["c:" + n for n in self.chars_.get_feature_names_out()],
                ["m:" + n for n in meta_names],
            ]
        )
        # The factor each column was multiplied by (explanations undo it).
        self.column_scale_ = np.concatenate(
            [np.ones(len(self.feature_names_) - len(meta_names)), self.meta_scale_]
        )
        return sp.hstack(blocks, format="csr")

    def transform(self, records: Sequence[Record]) -> sp.csr_matrix:
        texts, metas = self._prepare(records)
        blocks = [
            self.words_.transform(texts),
            self.chars_.transform(texts),
            self.meta_.transform(metas).multiply(self.meta_scale_).tocsr(),
        ]
        return sp.hstack(blocks, format="csr")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_
