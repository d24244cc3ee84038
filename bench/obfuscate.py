"""The spammer's rewrite: the same comment, dressed to get past word filters.

    python -m bench.obfuscate "Check out my channel for free music"

Each word of three or more letters gets, at random (seeded, so a run is
reproducible), one of the tricks seen in real comment spam, and one longer
word is spelled out:

* look-alike letters: Latin letters swapped for Cyrillic ones drawn the same
  (``а е о р с у х і ѕ``), in some or all of the word's letters;
* invisible characters: zero-width spaces, joiners and soft hyphens inside;
* full-width forms (``ｆｒｅｅ``) and mathematical bold letters (``𝐟𝐫𝐞𝐞``);
* one word s p a c e d or d.o.t.t.e.d out.

Links, e-mail addresses and numbers are left alone: a spammer needs the link
to work. The words stay readable to a person - that is the point of the trick.
"""

from __future__ import annotations

import random
import sys

_LOOKALIKES = dict(zip("aeopcyxisjhABEKMHOPCTXY", "аеорсухіѕјһАВЕКМНОРСТХУ", strict=True))
_INVISIBLE = "\u200b\u200c\u200d\u2060\u00ad"
_TRICK_SHARE = 0.5  # of the eligible words


def _is_plain_word(token: str) -> bool:
    core = token.rstrip(".,!?;:")
    return len(core) >= 3 and core.isalpha() and core.isascii()


def _lookalike(word: str, rng: random.Random) -> str:
    swapped = [_LOOKALIKES[ch] if ch in _LOOKALIKES and rng.random() < 0.6 else ch for ch in word]
    return "".join(swapped)


def _invisible(word: str, rng: random.Random) -> str:
    out = [word[0]]
    for ch in word[1:]:
        if rng.random() < 0.5:
            out.append(rng.choice(_INVISIBLE))
        out.append(ch)
    return "".join(out)


def _fullwidth(word: str, rng: random.Random) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) for ch in word)


def _math_bold(word: str, rng: random.Random) -> str:
    def bold(ch: str) -> str:
        if "a" <= ch <= "z":
            return chr(0x1D41A + ord(ch) - ord("a"))
        if "A" <= ch <= "Z":
            return chr(0x1D400 + ord(ch) - ord("A"))
        return ch

    return "".join(bold(ch) for ch in word)


_TRICKS = (_lookalike, _lookalike, _invisible, _invisible, _fullwidth, _math_bold)


def obfuscate(text: str, seed: int | str = 0) -> str:
    """``text`` with its words disguised; the same seed gives the same rewrite."""
    rng = random.Random(f"{seed}:{text}")
    tokens = text.split(" ")
    eligible = [i for i, token in enumerate(tokens) if _is_plain_word(token)]
    if not eligible:
        return text
    longest = max(eligible, key=lambda i: len(tokens[i].rstrip(".,!?;:")))
    for i in eligible:
        token = tokens[i]
        core = token.rstrip(".,!?;:")
        tail = token[len(core) :]
        if i == longest and len(core) >= 4:
            glue = rng.choice((" ", "."))
            core = glue.join(core)
        elif rng.random() < _TRICK_SHARE:
            core = rng.choice(_TRICKS)(core, rng)
        tokens[i] = core + tail
    return " ".join(tokens)


def main(argv: list[str]) -> int:
    for text in argv or [line.rstrip("\n") for line in sys.stdin]:
        print(obfuscate(text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
