"""Write ``homophones.txt``: common words that sound exactly like a term of :data:`lexicon.TERMS` (run by hand).

:class:`recording.asr.lexicon.Repair` must not turn a real word into a term that sounds the
same (意义 into 异议, 旅行 into 履行, 小心翼翼 into 小心异议). The words come from jieba 0.42.1's
dictionary (MIT, 349,046 words with frequencies in a corpus, downloaded with ``pip download``; only
this script needs it): every word of :data:`MIN_FREQUENCY` or more, up to :data:`MAX_LENGTH`
characters, that the repair itself (any reading of each character, tones for two-character terms)
would change if it kept nothing.

    .venv/bin/python -m recording.asr.make_homophones     # rewrites recording/asr/homophones.txt
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from recording.asr.lexicon import TERMS, Repair

MIN_FREQUENCY = 20
MAX_LENGTH = 8
OUT = Path(__file__).with_name("homophones.txt")


def main() -> None:
    repair = Repair(keep=())
    found: list[tuple[str, str, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                "jieba==0.42.1",
            ],
            check=True,
        )
        with tarfile.open(next(Path(tmp).glob("jieba-0.42.1.tar.gz"))) as tar:
            member = tar.extractfile("jieba-0.42.1/jieba/dict.txt")
            assert member is not None
            lines = member.read().decode("utf-8").splitlines()
    for line in lines:
        word, freq, *_ = line.split(" ")
        if not 2 <= len(word) <= MAX_LENGTH or int(freq) < MIN_FREQUENCY or word in TERMS:
            continue
        if not all("\u4e00" <= c <= "\u9fff" for c in word):
            continue
        repaired = repair(word)
        if repaired != word:
            term = next((t for t in TERMS if repaired.count(t) > word.count(t)), repaired)
            found.append((word, term, int(freq)))
    found.sort(key=lambda f: len(f[0]))
    kept: list[str] = []
    for word, _, _ in found:
        if Repair(keep=kept)(word) != word:
            kept.append(word)  # 旅行社 is kept by 旅行 already
    found = [f for f in found if f[0] in kept]
    found.sort(key=lambda f: (f[1], -f[2]))
    header = "# word<TAB>the term the repair would write into it<TAB>jieba frequency (made by recording/asr/make_homophones.py)\n"
    OUT.write_text(header + "".join(f"{w}\t{t}\t{f}\n" for w, t, f in found), encoding="utf-8")
    print(f"{len(found)} words written to {OUT}")


if __name__ == "__main__":
    main()
