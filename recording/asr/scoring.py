"""Word and character error rates: how operators and tests measure recognition.

``wer`` compares words (English: case and punctuation ignored), ``cer``
compares characters (Mandarin: punctuation and spaces ignored; traditional
characters folded to simplified when OpenCC is installed). Both are the
Levenshtein distance divided by the reference's length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9']+")


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp``."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return _WORD.findall(text.lower().replace("’", "'"))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``."""
    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / max(1, len(ref))


def hanzi(text: str) -> list[str]:
    """The characters that count for CER: letters and digits, no punctuation or spaces, simplified."""
    try:
        import opencc

        text = str(opencc.OpenCC("t2s").convert(text))
    except ImportError:  # pragma: no cover - opencc is a dependency; scoring still works without it
        pass
    return [c for c in unicodedata.normalize("NFKC", text).lower() if unicodedata.category(c)[0] in "LN"]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference`` (Mandarin)."""
    ref = hanzi(reference)
    return edit_distance(ref, hanzi(hypothesis)) / max(1, len(ref))
