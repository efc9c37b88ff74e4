"""What a document on a case may be: the kinds people upload, and the type its bytes show.

The platform makes documents of its own kinds (drafts, the signing file, the completion
certificate, the record, proofs of service, the ruling, manifests…), and later stages trust
those kinds: which terms are signed, which file is the court's ruling, which PDF is handed to
PDFium. So an upload may only take one of :data:`UPLOAD_KINDS`, and its media type must be
what its first bytes show (:func:`sniff`), never merely what the client claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

UPLOAD_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "evidence": "证据材料",
        "liability_finding": "事故责任认定书",
        "medical_record": "病历及诊断证明",
        "invoice": "费用票据",
        "identity": "身份证明",
        "authorization": "授权委托书",
        "appraisal_opinion": "鉴定意见",
        "photo": "现场及车损照片",
        "note": "内部备注",
        "other": "其他材料",
    }
)
"""The kinds a person may give an uploaded document, with their Chinese names.

Every other kind is the platform's own and is refused on upload."""

UPLOAD_MEDIA_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "text/plain"})
"""Media types an upload may have."""

_ALLOWED_TEXT_CONTROLS = frozenset("\t\n\r\f")


def sniff(data: bytes) -> str | None:
    """The media type the bytes show (PDF, JPEG, PNG, UTF-8 plain text), or None.

    Plain text is UTF-8 without control characters other than tab, line breaks and form feed
    (so no binary, and no NUL that a later reader could stop at).
    """
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any((ch < " " and ch not in _ALLOWED_TEXT_CONTROLS) or ch == "\x7f" for ch in text):
        return None
    return "text/plain"


def check_upload(kind: str, media_type: str, data: bytes) -> str | None:
    """Why an upload is refused (a message naming no input value), or None when it may be kept."""
    if kind not in UPLOAD_KINDS:
        return "Unknown document kind; uploads take one of: " + ", ".join(UPLOAD_KINDS)
    if media_type not in UPLOAD_MEDIA_TYPES:
        return "Documents must be PDF, JPEG, PNG or plain text"
    shown = sniff(data)
    if shown != media_type:
        return f"The bytes are not a {media_type} file" + (f" (they look like {shown})" if shown else "")
    return None
