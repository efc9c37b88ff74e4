"""PDFs for the signing, service and confirmation tests, and independent readers of the PDFs the platform
makes.

- the world of a signed agreement: the platform's CA and TSA (:class:`Platform`), a two-page sample agreement
  with three signature blocks (:func:`build_agreement`), each signer signing it (:func:`sign_as`);
- poppler's readers, which share no code with ours: :func:`pdf_text` (``pdftotext``) and :func:`pdfsig`
  (``pdfsig``, judging trust from an NSS database that :func:`make_nss_db` builds without ``certutil``);
- :func:`require_pdf_tools`, called at the top of each test module that needs these tools: without them the
  module skips on a developer's machine and fails in CI (``CI`` set).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image, ImageDraw

from e_sign.ca import PlatformCA, SignerIdentity
from e_sign.pades import sign_pdf
from e_sign.tsa import InProcessTimeStamper, TimestampAuthority
from server.documents.fonts import FontMissing, find_fonts
from server.documents.pdf import DocumentBuilder, SignatureBox

# the sample agreement
BEIJING = timezone(timedelta(hours=8))
CASE = "（2026）京0105民调88号"
TITLE = "调解协议书"
CLAUSE = "被申请人于本协议生效之日起十五日内向申请人支付赔偿款共计人民币 86,400.00 元。"
SIGNERS = {  # signer id -> (display name, role), in signing order: the parties, then the mediator
    "applicant": ("张三", "申请人"),
    "respondent": ("中国人民财产保险股份有限公司北京市分公司", "被申请人"),
    "mediator": ("王五", "调解员"),
}


def missing_pdf_tools() -> str | None:
    """What keeps the PDF checks from running here (poppler-utils, OpenSSL, the CJK fonts), or ``None``."""
    missing = [tool for tool in ("pdfsig", "pdftotext", "openssl") if shutil.which(tool) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (poppler-utils, openssl)"
    try:
        find_fonts()
    except FontMissing as exc:
        return str(exc)
    return None


def require_pdf_tools() -> None:
    """Skip the calling test module without the tools (fail it in CI); call it at module level."""
    missing = missing_pdf_tools()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing, allow_module_level=True)


def beijing_now() -> datetime:
    """Now, on the wall clock of the agreements' signers."""
    return datetime.now(BEIJING)


@dataclass
class Platform:
    ca: PlatformCA
    tsa: TimestampAuthority
    folder: Path

    @property
    def stamper(self) -> InProcessTimeStamper:
        return InProcessTimeStamper(self.tsa)


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
    with DocumentBuilder(TITLE, created_at=beijing_now(), case_number=CASE, subtitle="机动车交通事故责任纠纷") as b:
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
        "now": beijing_now(),
    }
    return sign_pdf(pdf, **{**arguments, **overrides})


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


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it (an independent reader)."""
    import subprocess

    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode()
