"""The signing core end to end: the platform CA, its RFC 3161 TSA and PAdES B-T signatures on an agreement
built by ``DocumentBuilder``, checked by pyHanko (``e_sign.verify``) and independently by poppler's
``pdfsig`` (NSS) and OpenSSL.

Nothing is mocked. ``pdfsig`` judges certificate trust from an NSS database; Debian's ``certutil``
(libnss3-tools) is not installed here, so the test builds that database with NSS itself: a child Python
process loads ``libnss3`` (which ``pdfsig`` links against) with ``ctypes`` and does what
``certutil -N --empty-password`` and ``certutil -A -t CT,C,C`` do. Without poppler-utils, OpenSSL or
Debian's ``fonts-noto-cjk`` the module skips on a developer's machine and fails in CI (``CI`` set).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, ImageDraw
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper

from e_sign import CAError, SigningRefused, TimestampError
from e_sign.ca import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    NAME_OID,
    PlatformCA,
    SignerIdentity,
    pseudonym,
    signing_certificate_v2_attribute,
)
from e_sign.pades import async_sign_pdf, prepare_signature_fields, sign_pdf
from e_sign.tsa import (
    POLICY_OID,
    InProcessTimeStamper,
    TimestampAuthority,
    TimeStampResponse,
    check_token,
)
from e_sign.verify import Report, verify_pdf
from server.documents.pdf import DocumentBuilder, FontMissing, SignatureBox, find_fonts

BEIJING = timezone(timedelta(hours=8))
CASE = "（2026）京0105民调88号"
TITLE = "调解协议书"
CLAUSE = "被申请人于本协议生效之日起十五日内向申请人支付赔偿款共计人民币 86,400.00 元。"
SIGNERS = {  # signer id -> (display name, role), in signing order: the parties, then the mediator
    "applicant": ("张三", "申请人"),
    "respondent": ("中国人民财产保险股份有限公司北京市分公司", "被申请人"),
    "mediator": ("王五", "调解员"),
}
VALID = "Signature Validation: Signature is Valid."
TRUSTED = "Certificate Validation: Certificate is Trusted."


def _missing() -> str | None:
    missing = [tool for tool in ("pdfsig", "pdftotext", "openssl") if shutil.which(tool) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (poppler-utils, openssl)"
    try:
        find_fonts()
    except FontMissing as exc:
        return str(exc)
    return None


_MISSING = _missing()
if _MISSING is not None:
    if os.environ.get("CI"):
        pytest.fail(_MISSING, pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


# -- the world: CA, TSA, an agreement, its three signatures ------------------------------------------


def _now() -> datetime:
    return datetime.now(BEIJING)


@dataclass
class Platform:
    ca: PlatformCA
    tsa: TimestampAuthority
    folder: Path

    @property
    def stamper(self) -> InProcessTimeStamper:
        return InProcessTimeStamper(self.tsa)


@dataclass
class Signed:
    unsigned: bytes
    prepared: bytes
    steps: list[bytes]  # after each signature, in order
    boxes: list[SignatureBox]
    before: datetime
    after: datetime

    @property
    def final(self) -> bytes:
        return self.steps[-1]


def scribble(seed: int = 0) -> bytes:
    """A handwritten-looking mark: a dark blue zigzag on a transparent background, as PNG."""
    image = Image.new("RGBA", (420, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(15 + i * 40, 120 - ((i * 37 + seed * 11) % 90)) for i in range(10)]
    draw.line(points, fill=(15, 30, 120, 255), width=7, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def build_agreement() -> tuple[bytes, list[SignatureBox]]:
    """A two-page agreement with three signature blocks."""
    with DocumentBuilder(TITLE, created_at=_now(), case_number=CASE, subtitle="机动车交通事故责任纠纷") as b:
        b.heading("一、当事人")
        b.fields([("申请人", "张三"), ("被申请人", SIGNERS["respondent"][0]), ("调解员", "王五")])
        b.heading("二、事实")
        b.paragraph("2026年3月1日8时许，被申请人投保的小型轿车与申请人驾驶的电动自行车发生碰撞。" * 6)
        b.page_break()
        b.heading("三、协议内容")
        b.paragraph(CLAUSE)
        boxes = [b.signature_block(signer_id, f"{role} {name}") for signer_id, (name, role) in SIGNERS.items()]
        data = b.render()
    return data, boxes


def sign_as(platform: Platform, pdf: bytes, box: SignatureBox, **overrides: Any) -> bytes:
    """``box``'s signer signs ``pdf`` with the platform's keys; ``overrides`` replace any argument of ``sign_pdf``."""
    name, role = SIGNERS.get(box.signer_id, ("x", None))
    arguments: dict[str, Any] = {
        "field_name": box.field_name,
        "page": box.page,
        "box": box.box,
        "signer": SignerIdentity(f"participant-{box.signer_id}", name, CASE, role),
        "ca": platform.ca,
        "timestamper": platform.stamper,
        "mark_png": scribble(len(name)),
        "reason": "本人已阅读并同意本调解协议",
        "location": "在线调解平台",
        "now": _now(),
    }
    return sign_pdf(pdf, **{**arguments, **overrides})


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    folder = tmp_path_factory.mktemp("pki")
    ca = PlatformCA.load_or_create(folder, _now())
    tsa = TimestampAuthority.load_or_create(folder, ca, lambda: datetime.now(UTC))
    return Platform(ca, tsa, folder)


@pytest.fixture(scope="module")
def signed(platform: Platform) -> Signed:
    unsigned, boxes = build_agreement()
    prepared = prepare_signature_fields(unsigned, boxes)
    before = datetime.now(UTC)
    steps: list[bytes] = []
    pdf = prepared
    for box in boxes:
        pdf = sign_as(platform, pdf, box)
        steps.append(pdf)
    return Signed(unsigned, prepared, steps, boxes, before, datetime.now(UTC))


@pytest.fixture(scope="module")
def report(platform: Platform, signed: Signed) -> Report:
    return verify_pdf(signed.final, [platform.ca.certificate])


# -- an NSS database trusting the platform CA, made by NSS itself ---------------------------------

_NSS_IMPORT = r"""
import ctypes, sys

class SECItem(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("data", ctypes.c_void_p), ("len", ctypes.c_uint)]

class CERTCertTrust(ctypes.Structure):
    _fields_ = [("sslFlags", ctypes.c_uint), ("emailFlags", ctypes.c_uint), ("objectSigningFlags", ctypes.c_uint)]

nss = ctypes.CDLL("libnss3.so")
P = ctypes.c_void_p
for name, res, args in [
    ("NSS_InitReadWrite", ctypes.c_int, [ctypes.c_char_p]),
    ("PK11_GetInternalKeySlot", P, []),
    ("PK11_NeedUserInit", ctypes.c_int, [P]),
    ("PK11_InitPin", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p]),
    ("CERT_GetDefaultCertDB", P, []),
    ("CERT_NewTempCertificate", P, [P, ctypes.POINTER(SECItem), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
    ("PK11_ImportCert", ctypes.c_int, [P, P, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]),
    ("CERT_DecodeTrustString", ctypes.c_int, [ctypes.POINTER(CERTCertTrust), ctypes.c_char_p]),
    ("CERT_ChangeCertTrust", ctypes.c_int, [P, P, ctypes.POINTER(CERTCertTrust)]),
    ("CERT_DestroyCertificate", None, [P]),
    ("PK11_FreeSlot", None, [P]),
    ("NSS_Shutdown", ctypes.c_int, []),
]:
    fn = getattr(nss, name)
    fn.restype, fn.argtypes = res, args

directory = sys.argv[1]
assert nss.NSS_InitReadWrite(b"sql:" + directory.encode()) == 0, "NSS_InitReadWrite"
slot = nss.PK11_GetInternalKeySlot()
if nss.PK11_NeedUserInit(slot):  # certutil -N --empty-password
    assert nss.PK11_InitPin(slot, b"", b"") == 0, "PK11_InitPin"
if len(sys.argv) == 2:  # an empty database
    nss.PK11_FreeSlot(slot)
    assert nss.NSS_Shutdown() == 0, "NSS_Shutdown"
    sys.exit(0)
der_path, nickname = sys.argv[2], sys.argv[3]
der = open(der_path, "rb").read()
buffer = ctypes.create_string_buffer(der, len(der))
item = SECItem(0, ctypes.cast(buffer, ctypes.c_void_p), len(der))
cert = nss.CERT_NewTempCertificate(nss.CERT_GetDefaultCertDB(), ctypes.byref(item), None, 0, 1)
assert cert, "CERT_NewTempCertificate"
assert nss.PK11_ImportCert(slot, cert, 0, nickname.encode(), 0) == 0, "PK11_ImportCert"
trust = CERTCertTrust()
assert nss.CERT_DecodeTrustString(ctypes.byref(trust), b"CT,C,C") == 0, "CERT_DecodeTrustString"
assert nss.CERT_ChangeCertTrust(nss.CERT_GetDefaultCertDB(), cert, ctypes.byref(trust)) == 0, "CERT_ChangeCertTrust"
nss.CERT_DestroyCertificate(cert)
nss.PK11_FreeSlot(slot)
assert nss.NSS_Shutdown() == 0, "NSS_Shutdown"
"""


def make_nss_db(folder: Path, ca: x509.Certificate | None) -> Path:
    """An NSS database (cert9.db) in ``folder``, empty or with ``ca`` as a trusted CA (``certutil -A -t CT,C,C``)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder.parent / "nss_import.py"
    script.write_text(_NSS_IMPORT)
    args = [sys.executable, str(script), str(folder)]
    if ca is not None:
        der = folder.parent / "trusted-ca.der"
        der.write_bytes(ca.public_bytes(serialization.Encoding.DER))
        args += [str(der), "platform-ca"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (folder / "cert9.db").is_file()
    return folder


@pytest.fixture(scope="module")
def nss_dir(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NSS database trusting the platform CA."""
    return make_nss_db(tmp_path_factory.mktemp("nss") / "db", platform.ca.certificate)


def pdfsig(path: Path, nss: Path | None = None) -> list[dict[str, str]]:
    """``pdfsig``'s report, one dict per signature (its "- Key: value" lines, plus "coverage")."""
    args = ["pdfsig"] + (["-nssdir", str(nss)] if nss is not None else ["-nocert"]) + [str(path)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    signatures: list[dict[str, str]] = []
    for line in out.splitlines():
        if re.match(r"^Signature #\d+:", line):
            signatures.append({})
        elif signatures and "The signature form field is not signed." in line:
            signatures[-1]["unsigned"] = "yes"
        elif signatures and line.strip().startswith("- "):
            text = line.strip()[2:]
            if text in ("Total document signed", "Not total document signed"):
                signatures[-1]["coverage"] = text
            else:
                key, _, value = text.partition(": ")
                signatures[-1][key] = value
                signatures[-1][key + " line"] = text
    return signatures


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- three signatures in order ---------------------------------------------------------------------


def test_three_signatures_verify_with_pyhanko(signed: Signed, report: Report) -> None:
    assert report.ok, report.reasons
    assert [s.field_name for s in report.signatures] == [b.field_name for b in signed.boxes]
    # revision 0 is the agreement, 1 the prepared fields, then one revision per signature
    assert report.revisions == 5
    assert [s.revision for s in report.signatures] == [2, 3, 4]
    for check, box in zip(report.signatures, signed.boxes, strict=True):
        name, _ = SIGNERS[box.signer_id]
        assert check.intact and check.valid and check.chain_ok and check.timestamp_ok and check.lock_ok
        assert check.signer_name == name
        assert check.case_number == CASE
        assert check.signer_pseudonym == pseudonym(f"participant-{box.signer_id}")
        assert check.timestamp_time is not None and signed.before <= check.timestamp_time <= signed.after
        assert check.signing_time is not None and abs(check.signing_time - check.timestamp_time) < timedelta(minutes=1)
        assert check.timestamp_authority is not None and "时间戳服务" in check.timestamp_authority
    assert [s.covers_whole_file for s in report.signatures] == [False, False, True]
    assert [s.modification_level for s in report.signatures] == ["further signatures", "further signatures", "none"]


def test_each_signature_is_an_incremental_update(signed: Signed, platform: Platform) -> None:
    chain = [signed.unsigned, signed.prepared, *signed.steps]
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later.startswith(earlier) and len(later) > len(earlier)
    after_first = verify_pdf(signed.steps[0], [platform.ca.certificate])
    assert after_first.ok, after_first.reasons
    assert [s.covers_whole_file for s in after_first.signatures] == [True]


def test_pdfsig_validates_every_signature_and_trusts_the_platform_ca(
    signed: Signed, nss_dir: Path, tmp_path: Path
) -> None:
    path = write(tmp_path, "signed.pdf", signed.final)
    found = pdfsig(path, nss_dir)
    assert [s["Signature Field Name"] for s in found] == [b.field_name for b in signed.boxes]
    for entry, box in zip(found, signed.boxes, strict=True):
        assert entry["Signature Validation line"] == VALID, entry
        assert entry["Certificate Validation line"] == TRUSTED, entry
        assert entry["Signer Certificate Common Name"] == SIGNERS[box.signer_id][0]
        assert entry["Signature Type"] == "ETSI.CAdES.detached"
        assert entry["Signing Hash Algorithm"] == "SHA-256"
    assert [e["coverage"] for e in found] == ["Not total document signed"] * 2 + ["Total document signed"]


def test_pdfsig_without_the_platform_ca_does_not_trust_it(signed: Signed, tmp_path: Path) -> None:
    empty = make_nss_db(tmp_path / "empty-nssdb", None)
    found = pdfsig(write(tmp_path, "signed.pdf", signed.final), empty)
    assert len(found) == 3
    for entry in found:
        assert entry["Signature Validation line"] == VALID
        assert entry["Certificate Validation line"] != TRUSTED


def test_pdftotext_still_reads_the_agreement(signed: Signed, tmp_path: Path) -> None:
    path = write(tmp_path, "signed.pdf", signed.final)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    assert TITLE in flat and CASE in flat
    assert re.sub(r"\s+", "", CLAUSE) in flat
    pages = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", pages, re.M)


def test_event_certificates_name_the_signer_and_nothing_more(signed: Signed, platform: Platform) -> None:
    ca = platform.ca.certificate
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    seen_keys = set()
    for step, box in zip(signed.steps, signed.boxes, strict=True):
        report = verify_pdf(step, [ca])
        check = report.signature(box.field_name)
        assert check.ok, check.reason
    # read the certificates back out of the final file with asn1crypto, independently of pyHanko
    contents = re.findall(rb"/Contents <([0-9a-fA-F]+)>", signed.final)
    assert len(contents) == 3
    for hex_der, box in zip(contents, signed.boxes, strict=True):
        signed_data = cms.ContentInfo.load(bytes.fromhex(hex_der.decode()).rstrip(b"\0"))["content"]
        certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"]]
        leaf = next(c for c in certs if c.subject != ca.subject)
        name, role = SIGNERS[box.signer_id]
        subject = {a.oid: a.value for a in leaf.subject}
        assert subject[NameOID.COMMON_NAME] == name
        assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == CASE
        assert subject[NameOID.TITLE] == role
        assert subject[NameOID.SERIAL_NUMBER] == pseudonym(f"participant-{box.signer_id}")
        assert f"participant-{box.signer_id}".encode() not in leaf.public_bytes(serialization.Encoding.DER)
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
        assert not usage.value.key_cert_sign
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(minutes=70)
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == ca_ski
        leaf.verify_directly_issued_by(ca)
        seen_keys.add(
            leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    assert len(seen_keys) == 3  # a fresh key for every signature


# -- tampering ------------------------------------------------------------------------------------


def test_a_byte_changed_inside_a_signed_range_breaks_that_signature_and_the_later_ones(
    signed: Signed, platform: Platform, nss_dir: Path, tmp_path: Path
) -> None:
    data = bytearray(signed.final)
    # the claimed signing time (/M) in the respondent's signature dictionary: inside its signed byte range
    # and the mediator's, outside the applicant's
    marks = [m.end() for m in re.finditer(rb"/M \(D\\072\d{12}", data)]
    assert len(marks) == 3
    position = marks[1]  # the seconds digit of the second signature's /M
    data[position] = ord("1") if data[position] != ord("1") else ord("2")
    tampered = bytes(data)

    report = verify_pdf(tampered, [platform.ca.certificate])
    assert not report.ok
    applicant, respondent, mediator = report.signatures
    assert applicant.ok, applicant.reason
    assert not respondent.intact and not mediator.intact
    reasons = report.reasons
    assert len(reasons) == 2
    assert reasons[0].startswith('Signature "Signature_respondent": ') and "digest mismatch" in reasons[0]
    assert reasons[1].startswith('Signature "Signature_mediator": ') and "digest mismatch" in reasons[1]

    found = pdfsig(write(tmp_path, "tampered.pdf", tampered), nss_dir)
    assert [e["Signature Validation"] for e in found] == ["Signature is Valid.", "Digest Mismatch.", "Digest Mismatch."]


def _append(pdf: bytes, change: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if change == "title":
        info_ref = writer.trailer.raw_get("/Info")
        info = info_ref.get_object()
        info[pdf_name("/Title")] = pdf_string("调解协议书（修改版）")
        writer.mark_update(info_ref)
    else:
        page_ref = writer.find_page_for_modification(1)[0]
        note = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Text"),
                pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (100, 100, 120, 120)]),
                pdf_name("/Contents"): pdf_string("赔偿款改为 8,640.00 元"),
            }
        )
        writer.register_annotation(page_ref, writer.add_object(note))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("change", ["title", "annotation"])
def test_an_update_appended_after_the_last_signature_is_reported(
    signed: Signed, platform: Platform, nss_dir: Path, tmp_path: Path, change: str
) -> None:
    modified = _append(signed.final, change)
    assert modified.startswith(signed.final)
    report = verify_pdf(modified, [platform.ca.certificate])
    assert not report.ok
    assert report.revisions == 6
    for check in report.signatures:
        assert (
            check.intact and check.valid and check.chain_ok and check.timestamp_ok
        )  # the bytes they signed are intact
        assert check.unsigned_revisions_after == (5,)
        assert not check.lock_ok
    last = report.signatures[-1]
    assert last.reason.startswith('Signature "Signature_mediator": ')
    assert "modified after the last signature (revision 5)" in last.reason
    assert all("modified after signing (revision 5)" in c.reason for c in report.signatures[:-1])
    if change == "annotation":  # pyHanko's difference analysis sees what kind of change it was
        assert all("modified after signing: changes to the content or structure" in c.reason for c in report.signatures)

    # pdfsig checks each signature's byte range only: all still "valid", none covering the whole file
    found = pdfsig(write(tmp_path, "modified.pdf", modified), nss_dir)
    assert [e["Signature Validation"] for e in found] == ["Signature is Valid."] * 3
    assert [e["coverage"] for e in found] == ["Not total document signed"] * 3


def test_a_certificate_from_another_ca_fails_the_chain(
    signed: Signed, platform: Platform, nss_dir: Path, tmp_path: Path
) -> None:
    impostor = PlatformCA.create(_now(), name="另一个平台")
    forged = sign_as(platform, signed.prepared, signed.boxes[0], ca=impostor)
    report = verify_pdf(forged, [platform.ca.certificate])
    assert not report.ok
    (check,) = report.signatures
    assert check.intact and check.valid and check.timestamp_ok
    assert not check.chain_ok
    assert check.reason.startswith('Signature "Signature_applicant": ')
    assert "does not chain to a trusted CA" in check.reason
    # the same document checks out against the impostor's CA: the failure is the chain, nothing else
    assert verify_pdf(forged, [impostor.certificate]).signatures[0].chain_ok is True

    entry, *empty = pdfsig(write(tmp_path, "forged.pdf", forged), nss_dir)
    assert [e.get("unsigned") for e in empty] == ["yes", "yes"]  # the two prepared fields still to be signed
    assert entry["Signature Validation line"] == VALID
    assert entry["Certificate Validation line"] != TRUSTED


def test_a_chain_is_judged_at_the_time_stamp_not_today(signed: Signed, platform: Platform) -> None:
    """Signed with clocks two days back, the event certificate has long expired; it was valid when stamped."""
    frozen = datetime.now(UTC) - timedelta(days=2)
    ca = PlatformCA.create(frozen - timedelta(days=1))
    tsa_key = PlatformCA.create(frozen).key
    tsa = TimestampAuthority(tsa_key, ca.issue_tsa(tsa_key.public_key(), frozen), [ca.certificate], lambda: frozen)
    box = signed.boxes[0]
    name, role = SIGNERS[box.signer_id]
    old = sign_as(
        platform,
        signed.prepared,
        box,
        signer=SignerIdentity("p", name, CASE, role),
        ca=ca,
        timestamper=InProcessTimeStamper(tsa),
        mark_png=None,
        reason="同意",
        now=frozen.astimezone(BEIJING),
    )
    (check,) = verify_pdf(old, [ca.certificate]).signatures
    assert check.ok, check.reason
    assert check.timestamp_time == frozen


def test_refusals(signed: Signed, platform: Platform) -> None:
    applicant, respondent, mediator = signed.boxes
    with pytest.raises(SigningRefused, match='"Signature_applicant" is already signed'):
        sign_as(platform, signed.steps[0], applicant)
    with pytest.raises(SigningRefused, match='locked by the signature in field "Signature_mediator"'):
        sign_as(platform, signed.final, applicant)
    lone = SignatureBox("witness", "见证人", 1, (300.0, 100.0, 500.0, 180.0))
    with pytest.raises(SigningRefused, match="allows no new fields"):
        sign_as(platform, signed.steps[0], lone, signer=SignerIdentity("w", "赵六", CASE), mark_png=None)
    with pytest.raises(SigningRefused, match="no page 7"):
        sign_as(platform, signed.unsigned, SignatureBox("applicant", "x", 7, applicant.box))
    with pytest.raises(SigningRefused, match="outside page"):
        sign_as(platform, signed.unsigned, SignatureBox("applicant", "x", 0, (500.0, 700.0, 900.0, 800.0)))
    with pytest.raises(SigningRefused, match="not a PDF"):
        sign_as(platform, b"%PDF-1.7\nnot really", applicant)
    assert verify_pdf(b"not a pdf", [platform.ca.certificate]).problems
    unsigned = verify_pdf(signed.unsigned, [platform.ca.certificate])
    assert not unsigned.ok and unsigned.reasons == ["the document has no signature"]


def test_a_field_can_also_be_created_by_the_first_signature(platform: Platform, signed: Signed) -> None:
    first = sign_as(platform, signed.unsigned, signed.boxes[0])
    report = verify_pdf(first, [platform.ca.certificate])
    assert report.ok, report.reasons
    assert [s.revision for s in report.signatures] == [1]


def test_an_unreadable_mark_is_refused(platform: Platform, signed: Signed) -> None:
    box = signed.boxes[0]
    for mark in (b"\x89PNG\r\n\x1a\n broken", b"not an image"):
        with pytest.raises(SigningRefused, match="mark is not a readable image"):
            sign_as(platform, signed.prepared, box, mark_png=mark)


def test_a_certifying_first_signature_keeps_later_signatures_valid(platform: Platform, signed: Signed) -> None:
    """``certify=True`` (off by default): the first signature is the author's, DocMDP "fill in and sign"."""
    pdf = signed.prepared
    for i, box in enumerate(signed.boxes):
        pdf = sign_as(platform, pdf, box, mark_png=None, certify=i == 0)
    assert b"/DocMDP" in pdf
    report = verify_pdf(pdf, [platform.ca.certificate])
    assert report.ok, report.reasons
    with pytest.raises(SigningRefused, match="first signature"):
        sign_as(platform, signed.steps[0], signed.boxes[1], page=1, mark_png=None, certify=True)


# -- the time-stamp authority ------------------------------------------------------------------------


def _request(
    data: bytes = b"agreement",
    *,
    nonce: int | None = 0x1234_5678_9ABC,
    cert_req: bool = True,
    algorithm: str = "sha256",
    digest: bytes | None = None,
    policy: str | None = None,
) -> bytes:
    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": digest if digest is not None else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    return bytes(tsp.TimeStampReq(fields).dump())


def _status(response: bytes) -> dict[str, Any]:
    return dict(TimeStampResponse.load(response)["status"].native)


def test_a_time_stamp_token_is_verifiable_on_its_own(platform: Platform, tmp_path: Path) -> None:
    response = platform.tsa.respond(_request(b"agreement"))
    assert _status(response)["status"] == "granted"
    token = TimeStampResponse.load(response)["time_stamp_token"].dump()
    info = check_token(token, b"agreement", platform.tsa.cert)
    assert info.policy == POLICY_OID and info.nonce == 0x1234_5678_9ABC
    assert abs(info.gen_time - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(TimestampError, match="imprint"):
        check_token(token, b"another agreement", platform.tsa.cert)
    other = PlatformCA.create(_now()).issue_signer(SignerIdentity("x", "x", CASE), _now()).certificate
    with pytest.raises(TimestampError, match="signature"):
        check_token(token, b"agreement", other)

    # OpenSSL agrees: imprint, TSA signature, ESS signing-certificate-v2 and the chain to the platform CA
    (tmp_path / "data").write_bytes(b"agreement")
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "ca.pem").write_bytes(platform.ca.certificate.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "data", "-in", "token.der", "-token_in", "-CAfile", "ca.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr
    (tmp_path / "data").write_bytes(b"changed")
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "data", "-in", "token.der", "-token_in", "-CAfile", "ca.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0


def test_openssl_as_the_client(platform: Platform, tmp_path: Path) -> None:
    """OpenSSL makes the request (SHA-256, nonce, certReq), our TSA answers, OpenSSL verifies the reply."""

    def openssl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", "ts", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    (tmp_path / "data").write_bytes(b"agreement")
    (tmp_path / "ca.pem").write_bytes(platform.ca.certificate.public_bytes(serialization.Encoding.PEM))
    assert openssl("-query", "-data", "data", "-sha256", "-cert", "-out", "request.tsq").returncode == 0
    (tmp_path / "reply.tsr").write_bytes(platform.tsa.respond((tmp_path / "request.tsq").read_bytes()))
    text = openssl("-reply", "-in", "reply.tsr", "-text").stdout
    assert "Status: Granted." in text and f"Policy OID: {POLICY_OID}" in text
    done = openssl("-verify", "-queryfile", "request.tsq", "-in", "reply.tsr", "-CAfile", "ca.pem")
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (b"", "bad_data_format"),
        (b"garbage", "bad_data_format"),
        (b"\x30\x03\x02\x01", "bad_data_format"),  # truncated DER
        (_request()[:-3], "bad_data_format"),
        (_request() + b"\x00", "bad_data_format"),  # trailing bytes
        (_request(algorithm="sha1"), "bad_alg"),
        (_request(algorithm="md5"), "bad_alg"),
        (_request(digest=b"\x01" * 20), "bad_data_format"),  # SHA-256 named, 20 bytes given
        (_request(policy="1.2.3.4"), "unaccepted_policy"),
        (b"\x02\x01\x05", "bad_data_format"),  # an INTEGER, not a request
    ],
)
def test_a_malformed_request_gets_a_rejection_not_an_exception(
    platform: Platform, request_der: bytes, fail_info: str, tmp_path: Path
) -> None:
    response = platform.tsa.respond(request_der)
    status = _status(response)
    assert status["status"] == "rejection"  # PKIStatus 2
    assert status["fail_info"] == {fail_info}
    assert status["status_string"]
    assert TimeStampResponse.load(response)["time_stamp_token"].native is None
    assert response[:1] == b"\x30" and response.count(b"\x02\x01\x02") >= 1  # status INTEGER 2
    # OpenSSL reads it as a rejection too
    (tmp_path / "resp.der").write_bytes(response)
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", "resp.der", "-text"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert "Status: Rejected." in text


def test_a_request_with_extensions_or_the_right_policy(platform: Platform) -> None:
    request = tsp.TimeStampReq.load(_request())
    request["extensions"] = [{"extn_id": "1.2.3.4.5", "critical": False, "extn_value": b"\x05\x00"}]
    assert _status(platform.tsa.respond(request.dump()))["fail_info"] == {"unaccepted_extensions"}
    assert _status(platform.tsa.respond(_request(policy=POLICY_OID)))["status"] == "granted"


def test_nonce_echoed_serials_unique_cert_req_honoured(platform: Platform) -> None:
    serials = set()
    for i in range(200):
        response = platform.tsa.respond(_request(nonce=i + 1))
        token = TimeStampResponse.load(response)["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        assert info["nonce"].native == i + 1
        serials.add(info["serial_number"].native)
    assert len(serials) == 200
    without = TimeStampResponse.load(platform.tsa.respond(_request(nonce=None, cert_req=False)))["time_stamp_token"]
    assert without["content"]["certificates"].native is None
    assert without["content"]["encap_content_info"]["content"].parsed["nonce"].native is None
    with_certs = TimeStampResponse.load(platform.tsa.respond(_request(cert_req=True)))["time_stamp_token"]
    embedded = {c.chosen.dump() for c in with_certs["content"]["certificates"]}
    assert embedded == {
        c.public_bytes(serialization.Encoding.DER) for c in (platform.tsa.cert, platform.ca.certificate)
    }


def test_tsa_certificate(platform: Platform) -> None:
    cert = platform.tsa.cert
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    cert.verify_directly_issued_by(platform.ca.certificate)
    with pytest.raises(CAError, match="extended key usage"):
        event = platform.ca.issue_signer(SignerIdentity("x", "x", CASE), _now())
        TimestampAuthority(event.key, event.certificate, [], lambda: datetime.now(UTC))


class _StubbornTimeStamper(TimeStamper):
    """A time-stamper whose TSA refuses everything (a real TSA response: a rejection)."""

    def __init__(self, authority: TimestampAuthority) -> None:
        super().__init__()
        self.authority = authority

    async def async_request_tsa_response(self, req: Any) -> Any:
        req["message_imprint"]["hash_algorithm"] = algos.DigestAlgorithm({"algorithm": "md5"})
        return await InProcessTimeStamper(self.authority).async_request_tsa_response(req)


def test_a_refused_time_stamp_fails_the_signature(platform: Platform, signed: Signed) -> None:
    box = signed.boxes[0]
    with pytest.raises(TimestampError, match="refused"):
        sign_as(platform, signed.prepared, box, timestamper=_StubbornTimeStamper(platform.tsa), mark_png=None)


@pytest.mark.asyncio
async def test_pyhankos_http_timestamper_accepts_the_responses(platform: Platform, signed: Signed) -> None:
    """What the server will expose as ``POST /tsa``, over real HTTP, asked by pyHanko's own HTTP client."""
    seen: list[str] = []

    async def tsa_endpoint(request: web.Request) -> web.Response:
        seen.append(request.content_type)
        body = await request.read()
        return web.Response(body=platform.tsa.respond(body), content_type="application/timestamp-reply")

    app = web.Application()
    app.router.add_post("/tsa", tsa_endpoint)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            stamper = HTTPTimeStamper(str(server.make_url("/tsa")), session=session)
            digest = hashlib.sha256(b"agreement").digest()
            token = await stamper.async_timestamp(digest, "sha256")
            check_token(token.dump(), b"agreement", platform.tsa.cert)
            # a refusal travels as RFC 3161 has it (no token); pyHanko's client fails on it with asn1crypto's
            # ValueError rather than its own TimestampRequestError (an OSError): either way, no token
            with pytest.raises((ValueError, OSError)):
                await stamper.async_timestamp(b"\x01" * 20, "sha256")
            box = signed.boxes[0]
            name, role = SIGNERS[box.signer_id]
            pdf = await async_sign_pdf(
                signed.prepared,
                field_name=box.field_name,
                page=box.page,
                box=box.box,
                signer=SignerIdentity("p", name, CASE, role),
                ca=platform.ca,
                timestamper=stamper,
                mark_png=scribble(),
                reason="同意",
                location="在线调解平台",
                now=_now(),
            )
    finally:
        await server.close()
    assert seen == ["application/timestamp-query"] * 3
    report = await asyncio.to_thread(verify_pdf, pdf, [platform.ca.certificate])
    assert report.ok, report.reasons


# -- keys and files ----------------------------------------------------------------------------------


def test_ca_and_tsa_files_are_private_and_reloaded(platform: Platform, tmp_path: Path) -> None:
    for name in (CA_KEY_FILE, CA_CERT_FILE, "tsa.key", "tsa.pem"):
        assert stat.S_IMODE((platform.folder / name).stat().st_mode) == 0o600, name
    again = PlatformCA.load_or_create(platform.folder, _now())
    assert again.certificate == platform.ca.certificate
    tsa = TimestampAuthority.load_or_create(platform.folder, again, lambda: datetime.now(UTC))
    assert tsa.cert == platform.tsa.cert
    configured = PlatformCA.load_or_create(
        tmp_path, _now(), key_path=platform.folder / CA_KEY_FILE, cert_path=platform.folder / CA_CERT_FILE
    )
    assert configured.certificate == platform.ca.certificate and not (tmp_path / CA_KEY_FILE).exists()

    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(platform.folder / CA_KEY_FILE, half / CA_KEY_FILE)
    with pytest.raises(CAError, match="Only one of"):
        PlatformCA.load_or_create(half, _now())
    other = PlatformCA.create(_now())
    with pytest.raises(CAError, match="not issued by the platform CA"):
        TimestampAuthority.load_or_create(platform.folder, other, lambda: datetime.now(UTC))
    with pytest.raises(CAError, match="does not belong"):
        PlatformCA(other.key, platform.ca.certificate)


def test_signing_certificate_attribute_matches_pyhanko(platform: Platform) -> None:
    """The hand-encoded signing-certificate-v2 attribute is byte for byte what pyHanko builds."""
    for i in range(20):
        cert = platform.ca.issue_signer(SignerIdentity(f"p{i}", "张三" * (i + 1), CASE), _now()).certificate
        ours = signing_certificate_v2_attribute(cert)
        theirs = simple_cms_attribute(
            "signing_certificate_v2",
            as_signing_certificate_v2(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))),
        ).dump()
        assert ours == theirs
    long_name = platform.ca.issue_signer(SignerIdentity("p", "名" * 100, "案" * 100), _now()).certificate
    cn = long_name.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "名" * 20 + "…"  # 63 bytes of UTF-8
    assert long_name.subject.get_attributes_for_oid(NAME_OID)[0].value == "名" * 100
    ou = long_name.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "案" * 63 + "…"


def test_e_sign_imports_no_edge(tmp_path: Path) -> None:
    """``e_sign`` is a library the server calls: it imports neither the HTTP edge nor the live rooms."""
    import grimp

    graph = grimp.build_graph("e_sign", "server", "rooms", "signaling", "recording", "web", cache_dir=None)
    for edge in ("server.api", "server.app", "server.cli", "rooms", "signaling", "web"):
        assert not graph.chain_exists(importer="e_sign", imported=edge, as_packages=True), edge
