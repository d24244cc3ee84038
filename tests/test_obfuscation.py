"""The benchmark's spammer rewrite, and normalisation undoing it."""

from __future__ import annotations

import pytest

from bench.obfuscate import obfuscate
from training.normalize import normalize

SENTENCES = [
    "Check out my channel for free music and subscribe",
    "Hey guys, please visit my website for cheap watches http://watches.shop/x",
    "Earn money from home, my cousin made thousands last week",
    "Buy replica handbags with worldwide shipping today",
    "Great article, thanks for sharing these helpful tips",
]


@pytest.mark.parametrize("text", SENTENCES)
@pytest.mark.parametrize("seed", range(5))
def test_normalisation_undoes_the_rewrite(text: str, seed: int) -> None:
    disguised = obfuscate(text, seed)
    assert disguised != text
    assert normalize(disguised).text == normalize(text).text


@pytest.mark.parametrize("text", SENTENCES)
def test_the_rewrite_is_recorded_as_tricks(text: str) -> None:
    norm = normalize(obfuscate(text, 1))
    assert norm.spaced_letters == 1  # the longest word, always
    assert norm.confusables + norm.invisible_chars > 0 or norm.text != obfuscate(text, 1)


def test_links_survive_and_runs_are_reproducible() -> None:
    text = "see http://Watches.shop/CheapRolex and mail sales@watches.shop"
    disguised = obfuscate(text, 3)
    assert "http://Watches.shop/CheapRolex" in disguised
    assert "sales@watches.shop" in disguised
    assert obfuscate(text, 3) == disguised


def test_the_rewrite_defeats_plain_word_matching() -> None:
    """What makes it a fair test for the peers: most words are gone for a tokenizer."""
    changed = total = 0
    for text in SENTENCES:
        for seed in range(5):
            words = text.split()
            disguised = obfuscate(text, seed).split()
            total += len(words)
            changed += len(set(words) - set(disguised))
    assert changed / total > 0.4
