"""Verify every signature of a signed agreement, and what was appended after each.

:func:`verify_pdf` answers, per signature (pyHanko's validator does the cryptography):

* **intact** — the document digest over the signature's ``/ByteRange`` is the one signed;
* **valid** — the signature over the signed attributes verifies with the signer's certificate;
* **chain** — that certificate chains to one of ``trust_roots`` and was valid *at the time-stamp's time*
  (event certificates live an hour; judged at the time of reading they would all have expired), with
  key usage non-repudiation;
* **time-stamp** — the signature time-stamp token is intact, valid, signed by a certificate with
  id-kp-timeStamping that chains to ``trust_roots``, and its imprint is the hash of this signature;
* **what came after** — the revision the signature belongs to, whether it covers the whole file, and
  pyHanko's difference analysis of every later revision: further signatures (form filling) are
  allowed, anything else (annotations, changed pages, a changed /Info…) is not, nor is anything a
  signature's lock (``/Lock /P``, see :mod:`e_sign.pades`) forbids;
* an incremental update after the first signature that adds **no signature** (someone edited the
  signed document) fails every signature it follows: "modified after the last signature (revision N)".

Revisions count from 0, the document as it was made; each incremental update adds one. An agreement whose
fields were prepared (revision 1) and that three people signed has its signatures in revisions 2 to 4,
and an edit after them is revision 5.

:attr:`Report.ok` is true only when there is at least one signature and every check of every signature
passed; :attr:`Report.reasons` has one line per failing signature, naming its field.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

__all__ = ["Report", "SignatureCheck", "async_verify_pdf", "verify_pdf"]

logger = logging.getLogger(__name__)

ALLOWED_AFTER_SIGNING = ModificationLevel.FORM_FILLING
"""The most a later revision may do to a signed document: add signatures (fill in signature fields)."""

_LEVEL_WORDS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "validation data and document time-stamps",
    ModificationLevel.FORM_FILLING: "further signatures",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "changes to the content or structure",
}
_COVERAGE_WORDS = {
    SignatureCoverageLevel.ENTIRE_FILE: "the whole file",
    SignatureCoverageLevel.ENTIRE_REVISION: "its revision and all before it",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "part of the file (not a whole revision)",
    SignatureCoverageLevel.UNCLEAR: "an unclear part of the file",
}


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on one signature."""

    field_name: str
    """The signature field's name."""
    revision: int
    """The revision the signature belongs to (0 is the document as created)."""
    signer_name: str | None
    """The signer's name in the certificate (its X.520 ``name`` if it has one, else its common name)."""
    signer_pseudonym: str | None
    """The certificate's subject serialNumber (the participant's pseudonym)."""
    case_number: str | None
    """The certificate's organizational unit (the case number)."""
    signing_time: datetime | None
    """The time the signer claimed (``/M``); not proof of anything."""
    timestamp_time: datetime | None
    """The time in the signature time-stamp token."""
    timestamp_authority: str | None
    """The subject of the certificate that signed the time-stamp token."""
    intact: bool
    """The document digest over the signed byte range matches the signed one."""
    valid: bool
    """The signature itself verifies with the signer's certificate."""
    chain_ok: bool
    """The signer's certificate chains to a trust root and was valid at the time-stamp's time."""
    timestamp_ok: bool
    """The time-stamp token is intact, valid and chains to a trust root through a time-stamping certificate."""
    covers_whole_file: bool
    """The signature covers every byte of the file (true only for the last revision, if nothing followed)."""
    coverage: str
    """What the signature covers, in words."""
    modification_level: str | None
    """What later revisions did, in words (pyHanko's difference analysis); ``None`` when not analysed."""
    lock_ok: bool
    """Later revisions stayed within our policy (signatures only) and within the signature's own lock."""
    unsigned_revisions_after: tuple[int, ...]
    """Revisions after this signature that add no signature."""
    problems: tuple[str, ...]
    """Every failed check, in words; empty when the signature is good."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        """One line naming the field and what is wrong ("" when nothing is)."""
        return f'Signature "{self.field_name}": {"; ".join(self.problems)}' if self.problems else ""


@dataclass(frozen=True)
class Report:
    """The verdict on a whole document."""

    signatures: tuple[SignatureCheck, ...]
    """One entry per signature, in signing order."""
    revisions: int
    """How many revisions the file has (the original counts as one)."""
    problems: tuple[str, ...]
    """Problems of the document as a whole (unreadable, no signature at all)."""

    @property
    def ok(self) -> bool:
        """At least one signature, and every signature passed every check."""
        return bool(self.signatures) and not self.problems and all(s.ok for s in self.signatures)

    @property
    def reasons(self) -> list[str]:
        """One line per problem of the document and per failing signature."""
        return list(self.problems) + [s.reason for s in self.signatures if not s.ok]

    def signature(self, field_name: str) -> SignatureCheck:
        """The entry of the signature in field ``field_name``."""
        for check in self.signatures:
            if check.field_name == field_name:
                return check
        raise KeyError(field_name)


def _name_attribute(cert: Any, attribute: str) -> str | None:
    value = cert.subject.native.get(attribute)
    if isinstance(value, list):
        value = value[-1] if value else None
    return str(value) if value is not None else None


def _timestamp_time(embedded: EmbeddedPdfSignature) -> datetime | None:
    """The genTime of the signature's time-stamp token, read without judging it (to pick the validation time)."""
    try:
        unsigned = embedded.signer_info["unsigned_attrs"]
        if unsigned.native is None:
            return None
        for attribute in unsigned:
            if attribute["type"].native == "signature_time_stamp_token":
                token = attribute["values"][0]
                gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
                return gen_time if isinstance(gen_time, datetime) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return None


def _context(roots: Sequence[Any], moment: datetime | None) -> ValidationContext:
    return ValidationContext(trust_roots=list(roots), moment=moment, allow_fetching=False, revocation_mode="soft-fail")


async def _check(
    embedded: EmbeddedPdfSignature, roots: Sequence[Any], signature_revisions: set[int], total: int, last: bool
) -> SignatureCheck:
    field_name = str(embedded.field_name)
    revision = int(embedded.signed_revision)
    problems: list[str] = []
    cert: Any = None
    try:
        cert = embedded.signer_cert
    except (SignatureValidationError, ValueError, KeyError, TypeError):
        problems.append("the signer's certificate is not in the signature")
    gen_time = _timestamp_time(embedded)
    context = _context(roots, gen_time)
    status: PdfSignatureStatus | None = None
    try:
        status = await async_validate_pdf_signature(
            embedded, signer_validation_context=context, ts_validation_context=context
        )
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        problems.append(f"cannot be validated ({type(exc).__name__})")

    intact = valid = chain_ok = timestamp_ok = lock_ok = False
    covers_whole_file = False
    coverage = "unknown"
    level_words: str | None = None
    tsa_name: str | None = None
    signing_time: datetime | None = None
    if status is not None:
        intact, valid = bool(status.intact), bool(status.valid)
        signing_time = status.signer_reported_dt
        if not intact:
            problems.append("the document was changed inside the signed byte range (digest mismatch)")
        if not valid:
            problems.append("the signature does not verify with the signer's certificate")
        chain_ok = intact and valid and status.validation_path is not None and status.trust_problem_indic is None
        if intact and valid and not chain_ok:
            indication = (
                str(status.trust_problem_indic.standard_name) if status.trust_problem_indic is not None else "no path"
            )
            when = f"{gen_time:%Y-%m-%d %H:%M:%S %Z}" if gen_time is not None else "now"
            problems.append(f"the signer's certificate does not chain to a trusted CA at {when} ({indication})")
        tst = status.timestamp_validity
        if tst is None:
            problems.append("no signature time-stamp (not PAdES B-T)")
        else:
            tsa_name = tst.signing_cert.subject.human_friendly if tst.signing_cert is not None else None
            timestamp_ok = bool(tst.intact and tst.valid and tst.trusted)
            if not (tst.intact and tst.valid):
                problems.append("the signature time-stamp token is broken (imprint or TSA signature)")
            elif not tst.trusted:
                problems.append("the signature time-stamp was not issued by a trusted time-stamp authority")
        cov = status.coverage
        covers_whole_file = cov == SignatureCoverageLevel.ENTIRE_FILE
        coverage = _COVERAGE_WORDS.get(cov, str(cov)) if cov is not None else "unknown"
        if cov is None or cov < SignatureCoverageLevel.ENTIRE_REVISION:
            problems.append(f"the signature covers {coverage}")
        level = status.modification_level
        level_words = _LEVEL_WORDS.get(level) if level is not None else None
        lock_ok = bool(status.docmdp_ok) and level is not None and level <= ALLOWED_AFTER_SIGNING
        if level is not None and level > ALLOWED_AFTER_SIGNING:
            problems.append(f"modified after signing: {level_words}")
        elif status.docmdp_ok is False:
            problems.append(f"the signature's lock forbids what came after it ({level_words})")

    unsigned_after = tuple(r for r in range(revision + 1, total) if r not in signature_revisions)
    for r in unsigned_after:
        problems.append(
            f"modified after the last signature (revision {r})" if last else f"modified after signing (revision {r})"
        )
    if unsigned_after:
        lock_ok = False

    return SignatureCheck(
        field_name=field_name,
        revision=revision,
        signer_name=(_name_attribute(cert, "name") or _name_attribute(cert, "common_name"))
        if cert is not None
        else None,
        signer_pseudonym=_name_attribute(cert, "serial_number") if cert is not None else None,
        case_number=_name_attribute(cert, "organizational_unit_name") if cert is not None else None,
        signing_time=signing_time,
        timestamp_time=gen_time,
        timestamp_authority=tsa_name,
        intact=intact,
        valid=valid,
        chain_ok=chain_ok,
        timestamp_ok=timestamp_ok,
        covers_whole_file=covers_whole_file,
        coverage=coverage,
        modification_level=level_words,
        lock_ok=lock_ok,
        unsigned_revisions_after=unsigned_after,
        problems=tuple(dict.fromkeys(problems)),
    )


def _roots(trust_roots: Sequence[x509.Certificate]) -> list[Any]:
    return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trust_roots]


async def async_verify_pdf(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> Report:
    """:func:`verify_pdf` for callers already inside an event loop."""
    roots = _roots(trust_roots)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        total = int(reader.xrefs.total_revisions)
        embedded = list(reader.embedded_regular_signatures)
    except (PdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        # RecursionError: objects nested thousands deep (a few KB) exhaust the parser's stack
        return Report((), 0, (f"not a readable PDF ({type(exc).__name__})",))
    if not embedded:
        return Report((), total, ("the document has no signature",))
    signature_revisions = {int(e.signed_revision) for e in embedded}
    checks = []
    for i, signature in enumerate(embedded):
        checks.append(await _check(signature, roots, signature_revisions, total, last=i == len(embedded) - 1))
    report = Report(tuple(checks), total, ())
    for line in report.reasons:
        logger.info("Verification: %s", line)
    return report


def verify_pdf(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> Report:
    """Check every signature in ``pdf`` against ``trust_roots`` (normally the platform CA's certificate).

    Never raises for what the document contains: an unreadable file or a broken signature is a problem in
    the report. Runs its own event loop: from async code, await :func:`async_verify_pdf` instead.
    """
    return asyncio.run(async_verify_pdf(pdf, trust_roots))
