"""The words of a mediation: what recognition is biased towards, and the homophone repair after it.

Whisper base hears Mandarin sounds well and picks the wrong characters for words it rarely
saw: 原告 as 原稿, 伤残 as 商残, 律师 as 律失. Two mechanisms use the words a mediation is
made of (:data:`TERMS`, the legal and road-accident vocabulary) and the case's own words (the
parties', agents' and insurers' names, places, plate numbers):

* :func:`prompt`: Whisper's *previous text* prompt, a short mediation record in simplified
  characters that uses the terms, then the case's words. Whisper continues in the style and
  vocabulary of what came before, so the terms become likely (``bench/asr.py`` measures it).
* :class:`Repair`: after recognition, a stretch of characters that sounds exactly like a term
  (the same pinyin, any reading of each character; tones too for two-character words, which
  collide far more often) but is written otherwise is replaced by the term: 商残等级 → 伤残等级,
  律失 → 律师. A stretch that is, or lies inside, a common word (``homophones.txt``: 意义 for 异议,
  旅行 for 履行, 原稿 for 原告, 小心翼翼 for 异议) is kept: a wrong repair would put words in a party's mouth.

Pure: text in, text out (pypinyin's dictionaries and ``homophones.txt``, read once).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

TERMS: tuple[str, ...] = (
    # the people and the bodies
    "当事人",
    "申请人",
    "被申请人",
    "原告",
    "被告",
    "第三人",
    "代理人",
    "委托代理人",
    "法定代理人",
    "律师",
    "调解员",
    "人民调解员",
    "法官",
    "书记员",
    "人民调解委员会",
    "人民法院",
    "交警大队",
    "交通警察",
    "保险公司",
    "司法鉴定机构",
    "救助基金",
    # the procedure
    "调解",
    "调解书",
    "调解协议",
    "调解笔录",
    "司法确认",
    "诉讼",
    "起诉",
    "立案",
    "庭审",
    "举证",
    "质证",
    "异议",
    "依法",
    "应当",
    "另行",
    "申请",
    "撤回",
    "送达",
    "签字",
    "生效",
    "履行",
    "逾期",
    "强制执行",
    "法律约束力",
    "一次性",
    "分期支付",
    "自愿",
    "纠纷",
    # the accident and the finding
    "交通事故",
    "事故责任",
    "责任认定",
    "事故认定书",
    "全部责任",
    "主要责任",
    "次要责任",
    "同等责任",
    "无责任",
    "肇事",
    "逃逸",
    "机动车",
    "非机动车",
    "电动车",
    "驾驶证",
    "行驶证",
    "车牌号",
    "交叉口",
    "追尾",
    # insurance
    "交强险",
    "商业三者险",
    "车损险",
    "责任限额",
    "限额内",
    "先行赔付",
    "垫付",
    "理赔",
    "定损",
    "追偿",
    "免赔",
    # the losses
    "赔偿",
    "赔偿款",
    "医疗费",
    "误工费",
    "护理费",
    "营养费",
    "交通费",
    "住宿费",
    "住院伙食补助费",
    "后续治疗费",
    "残疾赔偿金",
    "死亡赔偿金",
    "丧葬费",
    "被扶养人生活费",
    "精神损害抚慰金",
    "车辆维修费",
    "维修发票",
    "鉴定",
    "鉴定费",
    "伤残等级",
    "司法鉴定",
    "鉴定意见",
    "重新鉴定",
    "城镇居民",
    "农村居民",
)
"""Legal, procedural and road-accident words of a mediation record (simplified characters)."""

PROMPT = (
    "以下是人民调解委员会主持的道路交通事故损害赔偿调解的笔录。原告和被告双方当事人对交警的事故责任认定书没有异议，"
    "申请人要求被申请人赔偿医疗费、误工费、护理费、营养费和交通费，保险公司在交强险和商业三者险的限额内赔付，"
    "伤残等级以司法鉴定意见为准，逾期不履行的依法申请强制执行。"
)
"""The prompt's fixed part: a mediation record's opening in the vocabulary of :data:`TERMS`."""

MAX_CASE_WORDS = 24
"""Case words in the prompt at most."""
MAX_CASE_CHARS = 90
"""Characters of the case's words in the prompt at most, with the 、 between them. Whisper reads at most 223
prompt tokens and the engine keeps the prompt's last 200 (``engines.MAX_PROMPT_TOKENS``); :data:`PROMPT` alone
is 190, so a case's words push its start out. A Chinese character is one to three tokens, most often one or
two: 90 characters stay inside the 200, and the first words (the participants' names) are not cut."""
MAX_WORD = 16
"""Longer case words (an address, say) are left out of the prompt and the repair."""


def prompt(case_words: Iterable[str] = ()) -> str:
    """Whisper's previous-text prompt: :data:`PROMPT`, then the case's own words (as many as
    :data:`MAX_CASE_WORDS` and :data:`MAX_CASE_CHARS` allow, in their order)."""
    words: list[str] = []
    for word in case_vocabulary(case_words)[:MAX_CASE_WORDS]:
        if len("、".join([*words, word])) <= MAX_CASE_CHARS:
            words.append(word)  # in their order: a later, shorter word may still fit
    return PROMPT + ("本案涉及：" + "、".join(words) + "。" if words else "")


def case_vocabulary(words: Iterable[str]) -> list[str]:
    """The case's words, cleaned: stripped, a bracketed note removed (中国人保财险（交强险） → 中国人保财险),
    duplicates and overlong ones dropped, in their first order."""
    out: list[str] = []
    for word in words:
        w = word.split("（")[0].split("(")[0].strip()
        w = "".join(c for c in w if c.isprintable() and c not in "、，。；：")
        if 2 <= len(w) <= MAX_WORD and w not in out:
            out.append(w)
    return out


@lru_cache(maxsize=8192)
def _readings(char: str, tones: bool = False) -> frozenset[str]:
    """Every reading of one character, toneless or with the tone's digit (itself if it has none)."""
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.TONE3 if tones else Style.NORMAL, heteronym=True, neutral_tone_with_five=True)
    return frozenset(found[0]) if found and found[0] else frozenset({char})


def _is_hanzi(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


@lru_cache(maxsize=1)
def homophones() -> frozenset[str]:
    """Common words the repair would otherwise change (``homophones.txt``, made by ``make_homophones``)."""
    lines = Path(__file__).with_name("homophones.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.split("\t")[0] for line in lines if line and not line.startswith("#"))


class Repair:
    """Replaces stretches that sound exactly like a known word but are written otherwise (see the module)."""

    def __init__(
        self, case_words: Iterable[str] = (), terms: Iterable[str] = TERMS, keep: Iterable[str] | None = None
    ) -> None:
        """``keep``: the common words to leave alone (:func:`homophones` unless given)."""
        from pypinyin import Style, lazy_pinyin

        words = [w for w in case_vocabulary(case_words) if all(_is_hanzi(c) for c in w)]
        words += [t for t in terms if t not in words]
        self._keep: dict[str, list[tuple[str, int]]] = {}
        """Each stretch of a common word (翼翼) → the words it lies in and where (小心翼翼, 2)."""
        for common in homophones() if keep is None else keep:
            for a in range(len(common)):
                for b in range(a + 2, len(common) + 1):
                    self._keep.setdefault(common[a:b], []).append((common, a))
        self._rank = {word: n for n, word in enumerate(words)}
        self._by_first: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
        for word in words:
            tones = len(word) == 2
            style = Style.TONE3 if tones else Style.NORMAL
            sounds = tuple(lazy_pinyin(word, style=style, neutral_tone_with_five=True))
            self._by_first.setdefault(sounds[0], []).append((word, sounds, tones))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: -len(c[0]))  # the longest match first

    def __call__(self, text: str) -> str:
        """``text`` with misheard words repaired."""
        out: list[str] = []
        i = 0
        while i < len(text):
            word = self._match(text, i) if _is_hanzi(text[i]) else None
            if word is None:
                out.append(text[i])
                i += 1
            else:
                out.append(word)
                i += len(word)
        return "".join(out)

    def _match(self, text: str, i: int) -> str | None:
        """The word that the stretch from ``i`` sounds like, if it should be repaired to it: the longest
        of those it sounds like, whichever reading of its first character they start with (见定以见 is
        鉴定意见, not 鉴定 and 以见), the case's words first among equally long ones."""
        best: tuple[int, int, str] | None = None
        for first in _readings(text[i]) | _readings(text[i], tones=True):
            for word, sounds, tones in self._by_first.get(first, ()):
                rank = (-len(word), self._rank[word])
                if best is not None and rank >= best[:2]:
                    continue
                span = text[i : i + len(word)]
                if len(span) < len(word) or not all(_is_hanzi(c) for c in span):
                    continue
                if all(s in _readings(c, tones) for s, c in zip(sounds, span, strict=True)):
                    best = (*rank, word)
        if best is None or self._kept(text, i, text[i : i + len(best[2])]):
            return None
        return best[2]

    def _kept(self, text: str, i: int, span: str) -> bool:
        """Whether ``span`` at ``i`` is, or lies inside, a common word written there in ``text``."""
        return any(a <= i and text[i - a : i - a + len(common)] == common for common, a in self._keep.get(span, ()))
