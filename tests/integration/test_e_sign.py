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
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from e_sign.pades import async_sign_pdf, prepare_signature_fields
from e_sign.tsa import (
    POLICY_OID,
    InProcessTimeStamper,
    TimestampAuthority,
    TimeStampResponse,
    check_token,
)
from e_sign.verify import Report, verify_pdf
from server.documents.pdf import SignatureBox
from tests.pdfs import (
    BEIJING,
    CASE,
    CLAUSE,
    SIGNERS,
    TITLE,
    Platform,
    beijing_now,
    build_agreement,
    make_nss_db,
    pdfsig,
    require_pdf_tools,
    scribble,
    sign_as,
)

VALID = "Signature Validation: Signature is Valid."
TRUSTED = "Certificate Validation: Certificate is Trusted."


require_pdf_tools()


# -- the world: CA, TSA, an agreement, its three signatures ------------------------------------------


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


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    folder = tmp_path_factory.mktemp("pki")
    ca = PlatformCA.load_or_create(folder, beijing_now())
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


@pytest.fixture(scope="module")
def nss_dir(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NSS database trusting the platform CA."""
    return make_nss_db(tmp_path_factory.mktemp("nss") / "db", platform.ca.certificate)


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
    impostor = PlatformCA.create(beijing_now(), name="另一个平台")
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
    other = PlatformCA.create(beijing_now()).issue_signer(SignerIdentity("x", "x", CASE), beijing_now()).certificate
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
        event = platform.ca.issue_signer(SignerIdentity("x", "x", CASE), beijing_now())
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
                now=beijing_now(),
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
    again = PlatformCA.load_or_create(platform.folder, beijing_now())
    assert again.certificate == platform.ca.certificate
    tsa = TimestampAuthority.load_or_create(platform.folder, again, lambda: datetime.now(UTC))
    assert tsa.cert == platform.tsa.cert
    configured = PlatformCA.load_or_create(
        tmp_path, beijing_now(), key_path=platform.folder / CA_KEY_FILE, cert_path=platform.folder / CA_CERT_FILE
    )
    assert configured.certificate == platform.ca.certificate and not (tmp_path / CA_KEY_FILE).exists()

    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(platform.folder / CA_KEY_FILE, half / CA_KEY_FILE)
    with pytest.raises(CAError, match="Only one of"):
        PlatformCA.load_or_create(half, beijing_now())
    other = PlatformCA.create(beijing_now())
    with pytest.raises(CAError, match="not issued by the platform CA"):
        TimestampAuthority.load_or_create(platform.folder, other, lambda: datetime.now(UTC))
    with pytest.raises(CAError, match="does not belong"):
        PlatformCA(other.key, platform.ca.certificate)


def test_signing_certificate_attribute_matches_pyhanko(platform: Platform) -> None:
    """The hand-encoded signing-certificate-v2 attribute is byte for byte what pyHanko builds."""
    for i in range(20):
        cert = platform.ca.issue_signer(SignerIdentity(f"p{i}", "张三" * (i + 1), CASE), beijing_now()).certificate
        ours = signing_certificate_v2_attribute(cert)
        theirs = simple_cms_attribute(
            "signing_certificate_v2",
            as_signing_certificate_v2(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))),
        ).dump()
        assert ours == theirs
    long_name = platform.ca.issue_signer(SignerIdentity("p", "名" * 100, "案" * 100), beijing_now()).certificate
    cn = long_name.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "名" * 20 + "…"  # 63 bytes of UTF-8
    assert long_name.subject.get_attributes_for_oid(NAME_OID)[0].value == "名" * 100
    ou = long_name.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "案" * 63 + "…"


def test_e_sign_imports_no_edge(tmp_path: Path) -> None:
    """``e_sign`` is a library the server calls: it imports neither the HTTP edge nor the live rooms."""
    import grimp

    graph = grimp.build_graph("e_sign", "server", "rooms", "signaling", "recording", "web", cache_dir=None)
    for edge in ("server.http", "server.endpoints", "server.app", "server.cli", "rooms", "signaling", "web"):
        assert not graph.chain_exists(importer="e_sign", imported=edge, as_packages=True), edge
