"""Write ``homophones.txt``: common words that sound exactly like a term of :data:`lexicon.TERMS` (run by hand).

:class:`recording.asr.lexicon.Repair` must not turn a real word into a term that sounds the
same (意义 into 异议, 旅行 into 履行). The words come from jieba 0.42.1's dictionary (MIT,
349,046 words with frequencies in a corpus, downloaded with ``pip download``; only this
script needs it): every word of :data:`MIN_FREQUENCY` or more whose toneless pinyin is a term's.

    .venv/bin/python -m recording.asr.make_homophones     # rewrites recording/asr/homophones.txt
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from recording.asr.lexicon import TERMS

MIN_FREQUENCY = 20
OUT = Path(__file__).with_name("homophones.txt")


def main() -> None:
    sounds = {tuple(lazy_pinyin(t, style=Style.NORMAL)): t for t in TERMS}
    lengths = {len(t) for t in TERMS}
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
        if len(word) not in lengths or int(freq) < MIN_FREQUENCY or word in TERMS:
            continue
        if not all("\u4e00" <= c <= "\u9fff" for c in word):
            continue
        term = sounds.get(tuple(lazy_pinyin(word, style=Style.NORMAL)))
        if term is not None:
            found.append((word, term, int(freq)))
    found.sort(key=lambda f: (f[1], -f[2]))
    header = "# word<TAB>the term it sounds like<TAB>jieba frequency (made by recording/asr/make_homophones.py)\n"
    OUT.write_text(header + "".join(f"{w}\t{t}\t{f}\n" for w, t, f in found), encoding="utf-8")
    print(f"{len(found)} words written to {OUT}")


if __name__ == "__main__":
    main()
