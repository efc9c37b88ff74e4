"""The signing core behind HTTP and the CLI: the public CA certificate, the RFC 3161 endpoint
(checked with OpenSSL), verification reports of an uploaded PDF and of a stored case document,
and `mediation signatures verify` — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from e_sign.pades import prepare_signature_fields
from e_sign.tsa import InProcessTimeStamper
from server.signing.endpoints import SIGNING
from tests.builders import case_with_parties
from tests.conftest import Api
from tests.pdfs import Platform, build_agreement, require_pdf_tools, sign_as

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio


def signed_by(api: Api) -> tuple[bytes, list[str]]:
    """A three-signature agreement signed with the running server's own CA and TSA."""
    keys = api.app[SIGNING]
    platform = Platform(keys.ca, keys.tsa, Path("."))
    assert isinstance(platform.stamper, InProcessTimeStamper)
    unsigned, boxes = build_agreement()
    pdf = prepare_signature_fields(unsigned, boxes)
    for box in boxes:
        pdf = sign_as(platform, pdf, box, now=api.clock())  # the server's clock stamps it
    return pdf, [b.field_name for b in boxes]


async def test_the_ca_certificate_and_the_timestamp_authority(api: Api, tmp_path: Path) -> None:
    status, pem, resp = await api.call("GET", "/api/v1/signing/ca")
    assert status == 200 and resp.content_type == "application/x-pem-file"
    ca = x509.load_pem_x509_certificate(pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # an RFC 3161 request made by OpenSSL, answered over HTTP, read back by OpenSSL
    (tmp_path / "data.txt").write_text("调解协议书")
    query = tmp_path / "q.tsq"
    subprocess.run(
        ["openssl", "ts", "-query", "-data", str(tmp_path / "data.txt"), "-sha256", "-cert", "-out", str(query)],
        check=True,
        capture_output=True,
    )
    status, reply, resp = await api.call(
        "POST", "/api/v1/tsa", data=query.read_bytes(), headers={"Content-Type": "application/timestamp-query"}
    )
    assert status == 200 and resp.content_type == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(reply)
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-text"], capture_output=True, check=True
    ).stdout.decode()
    assert "Status: Granted." in text
    (tmp_path / "ca.pem").write_bytes(pem)
    verified = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-queryfile",
            str(query),
            "-in",
            str(tmp_path / "r.tsr"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-untrusted",
            str(tmp_path / "ca.pem"),
        ],
        capture_output=True,
    )
    assert b"Verification: OK" in verified.stdout, verified.stderr
    # garbage gets an RFC rejection, not an error page; a wrong media type gets a problem
    status, reply, _ = await api.call(
        "POST", "/api/v1/tsa", data=b"\x30\x03junk", headers={"Content-Type": "application/timestamp-query"}
    )
    (tmp_path / "bad.tsr").write_bytes(reply)
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", str(tmp_path / "bad.tsr"), "-text"], capture_output=True
    ).stdout.decode()
    assert status == 200 and "Rejected" in text
    status, body, _ = await api.call("POST", "/api/v1/tsa", data=b"x", headers={"Content-Type": "text/plain"})
    assert (status, body["code"]) == (415, "unsupported_media_type")


async def test_reports_for_an_upload_and_a_stored_document_and_the_cli(api: Api, tmp_path: Path) -> None:
    pdf, fields = await asyncio.to_thread(signed_by, api)  # pyHanko runs its own loop
    c = await case_with_parties(api)
    pdf_type = {"Content-Type": "application/pdf"}
    status, body, _ = await api.call("POST", "/api/v1/signatures/verify", data=pdf, headers=pdf_type)
    assert status == 401
    status, report, _ = await api.call("POST", "/api/v1/signatures/verify", c["applicant"], data=pdf, headers=pdf_type)
    assert status == 200 and report["ok"], report
    assert [s["field"] for s in report["signatures"]] == fields
    assert all(s["chain_ok"] and s["timestamp_ok"] and s["intact"] for s in report["signatures"])
    # a byte changed inside the first signed range: that signature, and every later one, is named
    tampered = bytearray(pdf)
    at = tampered.index(b"86,400.00") if b"86,400.00" in tampered else len(tampered) // 3
    tampered[at + 1] ^= 0x01
    status, report, _ = await api.call(
        "POST", "/api/v1/signatures/verify", c["applicant"], data=bytes(tampered), headers=pdf_type
    )
    assert status == 200 and not report["ok"] and report["reasons"]
    assert any(fields[0] in line for line in report["reasons"]) or report["problems"]
    # stored on the case: parties verify it where it lies; a stranger cannot see it
    cid = c["case_id"]
    status, doc, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/documents?kind=evidence&title=signed&visibility=parties",
        c["mediator"],
        data=pdf,
        headers=pdf_type,
    )
    assert status == 201, doc
    status, report, _ = await api.call("GET", f"/api/v1/cases/{cid}/documents/{doc['id']}/signatures", c["respondent"])
    assert status == 200 and report["ok"]
    other = await case_with_parties(api)
    status, _, _ = await api.call("GET", f"/api/v1/cases/{cid}/documents/{doc['id']}/signatures", other["applicant"])
    assert status == 404
    # the CLI, with the server's data folder: the same CA, the same verdicts
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(pdf)
    bad.write_bytes(bytes(tampered))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env["MEDIATION_DATA_DIR"] = str(api.settings.data_dir)
    cli = [sys.executable, "-m", "server.cli", "signatures", "verify"]
    ok = subprocess.run([*cli, str(good)], env=env, capture_output=True, timeout=120)
    assert ok.returncode == 0 and b"every signature holds" in ok.stdout, ok.stderr
    fail = subprocess.run([*cli, str(bad)], env=env, capture_output=True, timeout=120)
    assert fail.returncode == 1 and b"INVALID" in fail.stdout
