"""One PAdES baseline B-T signature on a PDF, appended as an incremental update.

:func:`sign_pdf` takes the document as it is (unsigned, or carrying earlier signatures) and returns it with
exactly one more revision holding:

* the signature in its field — the prepared field of that name, or a new one on ``page`` at ``box``
  (PDF points from the page's bottom-left, 0-based page, as ``DocumentBuilder.signature_block`` gives
  them) — with a visible appearance: the signer's handwritten mark scaled into the box, and under it
  one line "签名：<name> <time>";
* the signature itself: CMS ``SignedData``, ``/SubFilter /ETSI.CAdES.detached``, SHA-256, ECDSA P-256 by
  a key made for this one signature and certified by the platform CA
  (:meth:`e_sign.ca.PlatformCA.issue_signer`); signed attributes content-type, message-digest and
  signing-certificate-v2 (no signing-time: PAdES puts the claimed time in the signature dictionary's
  ``/M``); the signature time-stamp token from the platform TSA as an unsigned attribute (B-T).

Earlier revisions are never rewritten, so earlier signatures stay valid; signing in a set order is one
call per signer, in that order.

Modification policy (DocMDP). No signature is a certification ("author") signature by default: a party or
the mediator certifying the agreement would be shown by Acrobat as its *author*, which none of them is.
Instead every signature field carries a lock dictionary (``/Lock`` with ``/P``, ISO 32000-2 §12.7.5.5)
saying what may change once it is signed: ``/P 2``, only filling in forms and signing, for every signer
but the last; ``/P 1``, no changes, for the last field (the mediator's, who signs last). Under these
rules adding a *new field* is not "filling in a form", so all fields are created up front, before the
first signature, by :func:`prepare_signature_fields` (when the signing opens and the signers are known);
:func:`sign_pdf` refuses to create a field once a locking signature exists, and refuses any signature
after a ``/P 1`` one. pyHanko's validator (and Acrobat's) read the locks and call an annotation, a changed
page or any other edit after a signature a violation; document time-stamps and DSS updates (a later
PAdES B-LTA step) stay allowed under both values. Validators older than PDF 2.0 (poppler's ``pdfsig``)
ignore the locks; :mod:`e_sign.verify` enforces the same policy itself, from the revision structure and
pyHanko's difference analysis, whatever the document says. A field :func:`sign_pdf` creates itself (on a
document without locking signatures) gets ``/P 2``, or ``/P 1`` with ``final=True``. ``certify=True`` is
left for a document the platform itself certifies before anyone signs.

Appearance font. pyHanko draws text with its own font engines: the built-in Courier (Latin-1 only), or an
OpenType engine that needs ``uharfbuzz``, which is not installed here (nor in the dependency list). So
the appearance is composed as one greyscale image with Pillow (FreeType, the face the caller passes as
``font``, by default the Noto CJK face :func:`default_font` finds) at 3 pixels per point (216 dpi), and placed by a
pyHanko static stamp. The Chinese name and time stay legible when printed or zoomed, the image costs
about 2.5 ms and 7 kB; the text is not selectable, which does not matter for an appearance (the identity
that counts is the one in the certificate). Greyscale: court files are printed in black and white, and
it halves the image.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import algos, cms  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from e_sign.ca import EventCertificate, PlatformCA, SignerIdentity, signing_certificate_v2_attribute
from e_sign.errors import ESignError, SigningRefused, TimestampError

__all__ = [
    "APPEARANCE_PX_PER_PT",
    "FieldPlacement",
    "RESERVED_SIGNATURE_BYTES",
    "SigningTimes",
    "CJK_FONT_FILES",
    "async_sign_pdf",
    "default_font",
    "prepare_signature_fields",
    "render_appearance",
    "sign_pdf",
]

logger = logging.getLogger(__name__)

RESERVED_SIGNATURE_BYTES = 12288
"""Hex digits kept for ``/Contents`` (6 KiB of DER). A signature here is about 3.6 KiB: the event
certificate, the CA certificate, the signed attributes and the time-stamp token with the TSA's and the
CA's certificates; the rest is margin for long names and organisation names."""
APPEARANCE_PX_PER_PT = 3
"""Resolution of the appearance image: 3 pixels per point, 216 dpi."""
TEXT_SHARE = 0.26
"""Share of the box height kept for the text line under the mark."""
MIN_TEXT_PT, MAX_TEXT_PT = 5.0, 9.0
MIN_TWO_LINES_PT = 7.0
"""Below this size the text goes on two lines (name, then time) instead."""
FRAME_INSET = 1.0
"""Points kept free inside the given box: the grey frame ``DocumentBuilder`` draws is 0.85 pt wide."""
INK = 20
"""Grey level of the text (0 black, 255 white)."""
MAX_MARK_PIXELS = 4_000_000
"""The largest handwritten mark accepted (a phone's full-screen canvas at 3x is about 3.3 million)."""


@dataclass(frozen=True)
class SigningTimes:
    """How long the parts of one :func:`sign_pdf` took, in seconds (for the benchmark)."""

    certificate: float
    """Key generation and certificate issuance."""
    appearance: float
    """Composing the appearance image."""
    pdf: float
    """pyHanko: reading the document, writing the incremental update, hashing, the CMS and the timestamp."""
    timestamp: float
    """The part of ``pdf`` spent waiting for the time-stamper."""


class _PreparedAttribute(CMSAttributeProvider):
    """A signed attribute encoded beforehand (pyHanko would rebuild it with asn1crypto: milliseconds)."""

    def __init__(self, attribute_type: str, der: bytes) -> None:
        self.attribute_type = attribute_type
        self._der = der

    async def get_attribute(self, dry_run: bool = False) -> Any:
        return cms.CMSAttribute.load(self._der)


class _PadesSignedAttributes(SignedAttributeProviderSpec):
    """The signed attributes a PAdES signature adds to content-type and message-digest: signing-certificate-v2
    only (PAdES forbids signing-time; the claimed time is ``/M``)."""

    def __init__(self, certificate: x509.Certificate) -> None:
        self._attribute = _PreparedAttribute("signing_certificate_v2", signing_certificate_v2_attribute(certificate))

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Iterator[CMSAttributeProvider]:
        yield self._attribute


@lru_cache(maxsize=8)
def _asn1_certificate(der: bytes) -> Any:
    """The asn1crypto form of a CA certificate, parsed once (its derived values are cached on the object)."""
    return asn1_x509.Certificate.load(der)


class _EventSigner(Signer):
    """A pyHanko signer holding a one-signature key in memory (never serialised)."""

    def __init__(self, event: EventCertificate, ca_certificate: x509.Certificate) -> None:
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        registry.register(_asn1_certificate(ca_certificate.public_bytes(serialization.Encoding.DER)))
        der = event.certificate.public_bytes(serialization.Encoding.DER)
        super().__init__(
            signing_cert=asn1_x509.Certificate.load(der),
            cert_registry=registry,
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            embed_roots=True,
        )
        self.signed_attr_prov_spec = _PadesSignedAttributes(event.certificate)
        self._key = event.key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != "sha256":
            raise SigningError(f"event keys sign with SHA-256 only, not {digest_algorithm}")
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))


class _TimedStamper(TimeStamper):
    """Wraps the caller's time-stamper to measure it, and turns its failures into :class:`TimestampError`."""

    def __init__(self, inner: TimeStamper) -> None:
        super().__init__(include_nonce=inner.include_nonce)  # type: ignore[no-untyped-call]
        self.inner = inner
        self.seconds = 0.0

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            return await self.inner.async_timestamp(message_digest, md_algorithm)
        except TimestampError:
            raise
        except (OSError, ValueError) as exc:  # pyHanko's TimestampRequestError is an OSError
            raise TimestampError(f"The signature time-stamp could not be obtained: {exc}") from exc
        finally:
            self.seconds += loop.time() - t0


# -- appearance ----------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _font(path: str, index: int, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px, index=index)


CJK_FONT_FILES: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
"""Where :func:`default_font` looks, in order (Debian's ``fonts-noto-cjk``, the documents' own faces)."""
_SIMPLIFIED = re.compile(r"\b(SC|CN|GB|Simplified Chinese)\b")
_MAX_FACES = 64


@lru_cache(maxsize=4)
def default_font(candidates: tuple[Path, ...] = CJK_FONT_FILES) -> tuple[str, int]:
    """The appearance's font when the caller gives none, as ``(path, face index)``: the first of
    ``candidates`` present and, in a collection, its Simplified Chinese face (else its first face).

    Raises :class:`~e_sign.ESignError` when none is present."""
    for path in candidates:
        if not path.is_file():
            continue
        for index in range(_MAX_FACES):
            try:
                family = ImageFont.truetype(str(path), 10, index=index).getname()[0] or ""
            except OSError:  # past the last face of the file
                break
            if _SIMPLIFIED.search(family):
                return str(path), index
        return str(path), 0
    raise ESignError(
        "No CJK font for the signature appearance: install the Debian package fonts-noto-cjk or pass "
        f"font=(path, face index); tried: {', '.join(str(p) for p in candidates) or 'nothing'}"
    )


def _format_time(when: datetime) -> str:
    offset = when.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{when:%Y-%m-%d %H:%M:%S} {offset}".strip()


def _fit_lines(
    path: str, index: int, name: str, when_text: str, size_px: int, room: float, band: int
) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    """The text under the mark: one line "签名：<name> <time>" if it fits at a readable size, else the name and
    the time on two lines, smaller; a name too long even then is shortened with "…"."""
    readable, smallest = round(MIN_TWO_LINES_PT * APPEARANCE_PX_PER_PT), round(MIN_TEXT_PT * APPEARANCE_PX_PER_PT)
    one = f"签名：{name} {when_text}"
    face = _font(path, index, size_px)
    length = face.getlength(one)
    if length <= room:
        return [(one, face)]
    fitted = math.floor(size_px * room / length)  # text width is proportional to the size
    if fitted >= readable:
        return [(one, _font(path, index, fitted))]
    size = max(smallest, min(size_px, math.floor(band / 2.3)))
    first = f"签名：{name}"
    face = _font(path, index, size)
    length = max(face.getlength(first), face.getlength(when_text))
    if length > room:
        size = max(smallest, math.floor(size * room / length))
        face = _font(path, index, size)
    while face.getlength(first) > room and len(name) > 1:  # still too wide at the smallest size
        name = name[:-1]
        first = f"签名：{name}…"
    return [(first, face), (when_text, face)]


def render_appearance(
    name: str,
    when: datetime,
    mark_png: bytes | None,
    width_pt: float,
    height_pt: float,
    *,
    font: tuple[Path | str, int] | None = None,
) -> Image.Image:
    """The visible signature as a greyscale image of ``width_pt`` x ``height_pt`` points on white: the mark
    scaled into the upper part, and "签名：<name> <time>" under it (see :func:`_fit_lines`)."""
    scale = APPEARANCE_PX_PER_PT
    width_px, height_px = max(1, round(width_pt * scale)), max(1, round(height_pt * scale))
    canvas = Image.new("L", (width_px, height_px), 255)
    path, index = (str(font[0]), font[1]) if font is not None else default_font()

    pad = max(1, round(1.5 * scale))
    text_band = height_px * TEXT_SHARE
    room = width_px - 2 * pad
    when_text = _format_time(when)
    size_px = max(1, min(round(MAX_TEXT_PT * scale), round(text_band - pad)))
    lines = _fit_lines(path, index, name, when_text, size_px, room, round(text_band - pad))
    draw = ImageDraw.Draw(canvas)
    baseline = height_px - pad
    for text, face in reversed(lines):  # bottom line first
        draw.text((width_px / 2, baseline), text, font=face, fill=INK, anchor="ms")
        baseline -= round(face.size * 1.2)

    if mark_png:
        try:
            with Image.open(io.BytesIO(mark_png)) as source:
                if source.width * source.height > MAX_MARK_PIXELS:  # checked before decoding anything
                    raise ValueError(f"the signature mark is larger than {MAX_MARK_PIXELS} pixels")
                source.load()
                mark = source.convert("LA")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise ValueError("the signature mark is not a readable image") from exc
        box_w, box_h = room, math.floor(height_px - text_band - pad)
        if box_w > 0 and box_h > 0 and mark.width > 0 and mark.height > 0:
            ratio = min(box_w / mark.width, box_h / mark.height)
            size = (max(1, round(mark.width * ratio)), max(1, round(mark.height * ratio)))
            mark = mark.resize(size, Image.Resampling.BICUBIC)
            ink, alpha = mark.split()
            canvas.paste(ink, ((width_px - size[0]) // 2, pad + (box_h - size[1]) // 2), alpha)
    return canvas


def _stamp_style(image: Image.Image) -> StaticStampStyle:
    return StaticStampStyle(
        border_width=0,
        background=PdfImage(image),
        background_opacity=1.0,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(0, 0, 0, 0),
            inner_content_scaling=InnerScaling.STRETCH_FILL,
        ),
    )


# -- fields and locks ----------------------------------------------------------------------------------


def _lock(field_name: str, final: bool) -> tuple[FieldMDPSpec, MDPPerm]:
    return (
        FieldMDPSpec(action=FieldMDPAction.INCLUDE, fields=[field_name]),
        MDPPerm.NO_CHANGES if final else MDPPerm.FILL_FORMS,
    )


def _inner_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The box less :data:`FRAME_INSET` on each side, rounded inwards to whole points (pyHanko's field boxes
    are integers); the inset keeps the document's own frame around the box visible."""
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box) or x2 <= x1 or y2 <= y1:
        raise SigningRefused("The signature box must be (x1, y1, x2, y2) with x1 < x2 and y1 < y2")
    inner = (
        math.ceil(x1 + FRAME_INSET),
        math.ceil(y1 + FRAME_INSET),
        math.floor(x2 - FRAME_INSET),
        math.floor(y2 - FRAME_INSET),
    )
    if inner[2] - inner[0] < 10 or inner[3] - inner[1] < 10:
        raise SigningRefused("The signature box is smaller than 10 x 10 points")
    return inner


def _check_placement(writer: IncrementalPdfFileWriter, page: int, box: tuple[int, int, int, int]) -> None:
    count = int(writer.root["/Pages"]["/Count"])
    if not 0 <= page < count:
        raise SigningRefused(f"The document has {count} pages; there is no page {page} (0-based)")
    page_obj = writer.find_page_for_modification(page)[0].get_object()  # type: ignore[no-untyped-call]
    node, media_box = page_obj, None
    while node is not None and media_box is None:
        media_box = node.get("/MediaBox")
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    if media_box is not None:
        left, bottom, right, top = (float(v) for v in media_box)
        x1, y1, x2, y2 = box
        if x1 < left or y1 < bottom or x2 > right or y2 > top:
            raise SigningRefused(f"The signature box {box} lies outside page {page}")


def _existing_field(writer: IncrementalPdfFileWriter, field_name: str) -> tuple[Any, Any] | None:
    """(field reference, value) of the signature field named ``field_name``, if the document has one."""
    for name, value, field_ref in enumerate_sig_fields(writer.prev, with_name=field_name):
        if name == field_name:
            return field_ref, value
    return None


def _check_locks(writer: IncrementalPdfFileWriter, certify: bool) -> str | None:
    """Refuse a document locked against further signatures; the field name of the first signature that
    restricts changes (``/Lock /P`` or a certification), if any: after it, no new field may be created."""
    signatures = writer.prev.embedded_regular_signatures
    if certify and signatures:
        raise SigningRefused("A certification signature must be the document's first signature")
    restricting: str | None = None
    for embedded in signatures:
        level = embedded.docmdp_level
        if level == MDPPerm.NO_CHANGES:
            raise SigningRefused(
                f'The document was locked by the signature in field "{embedded.field_name}"; '
                "it takes no further signatures"
            )
        if level is not None and restricting is None:
            restricting = str(embedded.field_name)
    return restricting


class FieldPlacement(Protocol):
    """Where a signature field goes; :class:`server.documents.pdf.SignatureBox` is one."""

    @property
    def field_name(self) -> str: ...

    @property
    def page(self) -> int: ...

    @property
    def box(self) -> tuple[float, float, float, float]: ...


def prepare_signature_fields(pdf: bytes, fields: Sequence[FieldPlacement], *, lock_last: bool = True) -> bytes:
    """``pdf`` with an empty signature field for each of ``fields``, in one incremental update.

    Call it once, before the first signature, when the signers are known (opening the signing): every field
    carries its lock (``/P 2``, and ``/P 1`` for the last one if ``lock_last``, the mediator's, who signs
    last), and after a signature with a lock no new field may be created — under ISO 32000's modification
    rules adding a field is not "filling in a form", so a field created by a later signer would make the
    earlier signatures report a disallowed change. Fields that already exist are left as they are.
    """
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    except (PdfError, ValueError) as exc:
        raise SigningRefused("The document is not a PDF this signer can read") from exc
    if writer.prev.embedded_regular_signatures:
        raise SigningRefused("Signature fields are prepared before the first signature")
    added = 0
    for i, placement in enumerate(fields):
        name = placement.field_name
        if not name or "." in name:
            raise SigningRefused("A signature field name must be non-empty and contain no dots")
        if _existing_field(writer, name) is not None:
            continue
        inner = _inner_box(placement.box)
        _check_placement(writer, placement.page, inner)
        lock, permission = _lock(name, final=lock_last and i == len(fields) - 1)
        spec = SigFieldSpec(
            sig_field_name=name,
            on_page=placement.page,
            box=inner,
            field_mdp_spec=lock,
            doc_mdp_update_value=permission,
        )
        append_signature_field(writer, spec)
        added += 1
    if not added:
        return pdf
    output = io.BytesIO()
    writer.write(output)  # type: ignore[no-untyped-call]
    return output.getvalue()


# -- signing -------------------------------------------------------------------------------------------


async def async_sign_pdf(
    pdf: bytes,
    *,
    field_name: str,
    page: int,
    box: tuple[float, float, float, float],
    signer: SignerIdentity,
    ca: PlatformCA,
    timestamper: TimeStamper,
    mark_png: bytes | None,
    reason: str,
    location: str,
    now: datetime,
    final: bool = False,
    certify: bool = False,
    font: tuple[Path | str, int] | None = None,
    times: list[SigningTimes] | None = None,
) -> bytes:
    """:func:`sign_pdf` for callers already inside an event loop."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not field_name or "." in field_name:
        raise SigningRefused("A signature field name must be non-empty and contain no dots")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    except (PdfError, ValueError) as exc:
        raise SigningRefused("The document is not a PDF this signer can read") from exc
    restricting = _check_locks(writer, certify)
    lock, permission = _lock(field_name, final)
    existing = _existing_field(writer, field_name)
    new_field: SigFieldSpec | None = None
    if existing is not None:
        field_ref, value = existing
        if value is not None:
            raise SigningRefused(f'The signature field "{field_name}" is already signed')
        field = field_ref.get_object()
        rect = field.get("/Rect")
        try:  # the field's own lock decides; asking for another would only make pyHanko warn and take the stricter
            permission = MDPPerm(int(field["/Lock"]["/P"]))
        except (KeyError, ValueError, TypeError):
            pass
        if rect is None:
            raise SigningRefused(f'The signature field "{field_name}" has no widget to show a signature in')
        x1, y1, x2, y2 = (float(v) for v in rect)
        width, height = abs(x2 - x1), abs(y2 - y1)
    else:
        if restricting is not None:
            raise SigningRefused(
                f'There is no signature field "{field_name}", and the signature in field "{restricting}" '
                "allows no new fields: prepare every field before the first signature (prepare_signature_fields)"
            )
        inner = _inner_box(box)
        _check_placement(writer, page, inner)
        width, height = inner[2] - inner[0], inner[3] - inner[1]
        new_field = SigFieldSpec(
            sig_field_name=field_name,
            on_page=page,
            box=inner,
            field_mdp_spec=lock,
            doc_mdp_update_value=permission,
        )

    t1 = loop.time()
    event = ca.issue_signer(signer, now)
    t2 = loop.time()
    try:
        image = render_appearance(signer.display_name, now, mark_png, width, height, font=font)
    except ValueError as exc:
        raise SigningRefused(str(exc)) from exc
    t3 = loop.time()

    stamper = _TimedStamper(timestamper)
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        reason=reason or None,
        location=location or None,
        subfilter=SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=permission,
    )
    pdf_signer = PdfSigner(
        meta,
        _EventSigner(event, ca.certificate),
        timestamper=stamper,
        stamp_style=_stamp_style(image),
        new_field_spec=new_field,
    )
    try:
        session = pdf_signer.init_signing_session(writer, existing_fields_only=existing is not None)
        session.system_time = now  # the claimed signing time (/M) and the appearance's time: ours, not the OS's
        tbs = session.prepare_tbs_document(validation_info=None, bytes_reserved=RESERVED_SIGNATURE_BYTES)
        output = io.BytesIO()
        prepared, _ = tbs.digest_tbs_document(output=output)
        post = await tbs.perform_signature(prepared.document_digest, PdfCMSSignedAttributes(signing_time=now))
        await post.post_signature_processing(output)
    except SigningError as exc:
        raise SigningRefused(f'Cannot sign field "{field_name}": {exc}') from exc
    t4 = loop.time()  # the one-signature key goes out of scope with this call, never having been written anywhere
    if times is not None:
        times.append(
            SigningTimes(certificate=t2 - t1, appearance=t3 - t2, pdf=(t4 - t3) + (t1 - t0), timestamp=stamper.seconds)
        )
    result = output.getvalue()
    logger.info("Signed field %s (%d -> %d bytes)", field_name, len(pdf), len(result))
    return bytes(result)


def sign_pdf(
    pdf: bytes,
    *,
    field_name: str,
    page: int,
    box: tuple[float, float, float, float],
    signer: SignerIdentity,
    ca: PlatformCA,
    timestamper: TimeStamper,
    mark_png: bytes | None,
    reason: str,
    location: str,
    now: datetime,
    final: bool = False,
    certify: bool = False,
    font: tuple[Path | str, int] | None = None,
    times: list[SigningTimes] | None = None,
) -> bytes:
    """``pdf`` with one more signature, by ``signer``, in the field ``field_name``, as an incremental update.

    ``page`` (0-based) and ``box`` (``x1, y1, x2, y2`` in points from the page's bottom-left, as
    :class:`server.documents.pdf.SignatureBox` gives them) place a new field; a field of that name that
    already exists keeps its own place. ``timestamper`` is any pyHanko time-stamper (normally
    :class:`e_sign.tsa.InProcessTimeStamper`); ``mark_png`` the handwritten mark (PNG, or any image
    Pillow reads, at most :data:`MAX_MARK_PIXELS`), or ``None`` for the text line alone; ``now`` the
    signing moment (timezone-aware; the certificate's validity, ``/M`` and the appearance's time follow
    it, while the time-stamp token carries the TSA's time). ``final`` gives a field this call creates the
    lock "no changes" (prepared fields carry their own: see the module's notes); ``font`` is
    ``(path, face index)`` for the appearance's text (default: :func:`default_font`); ``times``, if
    given, receives a :class:`SigningTimes`.

    Raises :class:`~e_sign.SigningRefused` (unreadable document or mark, field already signed, document
    locked, no field where new ones are not allowed, page or box out of range) and
    :class:`~e_sign.TimestampError`. Runs its own event loop: from async code, await
    :func:`async_sign_pdf` instead.
    """
    return asyncio.run(
        async_sign_pdf(
            pdf,
            field_name=field_name,
            page=page,
            box=box,
            signer=signer,
            ca=ca,
            timestamper=timestamper,
            mark_png=mark_png,
            reason=reason,
            location=location,
            now=now,
            final=final,
            certify=certify,
            font=font,
            times=times,
        )
    )
