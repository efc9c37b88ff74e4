"""The pure parts of the live transcript: utterance cutting, text finishing, scoring, batching."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recording.asr import worker as w
from recording.asr.engines import finish_text
from recording.asr.pool import _coalesce
from recording.asr.scoring import cer, wer
from recording.asr.vad import WINDOW, Segmenter, Utterance, VadConfig

RATE = 16_000
W = WINDOW / RATE  # seconds per window


def cut(probs: list[float], config: VadConfig | None = None) -> list[Utterance]:
    seg = Segmenter(config or VadConfig())
    out = [u for p in probs if (u := seg.push(p)) is not None]
    last = seg.flush()
    return out + ([last] if last else [])


def windows(seconds: float) -> int:
    return round(seconds / W)


def test_one_stretch_of_speech_is_one_utterance_with_padding() -> None:
    probs = [0.0] * windows(1) + [0.9] * windows(2) + [0.0] * windows(1)
    [u] = cut(probs)
    speech_start = windows(1) * WINDOW
    speech_end = (windows(1) + windows(2)) * WINDOW
    pad = int(VadConfig().pad * RATE)
    assert u.start == speech_start - pad
    assert u.end == speech_end + pad
    assert u.speech == windows(2) * WINDOW


def test_a_short_pause_does_not_split_but_a_long_one_does() -> None:
    short = [0.9] * windows(1) + [0.1] * windows(0.3) + [0.9] * windows(1) + [0.0] * windows(1)
    assert len(cut(short)) == 1
    long = [0.9] * windows(1) + [0.1] * windows(0.8) + [0.9] * windows(1) + [0.0] * windows(1)
    assert len(cut(long)) == 2


def test_hysteresis_keeps_speech_going_between_the_thresholds() -> None:
    probs = [0.9] * windows(0.5) + [0.4] * windows(2) + [0.0] * windows(1)
    [u] = cut(probs)
    assert u.speech == (windows(0.5) + windows(2)) * WINDOW


def test_clicks_are_dropped() -> None:
    assert cut([0.0] * 10 + [0.9] * 3 + [0.0] * 40) == []


def test_a_monologue_is_cut_at_the_maximum_and_goes_on() -> None:
    probs = [0.9] * windows(40)
    utterances = cut(probs, VadConfig(max_utterance=15.0))
    assert len(utterances) == 3
    assert all(u.end - u.start <= 15 * RATE + WINDOW for u in utterances)
    assert utterances[1].start == utterances[0].end  # nothing lost between the pieces


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=600))
def test_utterances_are_ordered_and_disjoint(probs: list[float]) -> None:
    utterances = cut(probs)
    for a, b in zip(utterances, utterances[1:], strict=False):
        assert a.end <= b.start
    for u in utterances:
        assert 0 <= u.start < u.end <= len(probs) * WINDOW + int(0.2 * RATE)
        assert u.speech >= 0.25 * RATE


def test_mandarin_text_is_simplified_and_hallucinations_are_dropped() -> None:
    import opencc

    t2s = opencc.OpenCC("t2s").convert
    assert finish_text([" 這是賠償協議書，", "醫療費一萬元。"], "zh", t2s) == "这是赔偿协议书，医疗费一万元。"
    assert finish_text(["字幕由Amara.org社区提供"], "zh", t2s) == ""
    assert finish_text([" The car stopped.", " Thanks for watching!"], "en", t2s) == "The car stopped."
    assert finish_text([" I agree.", " Yes."], "en", t2s) == "I agree. Yes."


def test_error_rates() -> None:
    assert wer("The car was hit from behind.", "the car was hit from behind") == 0.0
    assert wer("one two three four", "one too three") == 0.5
    assert cer("医疗费一万元", "醫療費一萬圓") == 1 / 6  # traditional folds to simplified; 圓 is wrong
    assert cer("赔偿，协议。", "赔偿协议") == 0.0


def test_audio_is_batched_per_stream_in_order() -> None:
    batch = [("audio", 1, (0, b"a")), ("audio", 1, (960, b"b")), ("open", 2, "zh"), ("audio", 1, (1920, b"c")), None]
    assert _coalesce(batch) == [
        ("audio", 1, [(0, b"a"), (960, b"b")]),
        ("open", 2, "zh"),
        ("audio", 1, [(1920, b"c")]),
        None,
    ]


def test_model_folder_engines_explain_what_they_need(tmp_path: object) -> None:
    import importlib.util

    import pytest

    from recording.asr.engines import EngineSpec, load_engine
    from server.errors import ConfigError

    for name, module in (("vosk", "vosk"), ("sherpa-onnx", "sherpa_onnx")):
        with pytest.raises(ConfigError, match="MEDIATION_TRANSCRIPT_MODEL"):
            load_engine(EngineSpec(name=name))
        if importlib.util.find_spec(module) is None:  # not a dependency: the operator installs it
            with pytest.raises(ConfigError, match=f"pip install {name}"):
                load_engine(EngineSpec(name=name, model=str(tmp_path)))
    with pytest.raises(ConfigError, match="Unknown transcript engine"):
        load_engine(EngineSpec(name="siri"))


def test_a_decoding_loop_is_cut_back_before_the_repair_can_make_words_of_it() -> None:
    # Whisper base repeated 亦 23 times in a short Mandarin utterance (bench/asr.py, zh16); the repair
    # would have read the pairs as 异议 and put a legal word in a party's mouth
    looped = "当事人对赔偿数额有争议" + "亦" * 23
    assert finish_text([looped], "zh", str) == "当事人对赔偿数额有争议亦"
    assert finish_text(["好的" * 6], "zh", str) == "好的"
    # what people say: a word three or four times, numbers of any length
    assert finish_text(["对对对，可以。"], "zh", str) == "对对对，可以。"
    assert finish_text(["赔偿10000000元，不是1,000,000元。"], "zh", str) == "赔偿10000000元，不是1,000,000元。"
    assert finish_text([" No, no, no, no."], "en", str) == "No, no, no, no."


class _Costly:
    """An engine whose every call costs ``cost`` seconds of this process's CPU."""

    def __init__(self, cost: float) -> None:
        self.cost = cost
        self.calls = 0

    def transcribe(self, audio: object, language: str, prompt: str = "") -> str:
        self.calls += 1
        end = time.process_time() + self.cost
        while time.process_time() < end:
            pass
        return "部分"


def test_partials_of_several_speakers_share_one_budget() -> None:
    # after a partial costing c, the next waits for 2·c·n seconds of new speech with n streams speaking
    sent: list[object] = []

    class Conn:
        def send(self, message: object) -> None:
            sent.append(message)

    def speaking_stream() -> w._Stream:
        stream = w._Stream.__new__(w._Stream)
        stream.np = np
        stream.sid, stream.language, stream.prompt, stream.repair = 1, "zh", "", None
        stream.partial_at, stream.partial_gap, stream.partial_shown = 0, 1.0, None
        stream.segmenter = Segmenter(VadConfig())
        stream.segmenter.start = 0
        stream.buffer = np.zeros(RATE * 2, dtype=np.float32)
        stream.buffer_start = 0
        return stream

    options = w.WorkerOptions(partial_interval=1.0)
    for speaking, wanted_gap in ((1, 1.0), (3, 1.2)):
        stream = speaking_stream()
        w._maybe_partial(Conn(), _Costly(0.2), stream, options, lag=0.0, speaking=speaking)  # type: ignore[arg-type]
        assert stream.partial_gap == pytest.approx(wanted_gap, abs=0.1)
    assert len(sent) == 2 and all(m[0] == "partial" for m in sent)  # type: ignore[index]
