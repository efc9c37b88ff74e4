"""The fonts court documents are set in: a Chinese face (Noto CJK) and a fallback for the rest.

:func:`find_fonts` looks at a configured path first, then at Debian's
``fonts-noto-cjk`` (Noto Serif CJK Regular + Bold, then Noto Sans CJK) and
raises :class:`FontMissing` naming that package when nothing usable is there.
Those files are OpenType *collections* of CFF (PostScript outline) fonts; face
0 is the Japanese one, whose Han glyph forms differ from the mainland
standard, so the face is chosen by its name (the "SC" face, index 2 in
Debian's files) rather than by position. fpdf2 2.8.9 handles them directly:
``add_font(..., collection_font_number=i)`` reads the face, the subsetter keeps
only the glyphs used, and the subset is embedded as a CID-keyed CFF font
(``/FontFile3 /CIDFontType0C``) with a ``ToUnicode`` map, so ``pdffonts``
shows it embedded and subset (``CID Type 0C``, emb yes, sub yes, uni yes) and
``pdftotext`` extracts the Chinese text. No extraction of the face to a
separate ``.otf`` is needed.

:data:`FALLBACK_FONTS` (DejaVu Sans, Debian's ``fonts-dejavu-core``) are for
characters Noto CJK lacks; :class:`~server.documents.pdf.DocumentBuilder`
adds the first one present only when a text needs it.
:func:`signature_font` is the face a signature's appearance is set in.
"""

from __future__ import annotations

import functools
import logging
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError  # type: ignore[import-untyped]

from server.errors import MediationError

__all__ = [
    "DEBIAN_NOTO_CJK",
    "FALLBACK_FONTS",
    "FontCandidate",
    "FontFile",
    "FontMissing",
    "FontSet",
    "find_fonts",
    "signature_font",
]

logger = logging.getLogger(__name__)


class FontMissing(MediationError):
    """No usable Chinese font: install the Debian package ``fonts-noto-cjk`` or configure a font file."""

    code = "font_missing"
    status = 500


_NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
_FONT_SUFFIXES = frozenset({".otf", ".ttf", ".otc", ".ttc"})
_COLLECTION_SUFFIXES = frozenset({".otc", ".ttc"})
_SIMPLIFIED = re.compile(r"\b(SC|CN|GB|Simplified Chinese)\b")
_PROBE = "中调解协议书"  # a face that lacks these cannot set a Chinese court document


@dataclass(frozen=True, slots=True)
class FontCandidate:
    """A font file to try, with its bold companion if there is one."""

    regular: Path
    bold: Path | None = None


DEBIAN_NOTO_CJK: tuple[FontCandidate, ...] = (
    FontCandidate(_NOTO_DIR / "NotoSerifCJK-Regular.ttc", _NOTO_DIR / "NotoSerifCJK-Bold.ttc"),
    FontCandidate(_NOTO_DIR / "NotoSansCJK-Regular.ttc", _NOTO_DIR / "NotoSansCJK-Bold.ttc"),
)


FALLBACK_FONTS: tuple[FontCandidate, ...] = (
    FontCandidate(
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
)
"""Fonts for characters the Chinese font lacks (Latin with diacritics, Cyrillic, Greek, Arabic,
symbols), the first present used."""


@dataclass(frozen=True, slots=True)
class FontFile:
    """One face of a font file (``index`` is the face number inside a collection)."""

    path: Path
    index: int = 0


@dataclass(frozen=True, slots=True)
class FontSet:
    """The faces a document is set in; ``bold`` is the regular face when no bold one exists."""

    regular: FontFile
    bold: FontFile


def find_fonts(
    font_path: str | Path | None = None,
    *,
    candidates: Sequence[FontCandidate] = DEBIAN_NOTO_CJK,
) -> FontSet:
    """Choose the fonts: ``font_path`` if it exists, else the first candidate present.

    A configured path that does not exist falls back to the candidates (with a
    warning in the log); one that exists but is not a usable Chinese font
    raises :class:`FontMissing` at once. For a configured file, a sibling whose
    name has "Bold" in place of "Regular" is used as the bold face.
    """
    tried: list[str] = []
    if font_path is not None:
        path = Path(font_path)
        if path.is_file():
            regular = _usable_face(path)
            sibling = path.with_name(path.name.replace("Regular", "Bold"))
            bold = _optional_face(sibling) if sibling != path else None
            return FontSet(regular, bold or regular)
        tried.append(str(path))
        logger.warning("Configured document font %s does not exist; trying the system fonts", path)
    for candidate in candidates:
        if not candidate.regular.is_file():
            tried.append(str(candidate.regular))
            continue
        regular = _usable_face(candidate.regular)
        bold = _optional_face(candidate.bold) if candidate.bold is not None else None
        return FontSet(regular, bold or regular)
    raise FontMissing(
        "No Chinese font for PDF documents: install the Debian package fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk) or configure a font file (.otf, .ttf, .otc or .ttc); "
        f"tried: {', '.join(tried) or 'nothing'}"
    )


@functools.lru_cache(maxsize=1)
def signature_font() -> tuple[Path, int]:
    """The face a signature's appearance is set in, as ``font=`` of :func:`e_sign.pades.sign_pdf` takes it:
    the documents' regular CJK face (the system's, not a configured one), looked up once."""
    regular = find_fonts().regular
    return regular.path, regular.index


def _optional_face(path: Path | None) -> FontFile | None:
    if path is None or not path.is_file():
        return None
    try:
        return _usable_face(path)
    except FontMissing:
        logger.warning("Bold document font %s is not usable; headings are set in the regular face", path)
        return None


def _usable_face(path: Path) -> FontFile:
    if path.suffix.lower() not in _FONT_SUFFIXES:
        raise FontMissing(f"Document font {path} is not an OpenType or TrueType file (.otf, .ttf, .otc, .ttc)")
    stat = path.stat()
    index = _pick_face(str(path), stat.st_mtime_ns, stat.st_size)
    return FontFile(path, index)


@functools.lru_cache(maxsize=16)
def _pick_face(path: str, _mtime_ns: int, _size: int) -> int:
    """The face to use: in a collection the Simplified Chinese one, else the first with Han glyphs."""
    try:
        with open(path, "rb") as file:  # fontTools leaves files it opened itself to the garbage collector
            if Path(path).suffix.lower() in _COLLECTION_SUFFIXES:
                faces = list(TTCollection(file, lazy=True).fonts)
            else:
                faces = [TTFont(file, lazy=True)]
            names = [_face_name(face) for face in faces]
            order = sorted(range(len(faces)), key=lambda i: 0 if _SIMPLIFIED.search(names[i]) else 1)
            for i in order:
                cmap = faces[i].getBestCmap() or {}
                if all(ord(ch) in cmap for ch in _PROBE):
                    return i
    except (TTLibError, OSError, KeyError, IndexError, AssertionError, ValueError, TypeError, struct.error) as exc:
        raise FontMissing(f"Document font {path} cannot be read as a font ({type(exc).__name__})") from exc
    raise FontMissing(f"Document font {path} has no Chinese glyphs; install fonts-noto-cjk or configure a CJK font")


def _face_name(face: TTFont) -> str:
    name = face["name"]
    return str(name.getDebugName(16) or name.getDebugName(1) or "")
