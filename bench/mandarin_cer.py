"""Mandarin character error rate of a transcript engine on the operator's own recordings.

espeak-ng's Mandarin voice is not intelligible to Whisper (``shared/ASR-NOTES.md``), so
Mandarin accuracy cannot be measured on synthetic speech: record real speech (the
court's own hearing-room microphones, several speakers), write what was said into a
same-named ``.txt`` beside each WAV (UTF-8, simplified Chinese), and run this script.

Each WAV (any rate or channel count; PyAV decodes it) is converted to 16 kHz mono, cut
into utterances by the server's own VAD exactly as the transcription worker does
(``bench/support/speech.py``: Silero VAD, ``Segmenter`` with the server's ``VadConfig``,
15 s maximum utterance), and each utterance goes to the configured engine
(``recording.asr.engines.load_engine``, the code the server runs) in ``--language``.
The texts are joined without spaces.

* CER = Levenshtein distance over characters / reference characters, after removing
  punctuation, symbols and whitespace and converting traditional characters to
  simplified (OpenCC ``t2s``) on both sides; per file, and overall as summed edits /
  summed reference characters (not a mean of per-file rates).
* RTF = CPU seconds inside ``engine.transcribe`` (``time.process_time()``, this
  process) / seconds of audio, with ``OMP_NUM_THREADS`` and the engine's threads set to
  ``--threads`` (default 1: the figure per worker core).
* "trad" counts characters of the engine's raw output that ``t2s`` changes: for the
  server's zh-CN readers it should be 0 (the whisper engine converts its own output).

The last line printed is one JSON object.

    .venv/bin/python bench/mandarin_cer.py recordings/                  # every *.wav with its .txt
    .venv/bin/python bench/mandarin_cer.py a.wav b.wav --engine sherpa-onnx \\
        --model /srv/models/sherpa-onnx-paraformer-zh-2023-09-14
    .venv/bin/python bench/mandarin_cer.py --engine whisper --model /srv/models/whisper-small-ct2 recordings/
    .venv/bin/python bench/mandarin_cer.py --demo      # espeak-ng ``cmn`` speech: the plumbing only (CER near 1)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))  # first: bench/recording.py and bench/rooms.py would shadow the packages

from support.speech import (  # noqa: E402
    Errors,
    char_errors,
    cut_utterances,
    espeak,
    read_wav,
    recognise,
    simplified,
)

from recording.asr.engines import ENGINES, EngineSpec, load_engine  # noqa: E402
from recording.asr.vad import silero_session  # noqa: E402
from server.errors import ConfigError  # noqa: E402

DEMO = (
    "感谢双方今天来参加调解。",
    "请问您对赔偿金额有什么意见？",
    "保险公司愿意承担医疗费用，但是不包括误工费。",
    "我们先休息一下，然后再讨论和解方案。",
)
"""Mediation-style sentences for ``--demo`` (espeak-ng voice ``cmn``)."""


@dataclass
class FileResult:
    name: str
    seconds: float
    utterances: int
    errors: Errors
    cpu: float
    hyp: str
    traditional: int

    @property
    def rtf(self) -> float:
        return self.cpu / self.seconds if self.seconds else 0.0


def pairs(paths: list[Path]) -> list[tuple[Path, str]]:
    """(WAV, reference text) pairs from folders (every ``*.wav``) and files. The reference is the
    same-named ``.txt`` beside the WAV or, failing that, the WAV's row in a ``sentences.tsv`` beside
    it (``id<TAB>spoken<TAB>record``, as ``tests/mandarin/``); WAVs with neither are skipped."""
    wavs: list[Path] = []
    for path in paths:
        if path.is_dir():
            wavs += sorted(p for p in path.iterdir() if p.suffix.lower() == ".wav")
        else:
            wavs.append(path)
    out = []
    for wav in wavs:
        ref = wav.with_suffix(".txt")
        table = read_table(wav.parent / "sentences.tsv")
        if ref.exists():
            out.append((wav, ref.read_text(encoding="utf-8").strip()))
        elif wav.stem in table:
            out.append((wav, table[wav.stem]))
        else:
            print(f"skipped {wav}: no {ref.name} beside it and no row in sentences.tsv", file=sys.stderr)
    return out


def read_table(path: Path) -> dict[str, str]:
    """id → the record's text, from a ``sentences.tsv`` (empty if there is none)."""
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    return {row[0]: row[2] for row in rows if len(row) == 3 and not row[0].startswith("#")}


def make_demo(folder: Path) -> list[tuple[Path, str]]:
    """espeak-ng ``cmn`` WAVs with their references in ``folder``."""
    out = []
    for i, text in enumerate(DEMO):
        wav = espeak(text, "cmn", folder / f"demo{i}.wav")
        out.append((wav, text))
    return out


def traditional(text: str) -> int:
    """Characters of ``text`` that OpenCC t2s changes (traditional forms in the engine's output)."""
    converted = simplified(text)
    return sum(a != b for a, b in zip(text, converted, strict=False)) + abs(len(text) - len(converted))


def measure(engine: Any, files: list[tuple[Path, str]], language: str) -> list[FileResult]:
    session = silero_session()
    results = []
    for wav, ref in files:
        cut = cut_utterances(read_wav(wav), session=session)
        got = recognise(engine, cut, language)
        results.append(
            FileResult(
                wav.name,
                cut.seconds,
                len(cut.utterances),
                char_errors(ref, got.text),
                got.cpu,
                got.text,
                traditional(got.text),
            )
        )
    return results


def report(results: list[FileResult], label: str, args: argparse.Namespace) -> None:
    total = sum((r.errors for r in results), Errors())
    seconds = sum(r.seconds for r in results)
    cpu = sum(r.cpu for r in results)
    header = f"{'file':<28}{'audio s':>8}{'utts':>6}{'ref ch':>8}{'edits':>7}{'CER':>7}{'CPU s':>8}{'RTF':>7}{'trad':>6}  text"
    print(header)
    print("-" * len(header))
    for r in results:
        text = r.hyp if len(r.hyp) <= 40 else r.hyp[:39] + "…"
        print(
            f"{r.name:<28}{r.seconds:>8.1f}{r.utterances:>6}{r.errors.length:>8}{r.errors.edits:>7}"
            f"{r.errors.rate:>7.3f}{r.cpu:>8.2f}{r.rtf:>7.3f}{r.traditional:>6}  {text}"
        )
    print("-" * len(header))
    print(
        f"{'overall':<28}{seconds:>8.1f}{sum(r.utterances for r in results):>6}{total.length:>8}{total.edits:>7}"
        f"{total.rate:>7.3f}{cpu:>8.2f}{cpu / seconds if seconds else 0.0:>7.3f}{sum(r.traditional for r in results):>6}"
    )
    if args.demo:
        print(
            "demo: espeak-ng 'cmn' speech is not intelligible to Whisper, so a CER near 1 is expected here; "
            "it shows the plumbing (VAD cutting, language, simplified output), not Mandarin accuracy."
        )
    print(
        json.dumps(
            {
                "bench": "mandarin_cer",
                "engine": label,
                "language": args.language,
                "demo": args.demo,
                "files": len(results),
                "audio_s": round(seconds, 2),
                "utterances": sum(r.utterances for r in results),
                "cer": round(total.rate, 4),
                "edits": total.edits,
                "ref_chars": total.length,
                "cpu_s": round(cpu, 3),
                "rtf": round(cpu / seconds, 4) if seconds else None,
                "threads": args.threads,
                "traditional_chars_in_output": sum(r.traditional for r in results),
                "per_file": [
                    {"file": r.name, "cer": round(r.errors.rate, 4), "rtf": round(r.rtf, 4), "text": r.hyp}
                    for r in results
                ],
            },
            ensure_ascii=False,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="WAV files or folders of them, each with a .txt beside")
    parser.add_argument("--engine", default="whisper", choices=[e for e in ENGINES if e != "off"])
    parser.add_argument("--model", default="", help="model folder (empty: the bundled model: whisper, pocketsphinx)")
    parser.add_argument("--language", default="zh", help="language passed to the engine (default zh)")
    parser.add_argument("--threads", type=int, default=1, help="engine CPU threads (default 1, as a worker)")
    parser.add_argument("--beam-size", type=int, default=1, help="Whisper beam width (default 1, as the server)")
    parser.add_argument("--cache-dir", default=str(REPO / "var" / "models"), help="where Whisper base is assembled")
    parser.add_argument("--demo", action="store_true", help="run on espeak-ng 'cmn' speech made here (plumbing only)")
    parser.add_argument("--quick", action="store_true", help="as every bench script: with no paths, the --demo run")
    args = parser.parse_args()
    if args.quick and not args.paths:
        args.demo = True
    if not args.paths and not args.demo:
        parser.error("give WAV files or folders (each WAV with a same-named .txt reference), or --demo")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before the engine's libraries load
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = EngineSpec(
        name=args.engine,
        model=args.model,
        cache_dir=str(Path(args.cache_dir).resolve()),
        threads=args.threads,
        beam_size=args.beam_size,
    )
    with tempfile.TemporaryDirectory(prefix="bench-cer-") as tmp:
        files = make_demo(Path(tmp)) if args.demo else []
        files += pairs(args.paths)
        if not files:
            print("no WAV file with a .txt reference found", file=sys.stderr)
            return 2
        print(
            f"bench/mandarin_cer.py: {len(files)} files, engine {args.engine}"
            f"{' (' + args.model + ')' if args.model else ''}, language {args.language}, {args.threads} thread(s)",
            flush=True,
        )
        try:
            engine = load_engine(spec)
            results = measure(engine, files, args.language)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        report(results, engine.label, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
